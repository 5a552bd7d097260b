// The sync lab: how well do phones play in time? Runs the real jamd on loopback, optionally behind
// a proxy that delays every TCP chunk (synclab-proxy.mjs), opens N pages of the web app in
// Debian's chromium (fake audio sink: its clock runs, nothing sounds), and a conductor on a direct
// WebSocket that hosts the session, sets a kick on all 16 steps and plays / changes tempo / stops.
// Every page records each scheduled onset and when it will be heard (synclab-page.mjs); the lab
// compares them with the server's timeline and with each other (synclab-analyze.mjs).
//
//   node e2e/synclab.mjs [--jitter 20,10 | --jitter 0] [--pages 4] [--warmup 90] [--play 8,8]
//        [--cycles 2] [--tempos 120,100,132] [--short] [--max-p95 MS] [--strict-steps] [--label L]
//
// Figures go to stdout and webui/e2e-output/sync-lab-<label>.json; the exit code is 1 when a
// bound given is broken, 2 when the lab itself failed.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { checkChromium, chromiumArgs, chromiumPath, freePort, Jamd, jamdBinary, tempDir } from './jamd.mjs';
import { analyze, buildTimeline, WHERE } from './synclab-analyze.mjs';
import { labInit } from './synclab-page.mjs';
import { startJitterProxy } from './synclab-proxy.mjs';

