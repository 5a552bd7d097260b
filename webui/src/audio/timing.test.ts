import { describe, expect, it } from 'vitest';
import { emptyPattern } from '../session/protocol';
import { beatAt, continues, gridStep, planWindow, stepAt, stepsInWindow, tapTempo, timeOfStep, toAudioTime } from './timing';

const anchor = { serverTime: 1_000_000, beat: 0 };

describe('anchor math', () => {
  it('follows the contract formula', () => {
    // 120 BPM: a beat every 500 ms, a step every 125 ms.
    expect(beatAt(anchor, 120, 1_000_500)).toBe(1);
    expect(beatAt({ serverTime: 0, beat: 3.5 }, 60, 2000)).toBe(5.5);
    expect(timeOfStep(anchor, 120, 4)).toBe(1_000_500);
    expect(timeOfStep(anchor, 120, 1)).toBe(1_000_125);
  });

  it('highlights the step sounding now, none during the count-in', () => {
    expect(stepAt(anchor, 120, 999_999)).toBeNull();
    expect(stepAt(anchor, 120, 1_000_000)).toBe(0);
    expect(stepAt(anchor, 120, 1_000_124)).toBe(0);
    expect(stepAt(anchor, 120, 1_000_125)).toBe(1);
    expect(stepAt(anchor, 120, 1_000_000 + 16 * 125)).toBe(0); // wraps after a bar
    expect(stepAt({ serverTime: 0, beat: 2.25 }, 120, 0)).toBe(9);
  });

  it('wraps negative and large indices into the grid', () => {
    expect(gridStep(-1)).toBe(15);
    expect(gridStep(33)).toBe(1);
  });
});

describe('stepsInWindow', () => {
  it('lists each step once across consecutive windows', () => {
    const seen: number[] = [];
    let t = 990_000;
    for (; t < 1_002_000; t += 37) {
      for (const s of stepsInWindow(anchor, 120, t, t + 37)) seen.push(s.index);
    }
    const expected = Math.floor((t - 1 - 1_000_000) / 125) + 1; // steps at 1_000_000 + 125k < t
    expect(seen).toEqual(Array.from({ length: expected }, (_, i) => i));
  });

  it('holds the same at an awkward tempo and fractional anchor', () => {
    const a = { serverTime: 12_345.678, beat: 7.3 };
    const seen: number[] = [];
    for (let t = 12_000; t < 20_000; t += 25) for (const s of stepsInWindow(a, 97.3, t, t + 25)) seen.push(s.index);
    const first = seen[0]!;
    expect(first).toBe(30); // ceil(7.3 · 4)
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => first + i));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 1]! + 1);
  });

  it('gives nothing before the anchor (count-in) and exact times after it', () => {
    expect(stepsInWindow(anchor, 120, 0, 1_000_000)).toEqual([]);
    expect(stepsInWindow(anchor, 120, 999_900, 1_000_130)).toEqual([
      { index: 0, time: 1_000_000 },
      { index: 1, time: 1_000_125 },
    ]);
  });
});

describe('continues', () => {
  it('tells a tempo re-anchor (same beat count) from a restart', () => {
    const prev = { anchor: { serverTime: 1000, beat: 0 }, tempo: 120 };
    expect(continues(prev, { anchor: { serverTime: 3000, beat: beatAt(prev.anchor, 120, 3000) }, tempo: 90 })).toBe(true);
    expect(continues(prev, { anchor: prev.anchor, tempo: 200 })).toBe(true); // during the count-in
    expect(continues(prev, { anchor: { serverTime: 3250, beat: 0 }, tempo: 120 })).toBe(false); // stop + play
  });

  it('lets stepsInWindow start after a given step', () => {
    expect(stepsInWindow(anchor, 120, 1_000_000, 1_000_400, 2).map((s) => s.index)).toEqual([2, 3]);
  });
});

describe('planWindow', () => {
  it('plays the pattern and a click on every beat, accented on the bar', () => {
    const pattern = emptyPattern();
    pattern.kick[0] = true;
    pattern.hihat[2] = true;
    const st = { isPlaying: true, tempo: 120, anchor, pattern };
    const ev = planWindow(st, 1_000_000, 1_000_000 + 8 * 125, true);
    expect(ev).toEqual([
      { voice: 'accent', time: 1_000_000, step: 0 },
      { voice: 'kick', time: 1_000_000, step: 0 },
      { voice: 'hihat', time: 1_000_250, step: 2 },
      { voice: 'click', time: 1_000_500, step: 4 },
    ]);
    expect(planWindow(st, 1_000_000, 1_000_200, false).map((e) => e.voice)).toEqual(['kick']);
    expect(planWindow({ ...st, isPlaying: false }, 1_000_000, 1_002_000, true)).toEqual([]);
  });
});

describe('toAudioTime', () => {
  it('maps server time through the offset onto the audio clock', () => {
    // performance.now() = 500 ms when the audio clock read 2 s; server is 1000 ms ahead.
    const stamp = { contextTime: 2, performanceTime: 500 };
    const timeOrigin = 1_700_000_000_000;
    const serverT = timeOrigin + 500 + 1000 + 250; // 250 ms after the stamp, in server time
    expect(toAudioTime(serverT, stamp, 1000, timeOrigin)).toBeCloseTo(2.25, 9);
  });
});

describe('tapTempo', () => {
  it('averages the last taps', () => {
    expect(tapTempo([0, 500, 1000, 1500])).toBe(120);
    expect(tapTempo([0, 600])).toBe(100);
  });
  it('needs two taps close together and clamps to the legal range', () => {
    expect(tapTempo([0])).toBeNull();
    expect(tapTempo([0, 5000])).toBeNull();
    expect(tapTempo([0, 100])).toBe(300);
    expect(tapTempo([0, 5000, 5500])).toBe(120);
  });
});
