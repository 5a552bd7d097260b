// What the sync lab injects into every measured page before the app runs (page.addInitScript
// serialises this function, so it must not use anything from outside its own body).
// It records every scheduled audio onset with the wall-clock moment it will be heard, marks the
// ones the app cancels before they start, and samples each AudioContext's output timestamp so the
// lab can tell how steady the browser's audio clock itself is.
export function labInit() {
  // Kick only: no metronome click, so every 16th-note step is exactly one OscillatorNode.
  try {
    localStorage.setItem('jamd.sound', JSON.stringify({ volume: 0.8, muted: false, click: false }));
  } catch {
    /* no storage: the app's default click would add onsets; the lab reports it */
  }

  const MAX_ONSETS = 100_000;
  const MAX_STAMPS = 20_000;
  const onsets = [];
  const stamps = []; // [ctx, performance.now(), currentTime, ts.contextTime, ts.performanceTime]
  const contexts = []; // {ctx, info}
  const ctxIndex = new WeakMap();
  const byNode = new WeakMap();

  // The same mapping the app is meant to use: the output timestamp pairs an audio-clock time
  // with the performance.now() at which it is heard.
  const stampOf = (ctx) => {
    const ts = typeof ctx.getOutputTimestamp === 'function' ? ctx.getOutputTimestamp() : undefined;
    if (ts && ts.contextTime) return { contextTime: ts.contextTime, performanceTime: ts.performanceTime, real: true };
    return { contextTime: ctx.currentTime, performanceTime: performance.now(), real: false };
  };

  const S = AudioScheduledSourceNode.prototype;
  const origStart = S.start;
  const origStop = S.stop;
  S.start = function (when) {
    const ctx = this.context;
    const ts = stampOf(ctx);
    const current = ctx.currentTime;
    const r = origStart.apply(this, arguments); // throws (and records nothing) if misused
    const w = typeof when === 'number' ? when : 0;
    if (onsets.length < MAX_ONSETS) {
      const o = {
        id: onsets.length + 1,
        kind: this.constructor.name,
        ctx: ctxIndex.get(ctx) ?? -1,
        when: w,
        // How far ahead of the audio clock the note was handed over (ms); < 0 means late.
        lead: (w - current) * 1000,
        heard: performance.timeOrigin + ts.performanceTime + (w - ts.contextTime) * 1000,
        realStamp: ts.real,
        at: performance.timeOrigin + performance.now(),
        cancelled: false,
      };
      onsets.push(o);
      byNode.set(this, o);
    }
    return r;
  };
  S.stop = function (when) {
    const r = origStop.apply(this, arguments);
    const o = byNode.get(this);
    // Stopped before it started, with no time or a time before its start: it never sounds.
    if (o && !o.cancelled && this.context.currentTime < o.when && (typeof when !== 'number' || when <= o.when)) {
      o.cancelled = true;
      o.cancelledAt = performance.timeOrigin + performance.now();
    }
    return r;
  };

  // Know every AudioContext the app makes: its state, latencies, and a steady sample of stamps.
  const Orig = window.AudioContext;
  if (Orig) {
    window.AudioContext = class extends Orig {
      constructor(...args) {
        super(...args);
        const info = {
          id: contexts.length,
          options: args[0] ?? null,
          createdAt: performance.timeOrigin + performance.now(),
          sampleRate: this.sampleRate,
          baseLatency: this.baseLatency,
          outputLatencies: [],
          states: [{ state: this.state, at: performance.timeOrigin + performance.now() }],
        };
        ctxIndex.set(this, info.id);
        contexts.push({ ctx: this, info });
        this.addEventListener('statechange', () => info.states.push({ state: this.state, at: performance.timeOrigin + performance.now() }));
      }
    };
  }
  setInterval(() => {
    for (const { ctx, info } of contexts) {
      if (ctx.state !== 'running') continue;
      const ts = ctx.getOutputTimestamp();
      if (stamps.length < MAX_STAMPS) stamps.push([info.id, performance.now(), ctx.currentTime, ts.contextTime, ts.performanceTime]);
      const ol = ctx.outputLatency;
      if (info.outputLatencies.at(-1) !== ol) info.outputLatencies.push(ol);
    }
  }, 50);

  window.__synclab = {
    /** Every AudioContext is running (the lab's click unlocked it). */
    running: () => contexts.length > 0 && contexts.every(({ ctx }) => ctx.state === 'running'),
    dump: () => ({
      timeOrigin: performance.timeOrigin,
      visibility: document.visibilityState,
      sound: localStorage.getItem('jamd.sound'),
      onsets,
      stamps,
      contexts: contexts.map(({ ctx, info }) => ({ ...info, state: ctx.state, outputLatency: ctx.outputLatency, baseLatency: ctx.baseLatency })),
    }),
  };
}
