import { describe, expect, it } from 'vitest';
import { emptyPattern } from '../session/protocol';
import { beatAt, continues, gridStep, notesOfStep, stepAt, stepsInWindow, tapTempo, timeOfBeat, timeOfStep, toAudioTime } from './timing';

const anchor = { serverTime: 1_000_000, beat: 0 };
const play120 = { anchor, tempo: 120, isPlaying: true };

describe('timeline math', () => {
  it('follows the contract formula', () => {
    // 120 BPM: a beat every 500 ms, a step every 125 ms.
    expect(beatAt(play120, 1_000_500)).toBe(1);
    expect(beatAt({ anchor: { serverTime: 0, beat: 3.5 }, tempo: 60, isPlaying: true }, 2000)).toBe(5.5);
    expect(timeOfStep(play120, 4)).toBe(1_000_500);
    expect(timeOfStep(play120, 1)).toBe(1_000_125);
  });

  it('runs the beats before an anchor at tempoBefore, after it at the tempo', () => {
    // A change from 120 to 60 BPM that lands on beat 8 at 1_004_000.
    const tl = { anchor: { serverTime: 1_004_000, beat: 8, tempoBefore: 120 }, tempo: 60, isPlaying: true };
    expect(beatAt(tl, 1_003_500)).toBe(7);
    expect(beatAt(tl, 1_005_000)).toBe(9);
    expect(timeOfBeat(tl, 7)).toBe(1_003_500);
    expect(timeOfBeat(tl, 9)).toBe(1_005_000);
    // Without tempoBefore the tempo runs both ways (the count-in).
    expect(beatAt(play120, 999_500)).toBe(-1);
  });

  it('stands still once a stop has landed, and sounds until then', () => {
    const stop = { anchor: { serverTime: 1_002_000, beat: 4, tempoBefore: 120 }, tempo: 120, isPlaying: false };
    expect(beatAt(stop, 1_001_500)).toBe(3);
    expect(beatAt(stop, 1_009_000)).toBe(4);
    expect(stepAt(stop, 1_001_999)).toBe(15);
    expect(stepAt(stop, 1_002_000)).toBeNull();
    expect(stepsInWindow(stop, 1_001_700, 1_003_000).map((s) => s.index)).toEqual([14, 15]);
  });

  it('highlights the step sounding now, none during the count-in', () => {
    expect(stepAt(play120, 999_999)).toBeNull();
    expect(stepAt(play120, 1_000_000)).toBe(0);
    expect(stepAt(play120, 1_000_124)).toBe(0);
    expect(stepAt(play120, 1_000_125)).toBe(1);
    expect(stepAt(play120, 1_000_000 + 16 * 125)).toBe(0); // wraps after a bar
    expect(stepAt({ anchor: { serverTime: 0, beat: 2.25 }, tempo: 120, isPlaying: true }, 0)).toBe(9);
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
      for (const s of stepsInWindow(play120, t, t + 37)) seen.push(s.index);
    }
    const expected = Math.floor((t - 1 - 1_000_000) / 125) + 1; // steps at 1_000_000 + 125k < t
    expect(seen).toEqual(Array.from({ length: expected }, (_, i) => i));
  });

  it('holds the same at an awkward tempo and fractional anchor, across a change', () => {
    const tl = { anchor: { serverTime: 12_345.678, beat: 7.3, tempoBefore: 131.7 }, tempo: 97.3, isPlaying: true };
    const seen: number[] = [];
    for (let t = 9_000; t < 20_000; t += 25) for (const s of stepsInWindow(tl, t, t + 25)) seen.push(s.index);
    expect(seen[0]).toBe(0);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i));
    expect(seen.length).toBeGreaterThan(30);
  });

  it('gives nothing in the count-in (beats below 0) and exact times after it', () => {
    expect(stepsInWindow(play120, 0, 1_000_000)).toEqual([]);
    expect(stepsInWindow(play120, 999_900, 1_000_130)).toEqual([
      { index: 0, time: 1_000_000 },
      { index: 1, time: 1_000_125 },
    ]);
  });

  it('starts after a given step', () => {
    expect(stepsInWindow(play120, 1_000_000, 1_000_400, 2).map((s) => s.index)).toEqual([2, 3]);
  });
});

describe('continues', () => {
  it('tells a change that lands on the running count from a restart', () => {
    const prev = { anchor: { serverTime: 1000, beat: 0 }, tempo: 120, isPlaying: true };
    const change = { anchor: { serverTime: 3000, beat: 4, tempoBefore: 120 }, tempo: 90, isPlaying: true };
    expect(continues(prev, change)).toBe(true);
    expect(continues(prev, { ...change, isPlaying: false })).toBe(true); // a stop landing ahead
    expect(continues(prev, { ...prev, tempo: 200 })).toBe(true); // during the count-in
    expect(continues(prev, { anchor: { serverTime: 3250, beat: 0 }, tempo: 120, isPlaying: true })).toBe(false); // stop + play
  });
});

describe('notesOfStep', () => {
  it('plays the pattern and a click on every beat, accented on the bar', () => {
    const pattern = emptyPattern();
    pattern.kick[0] = true;
    pattern.hihat[2] = true;
    const notes = [0, 1, 2, 3, 4].flatMap((i) => notesOfStep(pattern, i, i * 125, true));
    expect(notes).toEqual([
      { voice: 'accent', time: 0, step: 0 },
      { voice: 'kick', time: 0, step: 0 },
      { voice: 'hihat', time: 250, step: 2 },
      { voice: 'click', time: 500, step: 4 },
    ]);
    expect(notesOfStep(pattern, 16, 0, false).map((e) => e.voice)).toEqual(['kick']);
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
