import { useId, useSyncExternalStore } from 'react';
import { MAX_NUDGE_MS } from '../audio/settings';
import { useJam } from '../app/context';

const NUDGE_STEP_MS = 5;

/** How the timing nudge reads: "in time", "20 ms later", "150 ms earlier". */
export function nudgeLabel(ms: number): string {
  if (ms === 0) return 'in time';
  return `${Math.abs(ms)} ms ${ms > 0 ? 'later' : 'earlier'}`;
}

/** Per-device sound: on/off state of the audio engine, volume, mute, metronome click, timing. */
export function SoundPanel() {
  const { sound, engine } = useJam();
  const s = useSyncExternalStore(sound.subscribe, sound.get, sound.get);
  // The system can suspend the sound later (a call, the background): the button comes back then.
  const running = useSyncExternalStore(engine.subscribe, engine.isRunning, engine.isRunning);
  const latency = running ? engine.outputLatencyMs() : null;
  const volId = useId();
  const clickId = useId();

  return (
    <section className="panel sound" aria-label="Sound on this device">
      {!running && (
        <button type="button" className="primary wide" onClick={() => engine.unlock()}>
          Tap to turn sound on
        </button>
      )}
      <div className="sound-row">
        <button type="button" onClick={() => sound.set({ muted: !s.muted })}>
          {s.muted ? 'Unmute' : 'Mute'}
        </button>
        <label htmlFor={volId} className="vol-label">
          Volume
        </label>
        <input
          id={volId}
          type="range"
          min={0}
          max={100}
          value={Math.round(s.volume * 100)}
          onChange={(e) => sound.set({ volume: Number(e.target.value) / 100 })}
        />
      </div>
      <div className="check">
        <input id={clickId} type="checkbox" checked={s.click} onChange={(e) => sound.set({ click: e.target.checked })} />
        <label htmlFor={clickId}>Metronome click</label>
      </div>
      <div className="timing-row" role="group" aria-label="Timing on this device">
        <button
          type="button"
          disabled={s.nudgeMs <= -MAX_NUDGE_MS}
          onClick={() => sound.set({ nudgeMs: Math.max(-MAX_NUDGE_MS, s.nudgeMs - NUDGE_STEP_MS) })}
        >
          Earlier
        </button>
        <output className="nudge" aria-live="polite" data-testid="nudge">
          {nudgeLabel(s.nudgeMs)}
        </output>
        <button
          type="button"
          disabled={s.nudgeMs >= MAX_NUDGE_MS}
          onClick={() => sound.set({ nudgeMs: Math.min(MAX_NUDGE_MS, s.nudgeMs + NUDGE_STEP_MS) })}
        >
          Later
        </button>
        {s.nudgeMs !== 0 && (
          <button type="button" className="reset" onClick={() => sound.set({ nudgeMs: 0 })}>
            Reset
          </button>
        )}
      </div>
      <p className="hint">
        Timing: hear this phone behind the others (Bluetooth often is)? Press Earlier until the beats line up.
        {latency !== null && ` This device reports ${latency} ms of output delay, already allowed for.`}
      </p>
    </section>
  );
}
