// Reconnect delays: exponential, capped, with jitter so a room full of phones
// that lost the box at the same moment do not all knock at the same instant.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay that is random: 0.5 means the delay is in [d/2, d]. */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, maxMs: 10_000, factor: 2, jitter: 0.5 };

/** Delay before retry number `attempt` (0 = first retry); `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number = Math.random, o: BackoffOptions = defaultBackoff): number {
  const n = Math.max(0, Math.floor(attempt));
  const ceiling = Math.min(o.maxMs, o.baseMs * Math.pow(o.factor, Math.min(n, 30)));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling * (1 - o.jitter) + ceiling * o.jitter * r);
}
