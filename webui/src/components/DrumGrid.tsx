import { useEffect, useState } from 'react';
import { stepAt } from '../audio/timing';
import { STEPS, TRACKS, type JamState, type Track } from '../session/protocol';
import { shownStep } from '../session/reducer';
import { useAppState, useJam } from '../app/context';

export const TRACK_LABELS: Record<Track, string> = { kick: 'Kick', snare: 'Snare', hihat: 'Hi-hat', clap: 'Clap' };

/** The grid column sounding now, from the anchor and the server clock; null when stopped. */
function usePlayingStep(state: JamState): number | null {
  const { serverNow } = useJam();
  const [step, setStep] = useState<number | null>(null);
  const { isPlaying, anchor, tempo } = state;

  useEffect(() => {
    if (!isPlaying) return;
    let raf = 0;
    let timer = 0;
    const frame = () => {
      setStep(stepAt({ anchor, tempo, isPlaying }, serverNow()));
      raf = requestAnimationFrame(frame);
    };
    frame();
    // rAF stops in background tabs; a slow timer keeps the state roughly right there.
    timer = window.setInterval(() => setStep(stepAt({ anchor, tempo, isPlaying }, serverNow())), 500);
    return () => {
      cancelAnimationFrame(raf);
      clearInterval(timer);
    };
  }, [isPlaying, anchor, tempo, serverNow]);

  // The last step seen while playing is kept in state, but a stopped grid shows none.
  return isPlaying ? step : null;
}

export function DrumGrid({ state }: { state: JamState }) {
  const { client } = useJam();
  const { queuedSteps } = useAppState();
  const playing = usePlayingStep(state);

  return (
    <section className="panel grid" aria-label="Drum pattern">
      <div className="grid-head">
        <h2>Pattern</h2>
        <button type="button" className="small" onClick={() => client.clearPattern()}>
          Clear pattern
        </button>
      </div>
      <div className="grid-cols" aria-hidden="true">
        <span />
        {TRACKS.map((t) => (
          <span key={t} className={`col-label ${t}`}>
            {TRACK_LABELS[t]}
          </span>
        ))}
      </div>
      {Array.from({ length: STEPS }, (_, i) => (
        <div
          key={i}
          role="group"
          aria-label={`Step ${i + 1}`}
          className={`grid-row${i % 4 === 0 ? ' beat' : ''}${playing === i ? ' playing' : ''}`}
          data-playing={playing === i ? 'true' : undefined}
        >
          <span className="step-no" aria-hidden="true">
            {i + 1}
          </span>
          {TRACKS.map((t) => {
            // A change waiting to be sent (offline) shows as made, so a second tap undoes it.
            const { on, pending } = shownStep(state.pattern, queuedSteps, t, i);
            return (
              <button
                key={t}
                type="button"
                className={`cell ${t}${on ? ' on' : ''}${pending ? ' pending' : ''}`}
                aria-label={`${TRACK_LABELS[t]} step ${i + 1}`}
                aria-pressed={on}
                data-pending={pending ? 'true' : undefined}
                onClick={() => client.setStep(t, i, !on)}
              />
            );
          })}
        </div>
      ))}
    </section>
  );
}
