// Look-ahead scheduler (the "tale of two clocks" pattern): a coarse timer wakes every ~25 ms and
// hands the audio clock every note due in the next ~120 ms, at the audio time that the server's
// anchor gives for it. Everything it touches is passed in, so tests run it without Web Audio.

import { planWindow, type PlayState, type Voice } from './timing';

export interface SchedulerDeps {
  /** The shared state to play, or null when not in a session. */
  getPlayState: () => PlayState | null;
  /** Estimated server time now, ms. */
  serverNow: () => number;
  /** The audio-clock time (s) of a server time, or null while audio is not running. */
  toAudio: (serverT: number) => number | null;
  play: (voice: Voice, when: number) => void;
  cancelFrom: (when: number) => void;
  clickOn: () => boolean;
  /** How far ahead to schedule; a function so a hidden tab (timers slowed to 1/s) can look further. */
  lookaheadMs?: number | (() => number);
}

export class Scheduler {
  /** Server time up to which notes have been handed over; null when idle. */
  private until: number | null = null;
  private anchorKey = '';
  constructor(private readonly d: SchedulerDeps) {}

  private lookahead(): number {
    const l = this.d.lookaheadMs ?? 120;
    return typeof l === 'function' ? l() : l;
  }

  tick(): void {
    const st = this.d.getPlayState();
    const now = this.d.serverNow();
    const audioNow = this.d.toAudio(now);
    if (!st || !st.isPlaying || audioNow === null) {
      if (this.until !== null && audioNow !== null) this.d.cancelFrom(audioNow);
      this.until = null;
      this.anchorKey = '';
      return;
    }
    const key = `${st.anchor.serverTime}|${st.anchor.beat}|${st.tempo}`;
    if (key !== this.anchorKey) {
      // Re-anchored (tempo change, restart): drop what was queued under the old timing.
      if (this.until !== null) this.d.cancelFrom(audioNow);
      this.anchorKey = key;
      this.until = now;
    }
    // Asleep for a while: do not burst out the notes we missed.
    if (this.until === null || this.until < now - 100) this.until = now;
    const to = now + this.lookahead();
    for (const ev of planWindow(st, this.until, to, this.d.clickOn())) {
      const when = this.d.toAudio(ev.time);
      if (when !== null) this.d.play(ev.voice, when);
    }
    this.until = to;
  }
}
