// Timing math shared by the scheduler and the step highlight. Pure functions of the anchor.
// A step is a 16th note: global step n sits at beat n/4; the grid plays step n mod 16.

import type { Anchor, Pattern, Track } from '../session/protocol';
import { STEPS, TRACKS } from '../session/protocol';

export const STEPS_PER_BEAT = 4;

/** The (fractional) beat at server time t. */
export function beatAt(anchor: Anchor, tempo: number, t: number): number {
  return anchor.beat + ((t - anchor.serverTime) * tempo) / 60000;
}

/** The server time at which `beat` falls. */
export function timeOfBeat(anchor: Anchor, tempo: number, beat: number): number {
  return anchor.serverTime + ((beat - anchor.beat) * 60000) / tempo;
}

export function timeOfStep(anchor: Anchor, tempo: number, index: number): number {
  return timeOfBeat(anchor, tempo, index / STEPS_PER_BEAT);
}

/** The grid column (0–15) of global step `index`. */
export function gridStep(index: number): number {
  return ((index % STEPS) + STEPS) % STEPS;
}

/** The grid column sounding at server time t, or null during the count-in. */
export function stepAt(anchor: Anchor, tempo: number, t: number): number | null {
  if (t < anchor.serverTime) return null;
  return gridStep(Math.floor(beatAt(anchor, tempo, t) * STEPS_PER_BEAT + 1e-9));
}

export interface StepTime {
  index: number;
  time: number;
}

/**
 * Global steps whose server time is in [from, to) and whose index is at least `minIndex`, none
 * before the anchor (count-in). Consecutive windows [a, b), [b, c) never drop or repeat a step.
 */
export function stepsInWindow(anchor: Anchor, tempo: number, from: number, to: number, minIndex = -Infinity): StepTime[] {
  const start = Math.max(from, anchor.serverTime);
  if (!(tempo > 0) || to <= start) return [];
  const out: StepTime[] = [];
  let n = Math.max(minIndex, Math.ceil(beatAt(anchor, tempo, start) * STEPS_PER_BEAT - 1e-6)) + 0; // + 0: no -0
  for (let guard = 0; guard < 10_000; guard++, n++) {
    const time = timeOfStep(anchor, tempo, n);
    if (time >= to) break;
    if (time >= start) out.push({ index: n, time });
  }
  return out;
}

/** What sets the beat's timing: a step's time follows from these two alone. */
export interface Timeline {
  anchor: Anchor;
  tempo: number;
}

/**
 * Whether `next` carries on the beat count of `prev`: the same anchor (a tempo change during the
 * count-in), or a re-anchor at the beat `prev` had reached then (a tempo change while playing).
 * A restart (beat 0 at a new time) or a jump after missed changes is not.
 */
export function continues(prev: Timeline, next: Timeline): boolean {
  if (prev.anchor.serverTime === next.anchor.serverTime && prev.anchor.beat === next.anchor.beat) return true;
  return Math.abs(beatAt(prev.anchor, prev.tempo, next.anchor.serverTime) - next.anchor.beat) < 1e-3;
}

export type Voice = Track | 'click' | 'accent';

export interface NoteEvent {
  voice: Voice;
  /** Server time, ms. */
  time: number;
  step: number;
}

export interface PlayState {
  isPlaying: boolean;
  tempo: number;
  anchor: Anchor;
  pattern: Pattern;
}

/** What sounds at global step `index` (server time `time`): its drums and, if wanted, a click on the beat. */
export function notesOfStep(st: PlayState, index: number, time: number, click: boolean): NoteEvent[] {
  const out: NoteEvent[] = [];
  const step = gridStep(index);
  if (click && index % STEPS_PER_BEAT === 0) out.push({ voice: step === 0 ? 'accent' : 'click', time, step });
  for (const t of TRACKS) if (st.pattern[t][step]) out.push({ voice: t, time, step });
  return out;
}

/** Everything to sound in [from, to): the pattern's drums and, if wanted, a click on each beat. */
export function planWindow(st: PlayState, from: number, to: number, click: boolean): NoteEvent[] {
  if (!st.isPlaying) return [];
  return stepsInWindow(st.anchor, st.tempo, from, to).flatMap(({ index, time }) => notesOfStep(st, index, time, click));
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
