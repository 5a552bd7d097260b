// The server clock, as this device estimates it from clock:ping / clock:pong round trips.
//
// A sample (NTP-style) says: the server's clock minus ours was `offset` at local time `at`, give
// or take half the difference between the two one-way trips. On busy Wi-Fi that is several ms
// either way for each sample, and picking a few "best" samples does not help when both directions
// jitter alike. What does help is many samples: the client pings a few times a second, and the
// estimate is a least-squares line through the last few minutes of them (offset and drift, since a
// phone's clock and the box's run tens of ppm apart), leaving out samples whose round trip was
// far slower than usual (a retransmission, a queue). The drift is held towards 0 as far as the
// samples leave it uncertain (a ridge fit with a prior of ±50 ppm, what two quartz clocks do):
// over the first minute a plain fit's slope is mostly noise, and would move the estimate more
// than the drift itself does.
//
// What the music follows is not the estimate itself but `offset`, which follows the estimate:
// it steps while nothing sounds, and slews (at most SLEW_MS_PER_S) while notes are playing, so
// a new sample can never make the beat jump. A phone's monotonic clock may stand still while it
// sleeps, and then nothing measured before holds: SleepDetector tells, and the owner calls reset().

export interface ClockSample {
  rtt: number;
  offset: number;
  /** Local time the sample stands for: halfway between ping and pong. */
  at: number;
}

/** How fast the followed offset may move while notes play: 0.4% of real time, inaudible. */
export const SLEW_MS_PER_S = 4;
/** The estimate uses at most this many samples, and none older than MAX_AGE_MS. */
const KEEP = 1024;
const MAX_AGE_MS = 5 * 60_000;
/** The drift two quartz clocks typically have (50 ppm): the prior of the ridge fit. */
const TYPICAL_DRIFT = 50e-6;

export class ClockEstimator {
  private samples: ClockSample[] = [];
  private fit: { at: number; offset: number; drift: number } | null = null;
  /** The offset the music follows, and the local time it was last moved; null until a sample. */
  private followed: number | null = null;
  private followedAt = 0;

  /** t0: local time the ping left; serverTime: the pong's stamp; t1: local time the pong came back. */
  addSample(t0: number, serverTime: number, t1: number): void {
    const rtt = t1 - t0;
    if (!Number.isFinite(rtt) || rtt < 0 || !Number.isFinite(serverTime)) return;
    const at = (t0 + t1) / 2;
    this.samples.push({ rtt, offset: serverTime - at, at });
    while (this.samples.length > KEEP || t1 - this.samples[0]!.at > MAX_AGE_MS) this.samples.shift();
    this.fit = fitLine(this.samples);
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  /** Whether there is any sample to go by (nothing should be scheduled on a guess). */
  get ready(): boolean {
    return this.fit !== null;
  }

  /** The best estimate of server time minus local time at local time `local`, in ms; 0 without samples. */
  estimate(local: number): number {
    const f = this.fit;
    return f ? f.offset + f.drift * (local - f.at) : 0;
  }

  /**
   * Moves the followed offset towards the estimate: in one step when `steady` is false (nothing is
   * playing, or this is the first estimate), else by at most SLEW_MS_PER_S.
   */
  follow(local: number, steady: boolean): void {
    if (!this.fit) return;
    const target = this.estimate(local);
    if (this.followed === null || !steady) {
      this.followed = target;
    } else {
      // A long gap since the last call (a stalled or throttled timer) earns no bigger move.
      const max = (SLEW_MS_PER_S * Math.min(100, Math.max(0, local - this.followedAt))) / 1000;
      this.followed += Math.max(-max, Math.min(max, target - this.followed));
    }
    this.followedAt = local;
  }

  /** Server time minus local time, in ms, as the music follows it: 0 until the first sample. */
  get offset(): number {
    return this.followed ?? this.fit?.offset ?? 0;
  }

  /** The shortest round trip among the kept samples, or null. */
  get bestRtt(): number | null {
    return this.samples.length ? Math.min(...this.samples.map((s) => s.rtt)) : null;
  }

  serverNow(localNow: number): number {
    return localNow + this.offset;
  }

  /** Forgets every sample: after the page slept, the next pongs start a fresh estimate. */
  reset(): void {
    this.samples = [];
    this.fit = null;
    this.followed = null;
  }
}

/**
 * The least-squares line offset(at) through the samples whose round trip is not far slower than
 * usual, as the offset at the newest sample's time plus the drift; null without samples.
 */
export function fitLine(samples: readonly ClockSample[]): { at: number; offset: number; drift: number } | null {
  if (samples.length === 0) return null;
  const rtts = samples.map((s) => s.rtt).sort((a, b) => a - b);
  const median = rtts[rtts.length >> 1]!;
  const spread = rtts.map((r) => Math.abs(r - median)).sort((a, b) => a - b)[rtts.length >> 1]!;
  const good = samples.filter((s) => s.rtt <= median + 3 * spread + 1);
  const n = good.length;
  const t0 = good[0]!.at;
  let sx = 0;
  let sy = 0;
  for (const s of good) {
    sx += s.at - t0;
    sy += s.offset;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const s of good) {
    const dx = s.at - t0 - mx;
    sxx += dx * dx;
    sxy += dx * (s.offset - my);
  }
  // The samples' own scatter around a plain fit says how far the slope can be trusted.
  const plain = sxx > 0 ? sxy / sxx : 0;
  let rss = 0;
  for (const s of good) rss += (s.offset - my - plain * (s.at - t0 - mx)) ** 2;
  const scatter = n > 2 ? rss / (n - 2) : 0;
  const drift = sxx > 0 ? sxy / (sxx + scatter / TYPICAL_DRIFT ** 2) : 0;
  const at = samples[samples.length - 1]!.at;
  return { at, offset: my + drift * (at - t0 - mx), drift };
}

/**
 * Tells when the monotonic clock stood still (the device slept) by watching it against the wall
 * clock, which runs on through sleep. A tab that was only hidden keeps its clock samples.
 */
export class SleepDetector {
  private skew: number | null = null;

  /** Whether the two clocks moved apart by more than `toleranceMs` since the last call. */
  slept(local: number, wall: number, toleranceMs = 20): boolean {
    const skew = wall - local;
    const moved = this.skew !== null && Math.abs(skew - this.skew) > toleranceMs;
    this.skew = skew;
    return moved;
  }
}

/** Epoch milliseconds from the monotonic clock: immune to wall-clock jumps while the page lives. */
export function localNow(): number {
  return performance.timeOrigin + performance.now();
}
