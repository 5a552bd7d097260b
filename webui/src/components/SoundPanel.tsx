import { useEffect, useId, useState, useSyncExternalStore } from 'react';
import { useJam } from './context';

/** Per-device sound: on/off state of the audio engine, volume, mute, metronome click. */
export function SoundPanel() {
  const { sound, engine } = useJam();
  const s = useSyncExternalStore(sound.subscribe, sound.get);
  const [running, setRunning] = useState(engine.running);
  const volId = useId();
  const clickId = useId();

  useEffect(() => {
    if (running) return;
    const t = setInterval(() => setRunning(engine.running), 300);
    return () => clearInterval(t);
  }, [engine, running]);

  return (
    <section className="panel sound" aria-label="Sound on this device">
      {!running && (
        <button type="button" className="primary wide" onClick={() => engine.unlock()}>
          Tap to turn sound on
        </button>
      )}
      <div className="sound-row">
        <button type="button" aria-pressed={s.muted} onClick={() => sound.set({ muted: !s.muted })}>
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
