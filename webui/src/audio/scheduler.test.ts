import { describe, expect, it } from 'vitest';
import { emptyPattern } from '../session/protocol';
import { Scheduler } from './scheduler';
import { beatAt, timeOfStep, type PlayState, type Voice } from './timing';

/**
 * A scheduler against a stand-in audio engine that behaves like the real one: notes are kept
 * until they start, cancelFrom stops only those that have not started, and a note handed over
 * more than 10 ms after its time is dropped.
 */
function rig(st: PlayState | null, opts: { latencyMs?: number; ready?: () => boolean } = {}) {
  let now = 0;
  let state = st;
  const latency = (opts.latencyMs ?? 0) / 1000;
  const audioNow = () => now / 1000 + latency; // AudioContext.currentTime
  const queued: { voice: Voice; when: number }[] = [];
  const dropped: { voice: Voice; when: number }[] = [];
  const cancelled: number[] = [];
  const s = new Scheduler({
    getPlayState: () => state,
    serverNow: () => now,
    toAudio: (t) => t / 1000, // what is heard: audio clock = server clock, in seconds
    audioNow,
    clockReady: opts.ready,
    play: (voice, when) => (when < audioNow() - 0.01 ? dropped : queued).push({ voice, when }),
    cancelFrom: (w) => {
      cancelled.push(w);
      const from = Math.max(w, audioNow());
      for (let i = queued.length - 1; i >= 0; i--) if (queued[i]!.when > from) queued.splice(i, 1);
    },
    clickOn: () => false,
    lookaheadMs: 100,
  });
  const run = (until: number, every = 25) => {
    for (; now <= until; now += every) s.tick();
    now -= every;
  };
  return {
    s,
    run,
    /** Every note that sounded (or will): in time order. */
    played: () => queued.map((q) => q.when),
    queued,
    dropped,
    cancelled,
    get now() {
      return now;
    },
    set now(v: number) {
      now = v;
    },
    setState(v: PlayState | null) {
      state = v;
    },
  };
}

const allKick = () => {
  const pattern = emptyPattern();
  pattern.kick = pattern.kick.map(() => true);
  return pattern;
};

/** Step times under an anchor for global steps [first, last]. */
const stepTimes = (st: PlayState, first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => timeOfStep(st.anchor, st.tempo, first + i) / 1000);

/** A tempo change at server time `at` while playing, as the server makes it. */
function retempo(st: PlayState, tempo: number, at: number): PlayState {
  return { ...st, tempo, anchor: { serverTime: at, beat: beatAt(st.anchor, st.tempo, at) } };
}

describe('Scheduler', () => {
  it('schedules every step once, ahead of time, at the anchored times', () => {
    const r = rig({ isPlaying: true, tempo: 120, anchor: { serverTime: 1000, beat: 0 }, pattern: allKick() });
    r.run(3000);
    const whens = r.played();
    // Steps at 1000, 1125, ... up to 3100 (the look-ahead reaches 3100).
    expect(whens).toEqual(Array.from({ length: 17 }, (_, i) => (1000 + i * 125) / 1000));
  });

  it('300 → 60 BPM while playing: no step plays twice', () => {
    const st: PlayState = { isPlaying: true, tempo: 300, anchor: { serverTime: 0, beat: 0 }, pattern: allKick() };
    const r = rig(st);
    r.run(1050); // steps every 50 ms; step 22 (1100) handed over, step 21 (1050) has sounded
    const slow = retempo(st, 60, 1010); // the server re-anchors at 1010 (beat 5.05, step 20.2)…
    r.setState(slow);
    r.now = 1060; // …and the message arrives 50 ms later
    r.run(3000);
    // Steps 0–21 at the old timing, then 22, 23, … at the new one: step 21 once, at 1050.
    const want = [...stepTimes(st, 0, 21), ...stepTimes(slow, 22, 28)];
    expect(r.played()).toEqual(want);
    expect(r.dropped).toEqual([]);
  });

  it('60 → 300 BPM while playing: no step goes missing', () => {
    const st: PlayState = { isPlaying: true, tempo: 60, anchor: { serverTime: 0, beat: 0 }, pattern: allKick() };
    const r = rig(st);
    r.run(1050); // steps every 250 ms; step 4 (1000) has sounded, step 5 (1250) not handed yet
    const fast = retempo(st, 300, 1010); // step 5 is now due at 1058…
    r.setState(fast);
    r.now = 1060; // …2 ms before the message arrives: still played, not skipped
    r.run(2000);
    expect(timeOfStep(fast.anchor, fast.tempo, 5)).toBeCloseTo(1058, 9);
    const want = [...stepTimes(st, 0, 4), ...stepTimes(fast, 5, 25)];
    expect(r.played()).toEqual(want);
  });

  it('moves the steps that have not sounded yet to the new timing', () => {
    const st: PlayState = { isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern: allKick() };
    const r = rig(st);
    r.run(100); // steps 0 (sounded) and 1 (at 125, not yet) handed over
    const slower = retempo(st, 90, 110);
    r.setState(slower);
    r.now = 120;
    r.s.tick();
    expect(r.cancelled).toEqual([0.12]);
    expect(r.played()).toEqual([0, timeOfStep(slower.anchor, 90, 1) / 1000]);
  });

  it('starts afresh on a restart it did not see stop', () => {
    const st: PlayState = { isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern: allKick() };
    const r = rig(st);
    r.run(2000); // 16 steps in
    const again = { ...st, anchor: { serverTime: 2250, beat: 0 } }; // stop + play within one tick
    r.setState(again);
    r.run(2600);
    const after = r.played().filter((w) => w > 2.1);
    expect(after).toEqual(stepTimes(again, 0, 3));
  });

  it('hands notes to the audio clock ahead of it on a high-latency output (Bluetooth)', () => {
    // The audio clock runs 150 ms ahead of what is heard: a note for server time t goes at
    // audio time t, which must still be ahead of the audio clock when it is handed over.
    const r = rig({ isPlaying: true, tempo: 120, anchor: { serverTime: 500, beat: 0 }, pattern: allKick() }, { latencyMs: 150 });
    r.run(3000);
    expect(r.dropped).toEqual([]);
    expect(r.played()).toEqual(Array.from({ length: 22 }, (_, i) => (500 + i * 125) / 1000));
  });

  it('waits for the first clock sample before scheduling anything', () => {
    let ready = false;
    const r = rig({ isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern: allKick() }, { ready: () => ready });
    r.run(500);
    expect(r.played()).toEqual([]);
    ready = true;
    r.run(700);
    expect(r.played()).toEqual([0.5, 0.625, 0.75]);
  });

  it('skips the notes missed while asleep, then carries on; cancels when stopped', () => {
    const pattern = emptyPattern();
    pattern.clap = pattern.clap.map(() => true);
    const st: PlayState = { isPlaying: true, tempo: 120, anchor: { serverTime: 0, beat: 0 }, pattern };
    const r = rig(st);
    r.now = 0;
    r.s.tick();
    r.now = 10_000; // the timer slept for 10 s
    r.run(10_300);
    // Step 0, then nothing until 10 s, then every step again from there.
    expect(r.played()).toEqual([0, 10, 10.125, 10.25, 10.375]);
    r.setState({ ...st, isPlaying: false });
    r.s.tick();
    expect(r.cancelled).toEqual([10.3]);
    expect(r.played()).toEqual([0, 10, 10.125, 10.25]);
  });
});
