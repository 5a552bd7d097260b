import { describe, expect, it } from 'vitest';
import { ClockEstimator, SleepDetector, SLEW_MS_PER_S } from './clock';

/** A seeded normal(mean, sd) generator, clipped at 0 like a real delay. */
function delays(seed: number, mean: number, sd: number): () => number {
  let x = seed >>> 0;
  const uniform = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x + 1) / 4294967297;
  };
  return () => Math.max(0, mean + sd * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

/**
 * Pings every `everyMs` from local time `from` to `to` against a server clock that is
 * `offset + drift · t` ahead of ours, with independent one-way delays.
 */
function ping(c: ClockEstimator, o: { from: number; to: number; everyMs: number; offset: number; drift?: number; delay: () => number }) {
  for (let t0 = o.from; t0 < o.to; t0 += o.everyMs) {
    const there = t0 + o.delay();
    const serverTime = there + o.offset + (o.drift ?? 0) * there;
    c.addSample(t0, serverTime, there + o.delay());
  }
}

describe('ClockEstimator', () => {
  it('is 0 and not ready with no samples', () => {
    const c = new ClockEstimator();
    expect(c.offset).toBe(0);
    expect(c.ready).toBe(false);
    expect(c.serverNow(1000)).toBe(1000);
  });

  it('takes the midpoint of a symmetric round trip, to the microsecond', () => {
    const c = new ClockEstimator();
    // Server is 5000.25 ms ahead; 20 ms each way.
    c.addSample(1000, 1020 + 5000.25, 1040);
    c.follow(1040, false);
    expect(c.offset).toBe(5000.25);
    expect(c.serverNow(2000)).toBe(7000.25);
  });

  it('is unbiased under 20 ± 10 ms jitter each way, and tightens with more samples', () => {
    // Each sample alone is off by several ms; a minute of four pings a second is within 1 ms.
    const errors = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => {
      const c = new ClockEstimator();
      ping(c, { from: 0, to: 60_000, everyMs: 250, offset: 1234.5, delay: delays(seed, 20, 10) });
      return c.estimate(60_000) - 1234.5;
    });
    for (const e of errors) expect(Math.abs(e)).toBeLessThan(1.5);
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(Math.abs(mean)).toBeLessThan(0.5);
  });

  it('follows a clock that drifts 50 ppm', () => {
    const c = new ClockEstimator();
    ping(c, { from: 0, to: 240_000, everyMs: 250, offset: 300, drift: 50e-6, delay: delays(9, 20, 10) });
    // At 240 s the server is 312 ms ahead; a minute's worth of drift would be 3 ms.
    expect(Math.abs(c.estimate(240_000) - 312)).toBeLessThan(1.5);
  });

  it('leaves out samples whose round trip was far slower than usual', () => {
    const c = new ClockEstimator();
    ping(c, { from: 0, to: 20_000, everyMs: 250, offset: 250, delay: delays(3, 5, 1) });
    // Retransmissions: 300 ms on the way back only (the offset looks 150 ms off).
    for (let i = 0; i < 8; i++) c.addSample(20_000 + i * 100, 20_000 + i * 100 + 5 + 250, 20_000 + i * 100 + 310);
    expect(Math.abs(c.estimate(21_000) - 250)).toBeLessThan(0.5);
    expect(c.bestRtt).toBeLessThan(10);
  });

  it('steps while nothing sounds, and slews at most SLEW_MS_PER_S while notes play', () => {
    const c = new ClockEstimator();
    c.addSample(0, 10 + 100, 20); // 100 ms ahead
    c.follow(20, true); // the first estimate is taken at once, even while playing
    expect(c.offset).toBe(100);
    c.reset();
    c.addSample(1000, 1010 + 130, 1020); // now 130: 30 ms away
    c.follow(1020, false);
    expect(c.offset).toBe(130);

    c.addSample(2000, 2010 + 100, 2020); // pulls the estimate to 115
    c.addSample(2100, 2110 + 100, 2120);
    expect(c.estimate(2120)).toBeLessThan(120);
    c.follow(2120, true); // after a long gap, no more than a tick's worth
    expect(Math.abs(c.offset - 130)).toBeLessThanOrEqual(SLEW_MS_PER_S / 10 + 1e-9);
    let prev = c.offset;
    let t = 2145;
    for (; t <= 12_000; t += 25) {
      c.follow(t, true);
      expect(Math.abs(c.offset - prev)).toBeLessThanOrEqual((SLEW_MS_PER_S * 25) / 1000 + 1e-9);
      prev = c.offset;
    }
    expect(c.offset).toBeCloseTo(c.estimate(t - 25), 6); // and it gets there
  });

  it('is not ready after a reset (the page woke up), and forgets old samples', () => {
    const c = new ClockEstimator();
    c.addSample(0, 100, 2);
    expect(c.ready).toBe(true);
    c.reset();
    expect(c.ready).toBe(false);
    expect(c.offset).toBe(0);
    for (let i = 0; i < 3; i++) c.addSample(i * 10, i * 10 + 1 + 99, i * 10 + 2); // offset 99
    c.addSample(400_000, 400_000 + 5 + 50, 400_010); // offset 50, minutes later
    expect(c.sampleCount).toBe(1);
    expect(c.estimate(400_010)).toBe(50);
    c.addSample(500_000, 100, 400_000); // negative round trip
    c.addSample(500_000, Number.NaN, 500_010);
    expect(c.sampleCount).toBe(1);
  });
});

describe('SleepDetector', () => {
  it('tells a device that slept (its monotonic clock stood still) from a tab that was hidden', () => {
    const d = new SleepDetector();
    expect(d.slept(1000, 1_700_000_001_000)).toBe(false);
    expect(d.slept(61_000, 1_700_000_061_003)).toBe(false); // hidden a minute: both clocks ran on
    expect(d.slept(61_025, 1_700_000_361_028)).toBe(true); // asleep five minutes: only the wall clock ran
    expect(d.slept(61_050, 1_700_000_361_053)).toBe(false);
  });
});
