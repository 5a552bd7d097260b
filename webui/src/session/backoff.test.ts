import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultBackoff } from './backoff';

describe('backoffDelay', () => {
  it('doubles from the base and stays within [ceiling/2, ceiling]', () => {
    for (let a = 0; a < 6; a++) {
      const ceiling = Math.min(defaultBackoff.maxMs, defaultBackoff.baseMs * 2 ** a);
      expect(backoffDelay(a, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(a, () => 0.999999)).toBeLessThanOrEqual(ceiling);
      expect(backoffDelay(a, () => 0.999999)).toBeGreaterThan(ceiling * 0.99);
    }
  });

  it('is capped however many attempts failed', () => {
    expect(backoffDelay(50, () => 1)).toBe(defaultBackoff.maxMs);
    expect(backoffDelay(1e9, () => 0.5)).toBeLessThanOrEqual(defaultBackoff.maxMs);
  });

  it('spreads clients out (jitter)', () => {
    let x = 0.1;
    const rnd = () => (x = (x * 9301 + 49297) % 1);
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(4, rnd)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('treats odd inputs sanely', () => {
    expect(backoffDelay(-3, () => 0)).toBe(defaultBackoff.baseMs / 2);
    expect(backoffDelay(0, () => 7)).toBe(defaultBackoff.baseMs);
  });
});
