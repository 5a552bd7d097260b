// The sync lab's analysis: the server's timeline from the state events the conductor saw, the
// steps that should have sounded, and how each page's onsets compare with them and with each
// other. Pure functions of recorded data. All times are epoch ms on this machine's one clock.

const STEPS_PER_BEAT = 4;
export const WHERE = ['start', 'tempo', 'stop', 'steady', 'idle'];

/**
 * The server's timeline. `events` are, in the order received: the session's initial state
 * ({tempo, isPlaying, anchor}) and then every state:tempo-change / state:playback-control
 * event's data. Each anchor starts a segment (time, beat, tempo) that holds until the next
 * anchor's time; a later anchor at or before an earlier one's time replaces it (a tempo change
 * during the count-in keeps the anchor and changes the tempo from it).
 */
export function buildTimeline(events) {
  let tempo = 120;
  let playing = false;
  const segments = [];
  const plays = [];
  const discontinuities = [];
  for (const e of events) {
    if (typeof e.tempo === 'number') tempo = e.tempo;
    const wasPlaying = playing;
    if (typeof e.isPlaying === 'boolean') playing = e.isPlaying;
    const a = e.anchor;
    if (!a || !Number.isFinite(Number(a.serverTime))) continue;
    const time = Number(a.serverTime);
    const beat = Number(a.beat ?? 0);
    // Does the beat count carry on across this anchor (it should, while playing)?
    const prev = segments.findLast((s) => s.start <= time);
    if (wasPlaying && playing && prev) discontinuities.push({ time, beat, expectedBeat: beatAt(prev, time), diffBeats: beat - beatAt(prev, time) });
    while (segments.length && segments.at(-1).start >= time) segments.pop();
    const from = segments.at(-1)?.tempo ?? tempo;
    segments.push({ start: time, beat, tempo });
    const play = plays.at(-1);
    if (!wasPlaying && playing) plays.push({ cycle: plays.length, start: time, end: null, changes: [], tempos: [tempo] });
    else if (wasPlaying && !playing && play) play.end = time;
    else if (wasPlaying && playing && play && 'tempo' in e) {
      if (time <= play.start) play.tempos = [tempo]; // changed during the count-in
      else {
        play.changes.push({ time, beat, from, to: tempo });
        play.tempos.push(tempo);
      }
    }
  }
  segments.forEach((s, i) => (s.end = segments[i + 1]?.start ?? Infinity));
  return { segments, plays, discontinuities };
}

function beatAt(seg, t) {
  return seg.beat + ((t - seg.start) * seg.tempo) / 60000;
}

/** Every step that should sound: step n (beat n/4) at each time inside a playing interval. */
export function expectedSteps(tl, endOfRecording) {
  const out = [];
  for (const p of tl.plays) {
    const pEnd = p.end ?? endOfRecording;
    const mine = [];
    for (const s of tl.segments) {
      const from = Math.max(s.start, p.start);
      const to = Math.min(s.end, pEnd);
      if (to <= from) continue;
      const stepMs = 60000 / s.tempo / STEPS_PER_BEAT;
      for (let n = Math.ceil(beatAt(s, from) * STEPS_PER_BEAT - 1e-6), guard = 0; guard < 100_000; n++, guard++) {
        const t = s.start + ((n / STEPS_PER_BEAT - s.beat) * 60000) / s.tempo;
        if (t >= to) break;
        if (t >= from) mine.push({ cycle: p.cycle, n, t, stepMs, tempo: s.tempo });
      }
    }
    const first = mine[0]?.n;
    const last = mine.at(-1)?.n;
    for (const x of mine) {
      x.where =
        x.n - first < 2
          ? 'start'
          : p.end !== null && last - x.n < 2
            ? 'stop'
            : p.changes.some((c) => Math.abs(x.n - c.beat * STEPS_PER_BEAT) <= 2)
              ? 'tempo'
              : 'steady';
    }
    out.push(...mine);
  }
  out.sort((a, b) => a.t - b.t);
  out.forEach((x, i) => (x.i = i));
  return out;
}

