// Server-clock estimate from clock:ping / clock:pong round trips (NTP-style).
// A sample's offset is only as good as its round trip is short, so the estimate is the
// median offset of the few samples with the shortest round trips among the latest ones.
// Samples expire after a minute, and the owner resets the estimate when the page wakes up:
// a phone's monotonic clock may stand still while it sleeps, so what was measured before no
// longer holds after.

export interface ClockSample {
  rtt: number;
  offset: number;
  /** Local time the sample was taken (its pong came back). */
  at?: number;
}

export class ClockEstimator {
  private samples: ClockSample[] = [];

  constructor(
    private readonly keep = 16,
    private readonly best = 3,
    private readonly maxAgeMs = 60_000,
  ) {}

  /** t0: local time the ping left; serverTime: the pong's stamp; t1: local time the pong came back. */
  addSample(t0: number, serverTime: number, t1: number): void {
    const rtt = t1 - t0;
    if (!Number.isFinite(rtt) || rtt < 0 || !Number.isFinite(serverTime)) return;
    this.samples = this.samples.filter((s) => s.at === undefined || t1 - s.at <= this.maxAgeMs);
    this.samples.push({ rtt, offset: serverTime - (t0 + t1) / 2, at: t1 });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  /** Server time minus local time, in ms; 0 until the first sample. */
  get offset(): number {
    return estimateOffset(this.samples, this.best);
  }

  /** The shortest round trip seen among the kept samples, or null. */
  get bestRtt(): number | null {
    return this.samples.length ? Math.min(...this.samples.map((s) => s.rtt)) : null;
  }

  /** Whether there is any sample to go by (nothing should be scheduled on a guess). */
  get ready(): boolean {
    return this.samples.length > 0;
  }

  serverNow(localNow: number): number {
    return localNow + this.offset;
  }

  /** Forgets every sample: after the page slept, the next pongs start a fresh estimate. */
  reset(): void {
    this.samples = [];
  }
}

export function estimateOffset(samples: readonly ClockSample[], best: number): number {
  if (samples.length === 0) return 0;
  const chosen = [...samples].sort((a, b) => a.rtt - b.rtt).slice(0, Math.max(1, best));
  const offsets = chosen.map((s) => s.offset).sort((a, b) => a - b);
  const mid = offsets.length >> 1;
  return offsets.length % 2 ? offsets[mid]! : (offsets[mid - 1]! + offsets[mid]!) / 2;
}

/** Epoch milliseconds from the monotonic clock: immune to wall-clock jumps while the page lives. */
export function localNow(): number {
  return performance.timeOrigin + performance.now();
}
