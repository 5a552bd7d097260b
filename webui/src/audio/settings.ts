// Per-device sound settings (volume, mute, metronome click, timing nudge), kept in localStorage.

import { deviceStorage, type KeyValue } from '../session/seat';

export interface SoundSettings {
  volume: number;
  muted: boolean;
  click: boolean;
  /**
   * Moves this device's notes later (positive) or earlier (negative), ms: for output delay the
   * browser does not report, as over Bluetooth (often 150–250 ms late).
   */
  nudgeMs: number;
}

export const MAX_NUDGE_MS = 400;

const KEY = 'jamd.sound';
export const defaultSound: SoundSettings = { volume: 0.8, muted: false, click: true, nudgeMs: 0 };

export function loadSound(kv: KeyValue | null = deviceStorage()): SoundSettings {
  try {
    const s = JSON.parse(kv?.getItem(KEY) ?? 'null') as Partial<SoundSettings> | null;
    if (!s) return defaultSound;
    return {
      volume: typeof s.volume === 'number' && s.volume >= 0 && s.volume <= 1 ? s.volume : defaultSound.volume,
      muted: typeof s.muted === 'boolean' ? s.muted : defaultSound.muted,
      click: typeof s.click === 'boolean' ? s.click : defaultSound.click,
      nudgeMs: typeof s.nudgeMs === 'number' && Math.abs(s.nudgeMs) <= MAX_NUDGE_MS ? s.nudgeMs : defaultSound.nudgeMs,
    };
  } catch {
    return defaultSound;
  }
}

export function saveSound(s: SoundSettings, kv: KeyValue | null = deviceStorage()): void {
  try {
    kv?.setItem(KEY, JSON.stringify(s));
  } catch {
    /* ignore */
  }
}
