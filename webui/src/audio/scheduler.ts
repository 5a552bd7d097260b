// Look-ahead scheduler (the "tale of two clocks" pattern): a coarse timer wakes every ~25 ms and
// hands the audio clock every step due in the next few hundred ms, at the audio time that the
// server's timeline gives for it. Everything it touches is passed in, so tests run it without
// Web Audio.
//
// Steps are counted globally (step n sits at beat n/4). The server lands every change of a running
// timeline ahead of time on a boundary where the old and the new timeline agree (docs/protocol.md),
// so the scheduler keeps the timelines it was given as a chain of segments: each takes over at its
// anchor, and the steps before it keep the timing they were handed with. Only notes at or after
// the new anchor are moved, none plays twice or goes missing, and a second change that arrives
// before the first has landed still plays the beats between them at the right tempo. The chain
// starts afresh on a restart and on any jump it cannot follow.

import { continues, notesOfStep, sameTimeline, stepsInWindow, type PlayState, type Timeline, type Voice } from './timing';

export interface SchedulerDeps {
  /** The shared state to play, or null when not in a session. */
  getPlayState: () => PlayState | null;
  /**
   * Called first in every tick, with whether notes are being handed to audio: the clock may step
   * to a new estimate only while nothing sounds, and must slew while something does.
   */
  followClock?: (sounding: boolean) => void;
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
  /** Stops every note handed over that starts at or after `when` (s) and has not started yet. */
  cancelFrom: (when: number) => void;
  clickOn: () => boolean;
  /** How far ahead to schedule; a function so a hidden tab (timers slowed to 1/s) can look further. */
  lookaheadMs?: number | (() => number);
}

/** A step this late (s, against the audio clock) is skipped rather than played late. */
const LATE_S = 0.01;
/**
 * How far ahead of the audio clock steps are handed over by default. A main-thread stall longer
 * than this (a phone busy rendering, a GC) makes notes late; 250 ms rides out the stalls seen on
 * phones, and a change still reaches every phone before its notes must move (it lands 300 ms ahead).
 */
export const LOOKAHEAD_MS = 250;
/** A segment that ended this long ago can no longer be needed. */
const KEEP_MS = 2000;

interface Segment {
  /** Server time from which this timeline rules. */
  from: number;
  tl: Timeline;
}

export class Scheduler {
  /** The timelines the handed-over steps follow, oldest first; empty when idle. */
  private segments: Segment[] = [];
  /** The last global step index handed to audio. */
  private last: number | null = null;
  /** Handed-over steps that have not started yet, oldest first. */
  private handed: { index: number; time: number; when: number }[] = [];

  constructor(private readonly d: SchedulerDeps) {}

  private lookahead(): number {
    const l = this.d.lookaheadMs ?? LOOKAHEAD_MS;
    return typeof l === 'function' ? l() : l;
  }

  tick(): void {
    const st = this.d.getPlayState();
    this.d.followClock?.(this.segments.length > 0);
    const now = this.d.serverNow();
    const heard = this.d.toAudio(now);
    const cur = heard === null ? null : (this.d.audioNow?.() ?? heard);
    const ready = this.d.clockReady?.() ?? true;
    // A stopped state still sounds until its stop lands.
    if (!st || (!st.isPlaying && now >= st.anchor.serverTime) || heard === null || cur === null || !ready) {
      this.idle(cur);
      return;
    }
    while (this.handed.length && this.handed[0]!.when <= cur) this.handed.shift();
    this.follow({ anchor: st.anchor, tempo: st.tempo, isPlaying: st.isPlaying }, cur);
    while (this.segments.length > 1 && this.segments[1]!.from < now - KEEP_MS) this.segments.shift();

    // The audio clock runs ahead of what is heard by the output latency: plan from where it is.
    const lead = Math.max(0, (cur - heard) * 1000);
    const from = now + lead - LATE_S * 1000; // also what skips the steps missed while asleep
    const to = now + lead + this.lookahead();
    const click = this.d.clickOn();
    for (const [i, seg] of this.segments.entries()) {
      const until = Math.min(to, this.segments[i + 1]?.from ?? Infinity);
      const start = Math.max(from, seg.from);
      if (until <= start) continue;
      for (const { index, time } of stepsInWindow(seg.tl, start, until, this.last === null ? -Infinity : this.last + 1)) {
        const when = this.d.toAudio(time);
        if (when === null) return;
        for (const n of notesOfStep(st.pattern, index, time, click)) this.d.play(n.voice, when);
        this.handed.push({ index, time, when });
        this.last = index;
      }
    }
  }

  /** Takes in the state's timeline: a continuation lands at its anchor, anything else restarts. */
  private follow(tl: Timeline, cur: number): void {
    const lastSeg = this.segments[this.segments.length - 1];
    if (lastSeg && sameTimeline(lastSeg.tl, tl)) return;
    if (!lastSeg || !continues(lastSeg.tl, tl)) {
      this.restart(cur);
      this.segments = [{ from: -Infinity, tl }];
      return;
    }
    // Notes before the anchor keep their timing; those at or after it move to the new timeline.
    const at = tl.anchor.serverTime;
    const moved = this.handed.findIndex((h) => h.time >= at);
    if (moved >= 0) {
      this.d.cancelFrom(this.handed[moved]!.when);
      this.last = this.handed[moved]!.index - 1; // every step is handed, so indices run on
      this.handed.length = moved;
    }
    this.segments = [...this.segments.filter((s) => s.from < at), { from: at, tl }];
  }

  private restart(cur: number): void {
    if (this.handed.length) this.d.cancelFrom(cur);
    this.handed = [];
    this.last = null;
  }

  private idle(cur: number | null): void {
    this.restart(cur ?? 0);
    this.segments = [];
  }
}