function options() {
  const { values: v } = parseArgs({
    options: {
      jitter: { type: 'string', default: '20,10' },
      pages: { type: 'string', default: '4' },
      warmup: { type: 'string' },
      play: { type: 'string' },
      cycles: { type: 'string' },
      gap: { type: 'string' },
      tempos: { type: 'string', default: '120,100,132' },
      short: { type: 'boolean', default: false },
      'max-p95': { type: 'string' },
      'strict-steps': { type: 'boolean', default: false },
      label: { type: 'string' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) {
    console.log(`usage: node e2e/synclab.mjs [options]
  --jitter MEAN,SD   delay every TCP chunk by a normal delay (ms; default 20,10); 0: no proxy
  --pages N          measured pages (default 4)
  --warmup S         seconds after everyone joined before the first play (default 90, a band setting up:
                     the clock estimate needs many samples under jitter; --short 4)
  --play S1,S2       seconds from play to the tempo change, and from it to stop (default 8,8; --short 4,4)
  --cycles R         play/tempo-change/stop cycles (default 2)
  --gap S            seconds after each stop (default 2; --short 1.5)
  --tempos A,B,C     cycle i plays tempos[i] then tempos[i+1] (wrapping; default 120,100,132)
  --short            the CI preset: the shorter times above
  --max-p95 MS       fail if any page-vs-server or page-vs-page p95 exceeds MS
  --strict-steps     fail on any missing or doubled step
  --label L          names the output file e2e-output/sync-lab-L.json
  --seed N           the proxy's random seed (default 1)`);
    process.exit(0);
  }
  const nums = (s, what) => {
    const a = String(s)
      .split(',')
      .map((x) => Number(x.trim()));
    if (a.some((x) => !Number.isFinite(x) || x < 0)) throw new Error(`${what}: not a list of numbers: ${s}`);
    return a;
  };
  const [mean = 0, sd = 0] = nums(v.jitter, '--jitter');
  const jitter = mean > 0 || sd > 0 ? { mean, sd } : null;
  const [play1, play2 = play1] = nums(v.play ?? (v.short ? '4,4' : '8,8'), '--play');
  const o = {
    jitter,
    pages: nums(v.pages, '--pages')[0],
    warmup: nums(v.warmup ?? (v.short ? 4 : 90), '--warmup')[0],
    play: [play1, play2],
    cycles: nums(v.cycles ?? 2, '--cycles')[0],
    gap: nums(v.gap ?? (v.short ? 1.5 : 2), '--gap')[0],
    tempos: nums(v.tempos, '--tempos'),
    maxP95: v['max-p95'] === undefined ? null : nums(v['max-p95'], '--max-p95')[0],
    strictSteps: v['strict-steps'],
    seed: nums(v.seed, '--seed')[0],
    short: v.short,
  };
  if (!(o.pages >= 1 && o.pages <= 20)) throw new Error('--pages: 1 to 20');
  if (!(o.cycles >= 1 && o.cycles <= 20)) throw new Error('--cycles: 1 to 20');
  if (o.tempos.some((t) => t < 20 || t > 300)) throw new Error('--tempos: 20 to 300 BPM');
  o.label = v.label ?? `${jitter ? `jitter-${mean}-${sd}` : 'loopback'}${v.short ? '-short' : ''}`;
  if (!/^[\w.-]+$/.test(o.label)) throw new Error('--label: letters, digits, . _ - only');
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const OUT = resolve(import.meta.dirname, '..', 'e2e-output');

async function main() {
  let o;
  try {
    o = options();
  } catch (e) {
    console.error(`sync lab: ${e.message}`);
    return 2;
  }
  // Everything the lab starts is stopped here, newest first, whatever happens.
  const cleanups = [];
  const cleanup = async () => {
    while (cleanups.length) {
      const f = cleanups.pop();
      await Promise.race([f().catch((e) => console.error(`sync lab: cleanup: ${e.message}`)), sleep(10_000)]);
    }
  };
  // Hard limit on the whole run: the scenario's own length plus room for setup on a slow machine.
  const scenarioS = o.warmup + o.cycles * (o.play[0] + o.play[1] + o.gap + 1);
  const limitMs = (scenarioS + 180) * 1000;
  const watchdog = setTimeout(async () => {
    console.error(`sync lab: gave up after ${Math.round(limitMs / 1000)} s`);
    await cleanup();
    process.exit(2);
  }, limitMs);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      await cleanup();
      process.exit(130);
    });
  }
  try {
    return await run(o, cleanups);
  } catch (e) {
    console.error(`sync lab failed: ${e.stack ?? e}`);
    return 2;
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
}

/** What was built before webui/src last changed: jamd embeds webui/dist as it was when built. */
function staleBuild() {
  const webui = resolve(import.meta.dirname, '..');
  try {
    const changed = Math.max(...readdirSync(join(webui, 'src'), { recursive: true }).map((f) => statSync(join(webui, 'src', f)).mtimeMs));
    if (statSync(join(webui, 'dist', 'index.html')).mtimeMs < changed) return 'webui/dist';
    if (process.env.JAMD_BIN && statSync(process.env.JAMD_BIN).mtimeMs < changed) return `the jamd binary ${process.env.JAMD_BIN}`;
  } catch {
    /* nothing to compare */
  }
  return null;
}

async function run(o, cleanups) {
  checkChromium();
  const stale = staleBuild();
  if (stale) console.error(`sync lab: warning: webui/src changed after ${stale} was built: npm run build, then rebuild jamd, to measure the app as it is now`);
  const tmp = tempDir('jamd-synclab-');
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  const bin = jamdBinary(tmp);
  accessSync(bin, constants.X_OK); // Jamd.start would die of an unhandled spawn error instead
  const jamd = new Jamd(bin, await freePort(), join(tmp, 'data'), ['--max-participants', String(o.pages + 1)]);
  cleanups.push(() => jamd.stop());
  await jamd.start();

  let proxy = null;
  let base = jamd.base;
  if (o.jitter) {
    proxy = await startJitterProxy({ targetPort: jamd.port, ...o.jitter, seed: o.seed });
    cleanups.push(() => proxy.close());
    base = `http://127.0.0.1:${proxy.port}`;
  }

  // The conductor: straight to jamd, so the server's timeline is known exactly.
  const conductor = await Conductor.open(`ws://127.0.0.1:${jamd.port}/ws`);
  cleanups.push(async () => conductor.close());
  const created = await conductor.request('session:create', { userName: 'Conductor' });
  const code = created.roomCode;
  conductor.timeline.push({ type: 'initial', ...created.state, recvAt: Date.now() });
  for (let step = 0; step < 16; step++) await conductor.request('pattern:set-step', { track: 'kick', step, on: true });
  for (const t of ['snare', 'hihat', 'clap']) {
    if (created.state.pattern[t].some(Boolean)) throw new Error(`a new session has ${t} steps on`);
  }

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [...chromiumArgs, '--disable-audio-output', '--autoplay-policy=no-user-gesture-required'],
    headless: true,
    timeout: 60_000,
    // The lab's own handlers close everything, the browser included, on Ctrl-C.
    handleSIGINT: false,
    handleSIGTERM: false,
  });
  cleanups.push(() => browser.close());

  const pages = await Promise.all(
    Array.from({ length: o.pages }, async (_, i) => {
      const label = `P${i + 1}`;
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true });
      await ctx.addInitScript(labInit);
      const page = await ctx.newPage();
      page.setDefaultTimeout(30_000);
      const errors = [];
      page.on('console', (m) => m.type() === 'error' && errors.length < 100 && errors.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => errors.length < 100 && errors.push(`pageerror: ${e.message}`));
      // Join by the share link, typing a name, as a person would.
      await page.goto(`${base}/jam/${code}`);
      await page.getByLabel('Your name').fill(label);
      await page.getByRole('button', { name: 'Join', exact: true }).click();
      await page.getByTestId('room-code').waitFor();
      // The first tap makes the AudioContext.
      await page.getByTestId('room-code').click();
      await page.waitForFunction(() => window.__synclab?.running(), null, { timeout: 15_000, polling: 100 });
      return { label, page, errors };
    }),
  );
  console.log(`# sync lab ${o.label}: jamd ${jamd.base}, pages via ${base}, room ${code}, ${o.pages} pages joined and sounding`);

  proxy?.reset();
  const clockAtStart = await clockCheck(conductor, pages);

  // The scenario: warm up (clock sync settles), then play, change tempo mid-play, stop; repeat.
  const tempo = (t) => conductor.request('state:tempo-change', { tempo: t });
  await sleep(o.warmup * 1000);
  let current = created.state.tempo;
  const plan = [];
  for (let c = 0; c < o.cycles; c++) {
    const a = o.tempos[c % o.tempos.length];
    const b = o.tempos[(c + 1) % o.tempos.length];
    plan.push(`${a}→${b}`);
    if (current !== a) await tempo(a);
    await conductor.request('state:playback-control', { isPlaying: true });
    await sleep(o.play[0] * 1000);
    await tempo(b);
    current = b;
    await sleep(o.play[1] * 1000);
    await conductor.request('state:playback-control', { isPlaying: false });
    await sleep(o.gap * 1000);
  }
  const endOfRecording = Date.now();

  const clockAtEnd = await clockCheck(conductor, pages);
  const dumps = await Promise.all(pages.map((p) => p.page.evaluate(() => window.__synclab.dump())));
  const proxyStats = proxy ? await proxy.stats() : null;
  const tl = buildTimeline(conductor.timeline);
  const result = analyze(
    tl,
    pages.map((p, i) => ({ label: p.label, ...dumps[i] })),
    endOfRecording,
  );

  const figures = {
    label: o.label,
    when: new Date().toISOString(),
    options: o,
    plan,
    jamdRoom: code,
    proxy: proxyStats,
    clockCheck: { start: clockAtStart, end: clockAtEnd },
    timeline: { events: conductor.timeline, segments: tl.segments, plays: tl.plays, discontinuities: tl.discontinuities },
    audio: dumps.map((d, i) => ({ page: pages[i].label, visibility: d.visibility, sound: d.sound, contexts: d.contexts })),
    pageErrors: Object.fromEntries(pages.map((p) => [p.label, p.errors])),
    // Every oscillator onset as [heard (epoch ms), when (s), lead (ms), cancelled], for a closer look.
    onsets: Object.fromEntries(
      dumps.map((d, i) => [
        pages[i].label,
        d.onsets.filter((x) => x.kind === 'OscillatorNode').map((x) => [Math.round(x.heard * 1000) / 1000, x.when, Math.round(x.lead * 1000) / 1000, x.cancelled ? 1 : 0]),
      ]),
    ),
    // Each page's output timestamps every 50 ms: [context, performance.now(), currentTime, ts.contextTime, ts.performanceTime].
    stamps: Object.fromEntries(dumps.map((d, i) => [pages[i].label, d.stamps])),
    ...result,
  };
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `sync-lab-${o.label}.json`);
  writeFileSync(file, JSON.stringify(figures, null, 1));
  report(figures, file);
  return verdict(figures, o);
}

