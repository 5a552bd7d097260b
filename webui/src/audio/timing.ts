// Timing math shared by the scheduler and the step highlight. Pure functions of the anchor.
// A step is a 16th note: global step n sits at beat n/4; the grid plays step n mod 16.

import type { Anchor, Pattern, Track } from '../session/protocol';
import { STEPS, TRACKS } from '../session/protocol';

export const STEPS_PER_BEAT = 4;

/**
 * What sets the beat's timing: a step's time follows from these alone. The contract's rule
 * (docs/protocol.md): from the anchor on, the beat runs at `tempo` while playing and stands still
 * when stopped; before it, at `anchor.tempoBefore` (or `tempo`). Beats below 0 are the count-in.
 */
export interface Timeline {
  anchor: Anchor;
  tempo: number;
  isPlaying: boolean;
}

function tempoBefore(tl: Timeline): number {
  return tl.anchor.tempoBefore || tl.tempo;
}

/** The (fractional) beat at server time t. */
export function beatAt(tl: Timeline, t: number): number {
  const a = tl.anchor;
  if (t < a.serverTime) return a.beat + ((t - a.serverTime) * tempoBefore(tl)) / 60000;
  if (!tl.isPlaying) return a.beat;
  return a.beat + ((t - a.serverTime) * tl.tempo) / 60000;
}

/** The server time at which the running timeline reaches `beat`. */
export function timeOfBeat(tl: Timeline, beat: number): number {
  const a = tl.anchor;
  return a.serverTime + ((beat - a.beat) * 60000) / (beat < a.beat ? tempoBefore(tl) : tl.tempo);
}

export function timeOfStep(tl: Timeline, index: number): number {
  return timeOfBeat(tl, index / STEPS_PER_BEAT);
}

/** Server time from which nothing sounds: the stop's anchor, or never while playing. */
export function endOf(tl: Timeline): number {
  return tl.isPlaying ? Infinity : tl.anchor.serverTime;
}

/** The grid column (0–15) of global step `index`. */
export function gridStep(index: number): number {
  return ((index % STEPS) + STEPS) % STEPS;
}

/** The grid column sounding at server time t, or null when nothing sounds (count-in, stopped). */
export function stepAt(tl: Timeline, t: number): number | null {
  const b = beatAt(tl, t);
  if (b < 0 || t >= endOf(tl)) return null;
  return gridStep(Math.floor(b * STEPS_PER_BEAT + 1e-9));
}

export interface StepTime {
  index: number;
  time: number;
}

/**
 * Global steps that sound with server time in [from, to) and index at least `minIndex`: none in
 * the count-in, none from a stop on. Consecutive windows [a, b), [b, c) never drop or repeat a step.
 */
export function stepsInWindow(tl: Timeline, from: number, to: number, minIndex = -Infinity): StepTime[] {
  const end = Math.min(to, endOf(tl));
  if (!(tl.tempo > 0) || !(tempoBefore(tl) > 0) || end <= from) return [];
  const out: StepTime[] = [];
  let n = Math.max(minIndex, 0, Math.ceil(beatAt(tl, from) * STEPS_PER_BEAT - 1e-6)) + 0; // + 0: no -0
  for (let guard = 0; guard < 10_000; guard++, n++) {
    const time = timeOfStep(tl, n);
    if (time >= end) break;
    if (time >= from) out.push({ index: n, time });
  }
  return out;
}

/**
 * Whether `next` carries on the beat count of `prev`: the count `prev` reaches at next's anchor
 * is next's beat (a tempo change or a stop landing ahead of time, a tempo change in the count-in).
 * A restart (beat 0 at a new time) or a jump after missed changes is not.
 */
export function continues(prev: Timeline, next: Timeline): boolean {
  return Math.abs(beatAt(prev, next.anchor.serverTime) - next.anchor.beat) < 1e-6;
}

export function sameTimeline(a: Timeline, b: Timeline): boolean {
  return (
    a.tempo === b.tempo &&
    a.isPlaying === b.isPlaying &&
    a.anchor.serverTime === b.anchor.serverTime &&
    a.anchor.beat === b.anchor.beat &&
    a.anchor.tempoBefore === b.anchor.tempoBefore
  );
}

export type Voice = Track | 'click' | 'accent';

export interface NoteEvent {
  voice: Voice;
  /** Server time, ms. */
  time: number;
  step: number;
}

export interface PlayState extends Timeline {
  pattern: Pattern;
}

/** What sounds at global step `index` (server time `time`): its drums and, if wanted, a click on the beat. */
export function notesOfStep(pattern: Pattern, index: number, time: number, click: boolean): NoteEvent[] {
  const out: NoteEvent[] = [];
  const step = gridStep(index);
  if (click && index % STEPS_PER_BEAT === 0) out.push({ voice: step === 0 ? 'accent' : 'click', time, step });
  for (const t of TRACKS) if (pattern[t][step]) out.push({ voice: t, time, step });
  return out;
}

/** A moment on both clocks, as AudioContext.getOutputTimestamp() gives it. */
export interface AudioStamp {
  /** AudioContext time, seconds. */
  contextTime: number;
  /** performance.now() at the same moment, ms. */
  performanceTime: number;
}

/**
 * The AudioContext time at which server time `serverT` happens, given the clock offset
 * (server − local epoch ms) and performance.timeOrigin.
 */
export function toAudioTime(serverT: number, stamp: AudioStamp, offset: number, timeOrigin: number): number {
  const localT = serverT - offset - timeOrigin; // in performance.now() terms
  return stamp.contextTime + (localT - stamp.performanceTime) / 1000;
}

/** Tap tempo: BPM from the last taps (ms), or null if there are too few or they are too far apart. */
export function tapTempo(taps: readonly number[], maxGapMs = 2000): number | null {
  const recent: number[] = [];
  for (let i = taps.length - 1; i >= 0; i--) {
    if (recent.length && recent[0]! - taps[i]! > maxGapMs) break;
    recent.unshift(taps[i]!);
    if (recent.length === 5) break;
  }
  if (recent.length < 2) return null;
  const avg = (recent[recent.length - 1]! - recent[0]!) / (recent.length - 1);
  if (!(avg > 0)) return null;
  const bpm = Math.round((60000 / avg) * 10) / 10;
  return Math.min(300, Math.max(20, bpm));
}