/** Where an onset that matches no step falls: around a start, a tempo change, a stop, or outside any play. */
function strayWhere(tl, x) {
  for (const p of tl.plays) {
    const end = p.end ?? Infinity;
    if (x < p.start - 1000 || x > end + 5000) continue;
    const stepMs = 15000 / p.tempos.at(-1);
    if (x >= end - stepMs / 2) return 'stop'; // anything after the stop
    if (x < p.start + 2 * stepMs) return 'start';
    if (p.changes.some((c) => Math.abs(x - c.time) <= 2 * 15000 / Math.min(c.from, c.to))) return 'tempo';
    return 'steady';
  }
  return 'idle';
}

function nearest(exp, x) {
  let lo = 0;
  let hi = exp.length - 1;
  if (hi < 0) return null;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (exp[mid].t < x) lo = mid + 1;
    else hi = mid;
  }
  const c = [exp[lo], exp[lo - 1]].filter(Boolean);
  return c.reduce((a, b) => (Math.abs(b.t - x) < Math.abs(a.t - x) ? b : a));
}

/** p50/p95/max (nearest rank) and the count. */
export function dist(values) {
  if (!values.length) return { n: 0, p50: null, p95: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.max(0, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: s.at(-1) };
}

const zeroWhere = () => Object.fromEntries(WHERE.map((w) => [w, 0]));

/**
 * How steady a page's audio clock is, from the stamps it sampled every 50 ms: each stamp maps
 * audio time to the performance.now() at which it is heard; `mapMs` is that mapping's offset
 * (performanceTime − contextTime·1000), which only moves when the audio clock and the system
 * clock disagree: by drift (slowly), or by a glitch (a late render callback: a step).
 */
export function audioClock(stamps, ctxId) {
  const all = stamps.filter((s) => s[0] === ctxId && s[3] > 0);
  // Chromium's first stamps after a context starts are off by 10, 20, even ~500 ms: figures
  // leave out the first second, and say separately how far off it was.
  const settled = all.length ? all[0][1] + 1000 : 0;
  const mine = all.filter((s) => s[1] >= settled);
  if (mine.length < 10) return null;
  const mapMs = (s) => s[4] - s[3] * 1000;
  const steps = (arr) => arr.slice(1).map((s, i) => mapMs(s) - mapMs(arr[i]));
  const d = steps(mine);
  const spanS = (mine.at(-1)[1] - mine[0][1]) / 1000;
  return {
    samples: mine.length,
    /** |change of the mapping| between consecutive samples 50 ms apart. */
    stepMs: dist(d.map(Math.abs)),
    glitches: d.filter((x) => Math.abs(x) > 1).length,
    /** Where the mapping ended up against where it began, per second of run (drift and glitches). */
    driftPpm: ((mapMs(mine.at(-1)) - mapMs(mine[0])) / (spanS * 1000)) * 1e6,
    startupStepMs: dist(steps(all.filter((s) => s[1] < settled + 50)).map(Math.abs)),
    /** How far the audio clock runs ahead of what is heard (currentTime − contextTime). */
    currentAheadMs: dist(mine.map((s) => (s[2] - s[3]) * 1000)),
    /** How stale a stamp is when read (performance.now() − performanceTime). */
    stampAgeMs: dist(mine.map((s) => s[1] - s[4])),
  };
}

/**
 * When an onset was heard by the stamp in force as it played (the first sample taken once the
 * audio clock had passed it), rather than by the one read when it was scheduled: the two differ
 * when the audio clock glitched in between. null if no sample came within 200 ms.
 */
function heardAsPlayed(stamps, timeOrigin, o) {
  let lo = 0;
  let hi = stamps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (stamps[mid][3] < o.when) lo = mid + 1;
    else hi = mid;
  }
  const s = stamps[lo];
  if (!s || s[3] - o.when > 0.2) return null;
  return timeOrigin + s[4] + (o.when - s[3]) * 1000;
}

/**
 * pages: [{label, timeOrigin, onsets, stamps}]. Returns per-page and between-page figures.
 * Only OscillatorNode onsets that were not cancelled count (the kick is one oscillator a step).
 */
