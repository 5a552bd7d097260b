import { useId, useRef, useState, type KeyboardEvent } from 'react';
import { tapTempo } from '../audio/timing';
import { KEYS, MAX_TEMPO, MIN_TEMPO, SCALES, type JamState, type Participant } from '../session/protocol';
import { useJam } from '../app/context';
import { usePress } from '../app/press';

/** What the Beat tab says about Ableton Link: the host sees the switch's state, guests only a linked room. */
export function linkText(enabled: boolean, peers: number, isHost: boolean): string {
  if (!enabled) return isHost ? 'Off: share tempo and play/stop with Ableton Link apps' : '';
  return `Linked: ${peers} ${peers === 1 ? 'app' : 'apps'}`;
}

export function Transport({
  state,
  participants,
  isHost,
  openPlayback,
}: {
  state: JamState;
  participants: Participant[];
  isHost: boolean;
  /** The host lets everyone start and stop. */
  openPlayback: boolean;
}) {
  const { client, store } = useJam();
  const [draft, setDraft] = useState<string | null>(null);
  const [draftTempo, setDraftTempo] = useState(state.tempo);
  const ids = { tempo: useId(), key: useId(), scale: useId(), why: useId(), link: useId() };
  const host = participants.find((p) => p.isHost);
  const canPlay = isHost || openPlayback;

  // A tempo from someone else replaces what is shown unless the user is typing. (Adjusted while
  // rendering, not in an effect: an effect would first paint the old draft.)
  if (draftTempo !== state.tempo) {
    setDraftTempo(state.tempo);
    if (draft !== null && document.activeElement?.id !== ids.tempo) setDraft(null);
  }

  const sendTempo = (t: number) => {
    const v = Math.round(t * 10) / 10;
    if (!Number.isFinite(v) || v < MIN_TEMPO || v > MAX_TEMPO) {
      store.dispatch({ type: 'notice', tone: 'error', text: `Tempo must be a number from ${MIN_TEMPO} to ${MAX_TEMPO} BPM.` });
      return;
    }
    if (v !== state.tempo) client.setTempo(v);
  };

  const commit = () => {
    if (draft === null) return;
    const v = Number(draft.replace(',', '.'));
    setDraft(null);
    if (draft.trim() !== '') sendTempo(v);
  };

  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    } else if (e.key === 'Escape') setDraft(null);
  };

  const tap = useTapTempo(sendTempo);

  const step = (delta: number) => sendTempo(Math.min(MAX_TEMPO, Math.max(MIN_TEMPO, Math.round(state.tempo) + delta)));

  return (
    <section className="panel transport" aria-label="Transport">
      <div className="tempo-row">
        <label htmlFor={ids.tempo}>Tempo (BPM)</label>
        <div className="tempo-controls">
          <button type="button" className="square" aria-label="Slower: tempo −1 BPM" onClick={() => step(-1)}>
            −
          </button>
          <input
            id={ids.tempo}
            className="tempo-input"
            type="number"
            inputMode="decimal"
            min={MIN_TEMPO}
            max={MAX_TEMPO}
            step="any"
            value={draft ?? String(state.tempo)}
            onChange={(e) => setDraft(e.target.value)}
            onBlur={commit}
            onKeyDown={onKey}
          />
          <button type="button" className="square" aria-label="Faster: tempo +1 BPM" onClick={() => step(1)}>
            +
          </button>
          <button type="button" aria-label="Tap tempo" {...tap}>
            Tap
          </button>
        </div>
      </div>

      <div className="key-row">
        <div className="field">
          <label htmlFor={ids.key}>Key</label>
          <select id={ids.key} value={state.key} onChange={(e) => client.setKey(e.target.value, state.scale)}>
            {KEYS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.scale}>Scale</label>
          <select id={ids.scale} value={state.scale} onChange={(e) => client.setKey(state.key, e.target.value)}>
            {SCALES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>

      <div className="play-row">
        <button
          type="button"
          className={state.isPlaying ? 'play stop' : 'play primary'}
          disabled={!canPlay}
          aria-describedby={canPlay ? undefined : ids.why}
          onClick={() => client.setPlaying(!state.isPlaying)}
        >
          {state.isPlaying ? 'Stop' : 'Play'}
        </button>
        <span className={state.isPlaying ? 'playing-flag on' : 'playing-flag'}>{state.isPlaying ? 'Playing' : 'Stopped'}</span>
      </div>
      {!canPlay && (
        <p className="why" id={ids.why}>
          Only the host{host ? `, ${host.name},` : ''} can start and stop the beat.
        </p>
      )}

      <div className="link-row">
        {isHost ? (
          <div className="check">
            <input id={ids.link} type="checkbox" role="switch" checked={state.link.enabled} onChange={(e) => client.setLink(e.target.checked)} />
            <label htmlFor={ids.link}>Link</label>
          </div>
        ) : null}
        <span className={state.link.enabled ? 'link-flag on' : 'link-flag'} aria-live="polite">
          {linkText(state.link.enabled, state.link.peers, isHost)}
        </span>
      </div>
    </section>
  );
}

/** Tap tempo: the tempo of the last few taps, each counted as the finger lands (see usePress). */
function useTapTempo(sendTempo: (bpm: number) => void) {
  const taps = useRef<number[]>([]);
  return usePress(() => {
    const now = performance.now();
    taps.current = [...taps.current.filter((t) => now - t < 2000 * 5), now].slice(-5);
    const bpm = tapTempo(taps.current);
    if (bpm !== null) sendTempo(bpm);
  });
}