/**
 * The lab's premise is that jamd's clock and every page's timeOrigin + performance.now() are one
 * clock. Checks it: each page's and jamd's clock against this process's, by the reading with the
 * shortest round trip of a few (loopback and CDP: well under a millisecond apart). Page − server, ms.
 */
async function clockCheck(conductor, pages) {
  const now = () => performance.timeOrigin + performance.now();
  const best = async (read) => {
    let b = null;
    for (let i = 0; i < 12; i++) {
      const t0 = now();
      const t = await read();
      const t1 = now();
      if (!b || t1 - t0 < b.rtt) b = { rtt: t1 - t0, offset: t - (t0 + t1) / 2 };
    }
    return b;
  };
  const server = await best(async () => Number((await conductor.request('clock:ping', { t0: 0 })).serverTime));
  const out = { serverMinusLab: server.offset, serverRtt: server.rtt, pages: {} };
  for (const p of pages) {
    const b = await best(() => p.page.evaluate(() => performance.timeOrigin + performance.now()));
    out.pages[p.label] = { pageMinusServer: b.offset - server.offset, uncertainty: (b.rtt + server.rtt) / 2 };
  }
  return out;
}

/** A WebSocket client of jamd that records every state event, with the time it came. */
class Conductor {
  static async open(url) {
    const c = new Conductor(new WebSocket(url));
    await new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`conductor: no connection to ${url} in 10 s`)), 10_000);
      c.ws.addEventListener('open', () => (clearTimeout(t), ok()));
      c.ws.addEventListener('error', () => (clearTimeout(t), fail(new Error(`conductor: cannot connect to ${url}`))));
    });
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.waiting = new Map();
    this.timeline = [];
    ws.addEventListener('message', (ev) => {
      const recvAt = Date.now();
      const m = JSON.parse(ev.data);
      const w = m.re && this.waiting.get(m.re);
      if (m.type === 'state:tempo-change' || m.type === 'state:playback-control') this.timeline.push({ type: m.type, ...m.data, sentAt: w?.sentAt, recvAt });
      if (!w) return;
      this.waiting.delete(m.re);
      if (m.type === 'error') w.fail(new Error(`conductor: ${m.data?.code}: ${m.data?.message}`));
      else w.ok(m.data);
    });
  }

  request(type, data, timeoutMs = 5000) {
    const id = `lab${this.next++}`;
    return new Promise((ok, fail) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        fail(new Error(`conductor: no reply to ${type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        sentAt: Date.now(),
        ok: (d) => (clearTimeout(t), ok(d)),
        fail: (e) => (clearTimeout(t), fail(e)),
      });
      this.ws.send(JSON.stringify({ type, id, data }));
    });
  }

  close() {
    this.ws.close();
  }
}

const f1 = (x) => (x === null || x === undefined ? '—' : x.toFixed(1));
const f2 = (x) => (x === null || x === undefined ? '—' : x.toFixed(2));

function report(f, file) {
  const o = f.options;
  const lines = [];
  const say = (s = '') => lines.push(s);
  say(`sync lab "${f.label}": ${o.pages} pages, ${o.jitter ? `jitter ${o.jitter.mean}±${o.jitter.sd} ms per chunk each way` : 'loopback, no proxy'}, ${f.plan.length} cycles (${f.plan.join(', ')}), ${f.expectedSteps} steps expected per page`);
  if (f.proxy) {
    const d = (x) => `mean ${f1(x.actual?.mean)} sd ${f1(x.actual?.sd)} ms (timer late p95 ${f2(x.timerLate?.p95)} max ${f2(x.timerLate?.max)})`;
    say(`proxy delays as delivered: to jamd ${d(f.proxy.clientToJamd)}; to pages ${d(f.proxy.jamdToClient)}`);
  }
  const cc = (c) => Object.entries(c.pages).map(([k, v]) => `${k} ${f2(v.pageMinusServer)}±${f2(v.uncertainty)}`).join(', ');
  say(`clocks, page − jamd (ms): at start ${cc(f.clockCheck.start)}; at end ${cc(f.clockCheck.end)}`);
  const c0 = f.audio[0]?.contexts[0];
  if (c0) say(`audio: sampleRate ${c0.sampleRate}, baseLatency ${c0.baseLatency * 1000} ms, outputLatency ${c0.outputLatency * 1000} ms`);
  for (const p of f.pages) {
    const c = p.clock;
    if (c) {
      say(
        `  ${p.label} audio clock: output-timestamp mapping moves by p50/p95/max ${f2(c.stepMs.p50)}/${f2(c.stepMs.p95)}/${f2(c.stepMs.max)} ms per 50 ms, ${c.glitches} steps > 1 ms, net ${f1(c.driftPpm)} ppm; currentTime ahead of heard ${f1(c.currentAheadMs.p50)} ms; stamp age p50/max ${f1(c.stampAgeMs.p50)}/${f1(c.stampAgeMs.max)} ms`,
      );
    }
  }
  say();
  say('page   onsets  matched   bias  |onset−server| p50    p95    max  as-played p95  max jump  missing  doubled  stray  late');
  for (const p of f.pages) {
    say(
      [
        p.label.padEnd(6),
        String(p.onsets).padStart(6),
        String(p.matched).padStart(8),
        f2(p.biasMs).padStart(6),
        f2(p.offsetMs.p50).padStart(19),
        f2(p.offsetMs.p95).padStart(6),
        f2(p.offsetMs.max).padStart(6),
        f2(p.offsetAsPlayedMs?.p95).padStart(14),
        f2(p.maxJumpMs.ms).padStart(9),
        String(p.missing.total).padStart(8),
        String(p.doubled.total).padStart(8),
        String(p.stray.total).padStart(6),
        String(p.lateStarts).padStart(5),
      ].join(' '),
    );
  }
  const b = f.betweenPagesMs;
  say(`between pages |a−b| (ms): p50 ${f2(b.p50)}  p95 ${f2(b.p95)}  max ${f2(b.max)}  (${b.n} pairs)`);
  say(`where          ${WHERE.map((w) => w.padStart(7)).join('')}    total`);
  for (const k of ['missing', 'doubled', 'stray']) say(`${k.padEnd(15)}${WHERE.map((w) => String(f[k][w]).padStart(7)).join('')}  ${String(f[k].total).padStart(7)}`);
  say(`(expected steps by where: ${Object.entries(f.expectedByWhere).map(([k, v]) => `${k} ${v}`).join(', ')}; "late" = handed to audio after its time)`);
  const errs = Object.entries(f.pageErrors).filter(([, e]) => e.length);
  for (const [label, e] of errs) say(`${label} logged ${e.length} errors, first: ${e[0]}`);
  for (const p of f.pages) if (p.fallbackStamps) say(`${p.label}: ${p.fallbackStamps} onsets timed without an output timestamp`);
  for (const a of f.audio) {
    if (a.contexts.some((c) => c.state !== 'running')) say(`${a.page}: an AudioContext was ${a.contexts.map((c) => c.state).join('/')} at the end`);
    if (a.visibility !== 'visible') say(`${a.page} was ${a.visibility}: timers throttled, figures suspect`);
    if (!/"click":false/.test(a.sound ?? '')) say(`${a.page} sound settings ${a.sound}: the click is on, counts are off`);
  }
  for (const d of f.timeline.discontinuities) if (Math.abs(d.diffBeats) > 1e-3) say(`server re-anchored off the beat count by ${d.diffBeats} beats at ${d.time}`);
  say(`figures: ${file}`);
  console.log(lines.join('\n'));
}

function verdict(f, o) {
  const bad = [];
  if (o.maxP95 !== null) {
    for (const p of f.pages) if (!(p.offsetMs.p95 <= o.maxP95)) bad.push(`${p.label} is ${f2(p.offsetMs.p95)} ms off the server at p95 (bound ${o.maxP95})`);
    if (!(f.betweenPagesMs.p95 <= o.maxP95)) bad.push(`pages are ${f2(f.betweenPagesMs.p95)} ms apart at p95 (bound ${o.maxP95})`);
  }
  if (o.strictSteps && (f.missing.total || f.doubled.total)) bad.push(`${f.missing.total} steps missing, ${f.doubled.total} doubled`);
  if (f.expectedSteps === 0 || f.pages.some((p) => p.matched === 0)) bad.push('nothing was measured');
  for (const msg of bad) console.error(`sync lab: FAIL: ${msg}`);
  return bad.length ? 1 : 0;
}

// Node 20 has WebSocket only behind a flag: run again with it.
if (typeof WebSocket === 'undefined') {
  const child = spawn(process.execPath, ['--experimental-websocket', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 2 : 0)));
} else {
  process.exitCode = await main();
}
