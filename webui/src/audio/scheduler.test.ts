import { describe, expect, it } from 'vitest';
import { emptyPattern } from '../session/protocol';
import { Scheduler } from './scheduler';
import { beatAt, timeOfBeat, timeOfStep, type PlayState, type Timeline, type Voice } from './timing';

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
  const sounding: boolean[] = [];
  const s = new Scheduler({
    getPlayState: () => state,
    followClock: (on) => sounding.push(on),
    serverNow: () => now,
    toAudio: (t) => t / 1000, // what is heard: audio clock = server clock, in seconds
    audioNow,
    clockReady: opts.ready,
    play: (voice, when) => (when < audioNow() - 0.01 ? dropped : queued).push({ voice, when }),
    cancelFrom: (w) => {
      cancelled.push(w);
      // As AudioEngine.cancelFrom: at or after w, and not started yet.
      for (let i = queued.length - 1; i >= 0; i--) if (queued[i]!.when >= w && queued[i]!.when > audioNow()) queued.splice(i, 1);
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
    sounding,
    /** Everything a timeline gives up to where the scheduler has looked ahead to (s). */
    upToHorizon: (times: number[]) => times.filter((t) => t < (now + (opts.latencyMs ?? 0) + 100) / 1000),
    get state() {
      return state;
    },
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

/** Step times of global steps [first, last] on a timeline. */
const stepTimes = (tl: Timeline, first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => timeOfStep(tl, first + i) / 1000);

const LEAD = 300;

/**
 * A change made at server time `now`, as the server makes it (appliance/timeline.go): a tempo
 * change lands on the first whole beat, a stop on the first step, at least LEAD ahead.
 */
function land(st: PlayState, change: { tempo: number } | { stop: true }, now: number): PlayState {
  const unit = 'stop' in change ? 0.25 : 1;
  const beat = Math.max(0, Math.ceil(beatAt(st, now + LEAD) / unit - 1e-9) * unit);
  const anchor = { serverTime: timeOfBeat(st, beat), beat, tempoBefore: beat <= st.anchor.beat ? st.anchor.tempoBefore || st.tempo : st.tempo };
  return 'stop' in change ? { ...st, isPlaying: false, anchor } : { ...st, tempo: change.tempo, anchor };
}

const playing = (tempo: number, serverTime = 0, pattern = allKick()): PlayState => ({
  isPlaying: true,
  tempo,
  anchor: { serverTime, beat: 0 },
  pattern,
});

/** Each value once, in order: no step doubled. */
const strictlyRising = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe('Scheduler', () => {
  it('schedules every step once, ahead of time, at the anchored times', () => {
    const r = rig(playing(120, 1000));
    r.run(3000);
    // Steps at 1000, 1125, ... up to 3100 (the look-ahead reaches 3100).
    expect(r.played()).toEqual(Array.from({ length: 17 }, (_, i) => (1000 + i * 125) / 1000));
  });

  it('300 → 60 BPM: the change lands on the next beat a lead away, nothing moves before it', () => {
    const st = playing(300);
    const r = rig(st);
    r.run(1000);
    const slow = land(st, { tempo: 60 }, 1000); // made at 1000: beat 6 (1200) is the first a lead away
    expect(slow.anchor).toEqual({ serverTime: 1400, beat: 7, tempoBefore: 300 });
    r.now = 1050; // the message arrives 50 ms later
    r.setState(slow);
    r.run(3000);
    expect(r.played()).toEqual([...stepTimes(st, 0, 27), ...stepTimes(slow, 28, 34)]);
    expect(r.cancelled).toEqual([]); // nothing past the boundary had been handed over yet
    expect(r.dropped).toEqual([]);
  });

  it('60 → 300 BPM: no step goes missing or doubles', () => {
    const st = playing(60);
    const r = rig(st);
    r.run(1050);
    const fast = land(st, { tempo: 300 }, 1050);
    r.now = 1100;
    r.setState(fast);
    r.run(3000);
    const boundary = fast.anchor.beat * 4;
    expect(r.played()).toEqual(r.upToHorizon([...stepTimes(st, 0, boundary - 1), ...stepTimes(fast, boundary, 4 * 12)]));
  });

  it('moves notes handed past the boundary when the message comes late, keeps those before it', () => {
    const st = playing(120, 500);
    const r = rig(st, { latencyMs: 150 }); // the audio clock runs 150 ms ahead: more is handed over
    r.run(1300);
    const slower = land(st, { tempo: 90 }, 900); // made at 900, lands on beat 2 (1500)…
    expect(slower.anchor.serverTime).toBe(1500);
    r.setState(slower); // …and reaches this phone 400 ms later, after steps up to 1500 were handed over
    r.run(2500);
    expect(r.cancelled).toEqual([1.5]);
    expect(r.played()).toEqual(r.upToHorizon([...stepTimes(st, 0, 7), ...stepTimes(slower, 8, 40)]));
  });

  it('a second change before the first has landed keeps the beats between at their tempo', () => {
    const st = playing(120);
    const r = rig(st);
    r.run(1000);
    const first = land(st, { tempo: 60 }, 1000); // beat 3 at 1500
    r.setState(first);
    r.run(1300);
    const second = land(first, { tempo: 240 }, 1300); // the lead reaches 1600, past beat 3: lands on beat 4 at 2500
    expect(second.anchor).toEqual({ serverTime: 2500, beat: 4, tempoBefore: 60 });
    r.setState(second); // the state now says nothing of 120 BPM before 1500
    r.run(3000);
    const played = r.played();
    expect(strictlyRising(played)).toBe(true);
    expect(played).toEqual(r.upToHorizon([...stepTimes(st, 0, 11), ...stepTimes(first, 12, 15), ...stepTimes(second, 16, 40)]));
  });

  it('stop lands on a step: every step before it plays, none after', () => {
    const st = playing(120, 500);
    const r = rig(st, { latencyMs: 150 });
    r.run(1000);
    const stop = land(st, { stop: true }, 1000); // lands on step 7 (1375)
    expect(stop.anchor).toEqual({ serverTime: 1375, beat: 1.75, tempoBefore: 120 });
    r.now = 1100;
    r.setState(stop);
    r.run(3000);
    expect(r.played()).toEqual(stepTimes(st, 0, 6));
  });

  it('starts afresh on a restart it did not see stop', () => {
    const st = playing(120);
    const r = rig(st);
    r.run(2000); // 16 steps in
    const again = playing(120, 2250); // stop + play within one tick
    r.setState(again);
    r.run(2600);
    expect(r.played().filter((w) => w > 2.1)).toEqual(stepTimes(again, 0, 3));
  });

  it('a tempo change in the count-in applies from beat 0', () => {
    const st = playing(120, 1000);
    const r = rig(st);
    r.run(800);
    const faster = { ...st, tempo: 240 }; // the anchor stays: the count-in had a lead to spare
    r.setState(faster);
    r.run(2000);
    expect(r.played()).toEqual(r.upToHorizon(stepTimes(faster, 0, 40)));
  });

  it('hands notes to the audio clock ahead of it on a high-latency output (Bluetooth)', () => {
    // The audio clock runs 150 ms ahead of what is heard: a note for server time t goes at
    // audio time t, which must still be ahead of the audio clock when it is handed over.
    const r = rig(playing(120, 500), { latencyMs: 150 });
    r.run(3000);
    expect(r.dropped).toEqual([]);
    expect(r.played()).toEqual(Array.from({ length: 22 }, (_, i) => (500 + i * 125) / 1000));
  });

  it('rides out a 200 ms main-thread stall without a late note', () => {
    const r = rig(playing(120, 500), { latencyMs: 41 });
    r.run(1000);
    r.now = 1200; // no tick for 200 ms
    r.run(2000);
    expect(r.dropped).toEqual([]);
    expect(r.played()).toEqual(Array.from({ length: 14 }, (_, i) => (500 + i * 125) / 1000));
  });

  it('waits for the first clock sample before scheduling anything', () => {
    let ready = false;
    const r = rig(playing(120), { ready: () => ready });
    r.run(500);
    expect(r.played()).toEqual([]);
    ready = true;
    r.run(700);
    expect(r.played()).toEqual([0.5, 0.625, 0.75]);
  });

  it('tells the clock when notes are sounding, so it slews rather than steps then', () => {
    const r = rig(playing(120, 1000));
    expect(r.sounding).toEqual([]);
    r.s.tick();
    expect(r.sounding).toEqual([false]); // from Play on, the clock slews
    r.run(1500);
    expect(r.sounding.at(-1)).toBe(true);
    r.setState(land(r.state!, { stop: true }, 1500));
    r.run(3000);
    expect(r.sounding.at(-1)).toBe(false);
  });

  it('skips the notes missed while asleep, then carries on', () => {
    const pattern = emptyPattern();
    pattern.clap = pattern.clap.map(() => true);
    const r = rig(playing(120, 0, pattern));
    r.now = 0;
    r.s.tick();
    r.now = 10_000; // the timer slept for 10 s
    r.run(10_300);
    // Step 0, then nothing until 10 s, then every step again from there.
    expect(r.played()).toEqual([0, 10, 10.125, 10.25, 10.375]);
  });

  it('cancels what has not sounded when the session goes away', () => {
    const r = rig(playing(120));
    r.run(1050); // step 9 (1125) handed over, not sounded
    r.setState(null);
    r.s.tick();
    expect(r.cancelled).toEqual([1.05]);
    expect(r.played().at(-1)).toBe(1);
  });
});
