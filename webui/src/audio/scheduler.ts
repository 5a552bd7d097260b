// Look-ahead scheduler (the "tale of two clocks" pattern): a coarse timer wakes every ~25 ms and
// hands the audio clock every step due in the next ~120 ms, at the audio time that the server's
// anchor gives for it. Everything it touches is passed in, so tests run it without Web Audio.
//
// Steps are counted globally (step n sits at beat n/4). The server keeps that count continuous
// across tempo changes, so the scheduler remembers the last step it handed over and only ever
// plans later ones: a re-anchor moves the steps that have not sounded yet, and none plays twice
// or goes missing. The count starts afresh on stop, start and any jump it cannot follow.

import { continues, notesOfStep, stepsInWindow, type PlayState, type Timeline, type Voice } from './timing';

export interface SchedulerDeps {
  /** The shared state to play, or null when not in a session. */
  getPlayState: () => PlayState | null;
  /** Estimated server time now, ms. */
  serverNow: () => number;
  /** The audio-clock time (s) at which a server time is heard, or null while audio is not running. */
  toAudio: (serverT: number) => number | null;
  /**
   * Where the audio clock itself is (AudioContext.currentTime, s). It runs ahead of what is heard
   * by the output latency; a note can be placed no earlier. Defaults to toAudio(serverNow()).
   */
  audioNow?: () => number | null;
  /** False until the server clock has been measured: nothing is scheduled on a guess. */
  clockReady?: () => boolean;
  play: (voice: Voice, when: number) => void;
  /** Stops every note handed over that starts after `when` (s) and has not started yet. */
  cancelFrom: (when: number) => void;
  clickOn: () => boolean;
  /** How far ahead to schedule; a function so a hidden tab (timers slowed to 1/s) can look further. */
  lookaheadMs?: number | (() => number);
}

/** A step this late (s, against the audio clock) is skipped rather than played late. */
const LATE_S = 0.01;

export class Scheduler {
  /** The anchor and tempo the handed-over steps were timed by; null when idle. */
  private timeline: Timeline | null = null;
  /** The last global step index handed to audio. */
  private last: number | null = null;
  /** The last handed-over step that has started sounding (it can no longer move). */
  private started: number | null = null;
  /** Handed-over steps that have not started yet, oldest first. */
  private handed: { index: number; when: number }[] = [];

  constructor(private readonly d: SchedulerDeps) {}

  private lookahead(): number {
    const l = this.d.lookaheadMs ?? 120;
    return typeof l === 'function' ? l() : l;
  }

  tick(): void {
    const st = this.d.getPlayState();
    const now = this.d.serverNow();
    const heard = this.d.toAudio(now);
    const cur = heard === null ? null : (this.d.audioNow?.() ?? heard);
    const ready = this.d.clockReady?.() ?? true;
    if (!st || !st.isPlaying || heard === null || cur === null || !ready) {
      this.idle(cur);
      return;
    }
    while (this.handed.length && this.handed[0]!.when <= cur) this.started = this.handed.shift()!.index;

    const prev = this.timeline;
    if (prev && (prev.anchor.serverTime !== st.anchor.serverTime || prev.anchor.beat !== st.anchor.beat || prev.tempo !== st.tempo)) {
      // Re-anchored: what has not started yet moves to the new timing; what has, stays played.
      if (this.handed.length) this.d.cancelFrom(cur);
      this.handed = [];
      this.last = continues(prev, st) ? this.started : null;
    }
    this.timeline = { anchor: st.anchor, tempo: st.tempo };

    // The audio clock runs ahead of what is heard by the output latency: plan from where it is.
    const lead = Math.max(0, (cur - heard) * 1000);
    const from = now + lead - LATE_S * 1000; // also what skips the steps missed while asleep
    const to = now + lead + this.lookahead();
    const click = this.d.clickOn();
    for (const { index, time } of stepsInWindow(st.anchor, st.tempo, from, to, this.last === null ? -Infinity : this.last + 1)) {
      const when = this.d.toAudio(time);
      if (when === null) break;
      for (const n of notesOfStep(st, index, time, click)) this.d.play(n.voice, when);
      this.handed.push({ index, when });
      this.last = index;
    }
  }

  private idle(cur: number | null): void {
    if (this.handed.length) this.d.cancelFrom(cur ?? 0);
    this.timeline = null;
    this.last = null;
    this.started = null;
    this.handed = [];
  }
}