export function analyze(tl, pages, endOfRecording) {
  const exp = expectedSteps(tl, endOfRecording);
  const perStep = exp.map(() => new Map()); // step → page label → onset time
  const total = { missing: zeroWhere(), doubled: zeroWhere(), stray: zeroWhere() };
  const out = [];
  for (const pg of pages) {
    const clock = audioClock(pg.stamps ?? [], 0);
    const stamps0 = (pg.stamps ?? []).filter((x) => x[0] === 0 && x[3] > 0); // in audio-time order
    const played = (o) => (o.ctx === 0 ? heardAsPlayed(stamps0, pg.timeOrigin, o) : null);
    const on = pg.onsets.filter((o) => o.kind === 'OscillatorNode' && !o.cancelled).sort((a, b) => a.heard - b.heard);
    const hits = exp.map(() => []);
    const stray = zeroWhere();
    const strays = [];
    for (const o of on) {
      const e = nearest(exp, o.heard);
      if (e && Math.abs(o.heard - e.t) <= Math.min(30, 0.4 * e.stepMs)) hits[e.i].push(o);
      else {
        const w = strayWhere(tl, o.heard);
        stray[w]++;
        if (strays.length < 50) {
          // asPlayedMs: placed by the stamp in force as it played, to tell a clock glitch from a bad plan.
          const p = e && played(o);
          strays.push({ heard: o.heard, where: w, nearestMs: e ? o.heard - e.t : null, asPlayedMs: p ? p - e.t : null, leadMs: o.lead });
        }
      }
    }
    const missing = zeroWhere();
    const doubled = zeroWhere();
    const errs = [];
    const playedErrs = [];
    const late = [];
    let jump = { ms: 0, at: null };
    let prev = null;
    const steps = []; // [cycle, step, onset − expected (ms) or null if missing, onsets matched]
    for (const e of exp) {
      const h = hits[e.i];
      steps.push([e.cycle, e.n, null, h.length]);
      if (!h.length) missing[e.where]++;
      if (h.length > 1) doubled[e.where]++;
      if (!h.length) continue;
      const o = h.reduce((a, b) => (Math.abs(b.heard - e.t) < Math.abs(a.heard - e.t) ? b : a));
      const err = o.heard - e.t;
      errs.push(err);
      steps.at(-1)[2] = Math.round(err * 1000) / 1000;
      const p = played(o);
      if (p !== null) playedErrs.push(p - e.t);
      if (o.lead < 0) late.push(o.lead);
      perStep[e.i].set(pg.label, o.heard);
      if (prev && prev.e.cycle === e.cycle && Math.abs(err - prev.err) > jump.ms) {
        jump = { ms: Math.abs(err - prev.err), at: e.t, step: e.n, cycle: e.cycle, where: e.where };
      }
      prev = { e, err };
    }
    for (const k of WHERE) {
      total.missing[k] += missing[k];
      total.doubled[k] += doubled[k];
      total.stray[k] += stray[k];
    }
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    out.push({
      label: pg.label,
      onsets: on.length,
      cancelled: pg.onsets.filter((o) => o.kind === 'OscillatorNode' && o.cancelled).length,
      otherKinds: [...new Set(pg.onsets.filter((o) => o.kind !== 'OscillatorNode').map((o) => o.kind))],
      matched: errs.length,
      biasMs: errs.length ? errs.reduce((a, b) => a + b, 0) / errs.length : null,
      offsetMs: dist(errs.map(Math.abs)),
      // The same onsets placed by the stamp in force when each played rather than the one read
      // when it was scheduled (an audio glitch in between moves what is heard).
      offsetAsPlayedMs: dist(playedErrs.map(Math.abs)),
      maxJumpMs: jump,
      lateStarts: late.length,
      // Onsets timed by currentTime/performance.now() because getOutputTimestamp gave nothing.
      fallbackStamps: on.filter((o) => !o.realStamp).length,
      missing: { ...missing, total: sum(missing) },
      doubled: { ...doubled, total: sum(doubled) },
      stray: { ...stray, total: sum(stray) },
      strays,
      steps,
      clock,
    });
  }
  const pairs = [];
  for (const m of perStep) {
    const v = [...m.values()];
    for (let i = 0; i < v.length; i++) for (let j = i + 1; j < v.length; j++) pairs.push(Math.abs(v[i] - v[j]));
  }
  const sumW = (o) => ({ ...o, total: Object.values(o).reduce((a, b) => a + b, 0) });
  return {
    expectedSteps: exp.length,
    expectedByWhere: exp.reduce((a, e) => ((a[e.where] = (a[e.where] ?? 0) + 1), a), {}),
    pages: out,
    betweenPagesMs: dist(pairs),
    missing: sumW(total.missing),
    doubled: sumW(total.doubled),
    stray: sumW(total.stray),
  };
}
