import { useId, useSyncExternalStore } from 'react';
import { useJam } from './context';

/** Per-device sound: on/off state of the audio engine, volume, mute, metronome click. */
export function SoundPanel() {
  const { sound, engine } = useJam();
  const s = useSyncExternalStore(sound.subscribe, sound.get, sound.get);
  // The system can suspend the sound later (a call, the background): the button comes back then.
  const running = useSyncExternalStore(engine.subscribe, engine.isRunning, engine.isRunning);
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
    </section>
  );
}
