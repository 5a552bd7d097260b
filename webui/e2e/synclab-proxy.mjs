// The sync lab's delaying TCP proxy: listens on a free 127.0.0.1 port, forwards to jamd, and holds
// every chunk in each direction for an independent normal delay (clipped at 0) without ever
// reordering a direction's bytes. It runs in a worker thread so that the lab's own event loop
// (playwright, analysis) cannot stall it and add delay nobody asked for.
import { createConnection, createServer } from 'node:net';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/**
 * Starts the proxy in a worker. Returns {port, stats(), close()}: stats() is what the worker
 * actually did (planned and delivered delays per direction), close() ends the worker.
 */
export async function startJitterProxy({ targetPort, mean, sd, seed = 1 }) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { synclabProxy: true, targetPort, mean, sd, seed } });
  const replies = [];
  const port = await new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error('jitter proxy did not start within 10 s')), 10_000);
    worker.once('error', fail);
    worker.once('message', (m) => {
      clearTimeout(t);
      ok(m.port);
    });
  });
  worker.on('message', (m) => replies.shift()?.(m));
  worker.on('error', (e) => console.error(`jitter proxy: ${e.stack ?? e}`));
  return {
    port,
    stats: () =>
      new Promise((ok) => {
        const t = setTimeout(() => ok(null), 5000);
        replies.push((m) => {
          clearTimeout(t);
          ok(m.stats);
        });
        worker.postMessage('stats');
      }),
    /** Forget what was delivered so far: page loads are not what the lab measures. */
    reset: () => worker.postMessage('reset'),
    close: () => worker.terminate(),
  };
}

if (!isMainThread && workerData?.synclabProxy) runProxy(workerData);

function runProxy({ targetPort, mean, sd, seed }) {
  // Ahead of chromium for the CPU (on Linux this is the worker thread's own nice value; it needs
  // root, which CI is; elsewhere it stays as it was).
  try {
    setPriority(-10);
  } catch {
    /* not allowed: keep the default */
  }
  const normal = gaussian(mulberry32(seed));
  const delay = () => Math.max(0, mean + sd * normal());
  // Per direction: planned delay and how late the timer delivered past the planned moment (ms).
  const fresh = () => ({ planned: [], actual: [], late: [] });
  const stats = { up: fresh(), down: fresh(), connections: 0 };
  const note = (arr, v) => arr.length < 200_000 && arr.push(v);

  /** Forwards `from` to `to`, each chunk delivered at max(previous delivery, arrival + delay). */
  function delayed(from, to, dir) {
    const queue = [];
    let lastDue = 0;
    let timer = null;
    let ended = false;
    const flush = () => {
      timer = null;
      const now = performance.now();
      while (queue.length && queue[0].due <= now) {
        const c = queue.shift();
        if (!to.destroyed && !to.writableEnded) to.write(c.chunk);
        note(stats[dir].actual, now - c.at);
        note(stats[dir].late, now - c.due);
      }
      arm();
    };
    // One timer per direction, for the head of the queue: deliveries never overtake each other.
    const arm = () => {
      if (timer) return;
      if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0].due - performance.now()));
      else if (ended && !to.destroyed && !to.writableEnded) to.end();
    };
    from.on('data', (chunk) => {
      const at = performance.now();
      const d = delay();
      note(stats[dir].planned, d);
      lastDue = Math.max(lastDue, at + d);
      queue.push({ chunk, at, due: lastDue });
      arm();
    });
    from.on('end', () => {
      ended = true;
      arm();
    });
  }

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    stats.connections++;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true, noDelay: true });
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    delayed(client, upstream, 'up');
    delayed(upstream, client, 'down');
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
  parentPort.on('message', (m) => {
    if (m === 'stats') parentPort.postMessage({ stats: summarizeProxy(stats) });
    if (m === 'reset') Object.assign(stats, { up: fresh(), down: fresh() }); // measure from here on
  });
}

function summarizeProxy(stats) {
  const sum = (a) => {
    if (!a.length) return null;
    const s = [...a].sort((x, y) => x - y);
    const m = a.reduce((x, y) => x + y, 0) / a.length;
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    const sdv = Math.sqrt(a.reduce((x, y) => x + (y - m) ** 2, 0) / a.length);
    return { n: a.length, mean: m, sd: sdv, p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
  };
  const dir = (d) => ({ planned: sum(d.planned), actual: sum(d.actual), timerLate: sum(d.late) });
  return { connections: stats.connections, clientToJamd: dir(stats.up), jamdToClient: dir(stats.down) };
}

/** A small seeded PRNG, so a run's delays can be repeated. */
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller). */
function gaussian(rand) {
  return () => {
    const u = 1 - rand(); // (0, 1]: log(u) is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}
