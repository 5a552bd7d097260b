import { describe, expect, it } from 'vitest';
import { emptyPattern } from '../session/protocol';
import { Scheduler } from './scheduler';
import type { PlayState, Voice } from './timing';

function rig(st: PlayState) {
  let now = 0;
  let state: PlayState | null = st;
  const played: { voice: Voice; when: number }[] = [];
  const cancelled: number[] = [];
  const s = new Scheduler({
    getPlayState: () => state,
    serverNow: () => now,
    toAudio: (t) => t / 1000, // audio clock = server clock, in seconds
    play: (voice, when) => played.push({ voice, when }),
    cancelFrom: (w) => cancelled.push(w),
    clickOn: () => false,
    lookaheadMs: 100,
  });
  return {
    s,
    played,
    cancelled,
    set now(v: number) {
      now = v;
    },
    setState(v: PlayState | null) {
      state = v;
    },
  };
}

describe('Scheduler', () => {
  it('schedules every step once, ahead of time, at the anchored times', () => {
    const pattern = emptyPattern();
    pattern.kick = pattern.kick.map(() => true);
    const r = rig({ isPlaying: true, tempo: 120, anchor: { serverTime: 1000, beat: 0 }, pattern });
    for (let t = 0; t <= 3000; t += 25) {
      r.now = t;
      r.s.tick();
    }
    const whens = r.played.map((p) => p.when);
    // Steps at 1000, 1125, ... up to 3100 (the look-ahead reaches 3100).
    expect(whens[0]).toBe(1);
    expect(whens).toEqual(Array.from({ length: whens.length }, (_, i) => (1000 + i * 125) / 1000));
    expect(whens[whens.length - 1]).toBeLessThan(3.1);
    expect(whens.length).toBe(17);
  });

  it('drops queued notes and restarts when re-anchored', () => {
    const pattern = emptyPattern();
    pattern.snare = pattern.snare.map(() => true);
    const r = rig({ isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern });
    r.now = 0;
    r.s.tick();
    expect(r.played.length).toBe(1); // 0 ms (next one, 125, is past the 100 ms look-ahead)
    r.setState({ isPlaying: true, tempo: 60, anchor: { serverTime: 50, beat: 0.1 }, pattern });
    r.now = 50;
    r.s.tick();
    expect(r.cancelled).toEqual([0.05]);
  });

  it('cancels when stopped and skips notes missed while asleep', () => {
    const pattern = emptyPattern();
    pattern.clap = pattern.clap.map(() => true);
    const st: PlayState = { isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern };
    const r = rig(st);
    r.now = 0;
    r.s.tick();
    r.now = 10_000; // the timer slept for 10 s
    r.s.tick();
    expect(r.played.every((p) => p.when < 0.1 || p.when >= 10)).toBe(true);
    r.setState({ ...st, isPlaying: false });
    r.s.tick();
    expect(r.cancelled).toContain(10);
  });
});
