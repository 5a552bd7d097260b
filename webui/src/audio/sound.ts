// The device's sound settings (volume, mute, click, timing nudge) as a tiny observable: the
// engine follows them, localStorage keeps them, and the sound panel renders them.

import type { AudioEngine } from './engine';
import { loadSound, saveSound, type SoundSettings } from './settings';

/** Per-device sound settings as a tiny observable. */
export class SoundStore {
  private s: SoundSettings = loadSound();
  private listeners = new Set<() => void>();
  constructor(private readonly engine: AudioEngine) {
    engine.setVolume(this.s.volume);
    engine.setMuted(this.s.muted);
  }
  get = (): SoundSettings => this.s;
  set = (patch: Partial<SoundSettings>): void => {
    this.s = { ...this.s, ...patch };
    this.engine.setVolume(this.s.volume);
    this.engine.setMuted(this.s.muted);
    saveSound(this.s);
    for (const l of this.listeners) l();
  };
  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}
