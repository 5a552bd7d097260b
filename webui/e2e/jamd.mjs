// Builds (or takes JAMD_BIN) and runs the real jamd on a free loopback port.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');

export function jamdBinary(tmp) {
  if (process.env.JAMD_BIN) return resolve(process.env.JAMD_BIN);
  const bin = join(tmp, 'jamd');
  const r = spawnSync('go', ['build', '-o', bin, './cmd/jamd'], { cwd: repo, stdio: 'inherit', timeout: 300_000 });
  if (r.status !== 0) throw new Error('go build ./cmd/jamd failed');
  return bin;
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A running jamd; start() waits for /healthz, kill() is kill -9. */
export class Jamd {
  constructor(bin, port, dataDir, extraArgs = []) {
    Object.assign(this, { bin, port, dataDir, extraArgs, proc: null, log: '' });
    this.base = `http://127.0.0.1:${port}`;
  }

  async start(timeoutMs = 15_000) {
    this.proc = spawn(this.bin, ['serve', '--addr', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir, '--no-mdns', ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const add = (d) => {
      this.log += d.toString();
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    };
    this.proc.stdout.on('data', add);
    this.proc.stderr.on('data', add);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`jamd exited (${this.proc.exitCode}):\n${this.log}`);
      try {
        const r = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.status === 200) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`jamd did not answer /healthz within ${timeoutMs} ms:\n${this.log}`);
  }

  async kill9() {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  }

  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export function checkChromium() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
}

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Polls fn until it returns something truthy (and returns that), or fails after timeout ms. */
export async function waitFor(fn, timeout, what) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
}
