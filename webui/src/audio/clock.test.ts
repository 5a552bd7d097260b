import { describe, expect, it } from 'vitest';
import { ClockEstimator, estimateOffset } from './clock';

describe('ClockEstimator', () => {
  it('is 0 with no samples', () => {
    const c = new ClockEstimator();
    expect(c.offset).toBe(0);
    expect(c.serverNow(1000)).toBe(1000);
  });

  it('takes the midpoint of a symmetric round trip', () => {
    const c = new ClockEstimator();
    // Server is 5000 ms ahead; 20 ms each way.
    c.addSample(1000, 1020 + 5000, 1040);
    expect(c.offset).toBe(5000);
    expect(c.serverNow(2000)).toBe(7000);
  });

  it('trusts the shortest round trips over slow, skewed ones', () => {
    const c = new ClockEstimator(16, 3);
    const trueOffset = 250;
    // Fast, symmetric samples.
    c.addSample(0, 5 + trueOffset, 10);
    c.addSample(100, 104 + trueOffset, 108);
    c.addSample(200, 206 + trueOffset, 212);
    // Slow samples whose delay was all on the way back (offset looks 150 ms off).
    for (let i = 0; i < 8; i++) c.addSample(1000 + i * 100, 1000 + i * 100 + 10 + trueOffset, 1000 + i * 100 + 310);
    expect(Math.abs(c.offset - trueOffset)).toBeLessThanOrEqual(1);
    expect(c.bestRtt).toBe(8);
  });

  it('forgets old samples and ignores impossible ones', () => {
    const c = new ClockEstimator(2, 1);
    c.addSample(0, 100, 2); // rtt 2, offset 99
    c.addSample(10, 10 + 50, 20); // rtt 10
    c.addSample(30, 30 + 60, 40); // rtt 10; the rtt-2 sample is dropped
    expect(c.sampleCount).toBe(2);
    expect(c.bestRtt).toBe(10);
    c.addSample(50, 100, 40); // negative rtt
    c.addSample(50, Number.NaN, 60);
    expect(c.sampleCount).toBe(2);
  });

  it('drops samples older than a minute, however short their round trips', () => {
    const c = new ClockEstimator();
    for (let i = 0; i < 3; i++) c.addSample(i * 10, i * 10 + 1 + 99, i * 10 + 2); // rtt 2, offset 99
    c.addSample(61_000, 61_000 + 5 + 50, 61_010); // rtt 10, offset 50, a minute later
    expect(c.sampleCount).toBe(1);
    expect(c.offset).toBe(50);
  });

  it('is not ready until a sample arrives, and again after a reset (the page woke up)', () => {
    const c = new ClockEstimator();
    expect(c.ready).toBe(false);
    c.addSample(0, 100, 2);
    expect(c.ready).toBe(true);
    c.reset();
    expect(c.ready).toBe(false);
    expect(c.offset).toBe(0);
  });

  it('uses the median of the best samples', () => {
    expect(
      estimateOffset(
        [
          { rtt: 1, offset: 10 },
          { rtt: 2, offset: 30 },
          { rtt: 3, offset: 20 },
          { rtt: 50, offset: 999 },
        ],
        3,
      ),
    ).toBe(20);
    expect(
      estimateOffset(
        [
          { rtt: 1, offset: 10 },
          { rtt: 2, offset: 20 },
        ],
        4,
      ),
    ).toBe(15);
  });
});
