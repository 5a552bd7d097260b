import { afterEach, describe, expect, it } from 'vitest';
import { AudioEngine } from './engine';

// Node has no Web Audio: a small stand-in for the parts the engine touches. Each source node
// records whether it was stopped early (stop() without a time, as a cancel does).

const param = () => ({ setValueAtTime() {}, exponentialRampToValueAtTime() {}, setTargetAtTime() {} });

class FakeNode {
  gain = param();
  frequency = param();
  type = '';
  buffer: unknown = null;
  startedAt: number | null = null;
  cutOff = false;
  connect<T>(n: T): T {
    return n;
  }
  start(t: number) {
    this.startedAt = t;
  }
  stop(t?: number) {
    if (t === undefined) this.cutOff = true;
  }
}

class FakeContext {
  static last: FakeContext | null = null;
  currentTime = 0;
  state: AudioContextState = 'running';
  sampleRate = 8000;
  destination = new FakeNode();
  sources: FakeNode[] = [];
  private listeners: (() => void)[] = [];
  constructor() {
    FakeContext.last = this;
  }
  createGain() {
    return new FakeNode();
  }
  createBiquadFilter() {
    return new FakeNode();
  }
  createOscillator() {
    const n = new FakeNode();
    this.sources.push(n);
    return n;
  }
  createBufferSource() {
    const n = new FakeNode();
    this.sources.push(n);
    return n;
  }
  createBuffer(_ch: number, len: number) {
    const d = new Float32Array(len);
    return { getChannelData: () => d };
  }
  resume() {
    this.setState('running');
    return Promise.resolve();
  }
  addEventListener(type: string, l: () => void) {
    if (type === 'statechange') this.listeners.push(l);
  }
  setState(s: AudioContextState) {
    this.state = s;
    for (const l of this.listeners) l();
  }
}

const g = globalThis as unknown as { AudioContext?: unknown };
const saved = g.AudioContext;
afterEach(() => {
  g.AudioContext = saved;
});

function engine() {
  g.AudioContext = FakeContext;
  const e = new AudioEngine();
  e.unlock();
  return { e, ctx: FakeContext.last! };
}

describe('AudioEngine', () => {
  it('cancels only notes that have not started: a sounding one is not cut off', () => {
    const { e, ctx } = engine();
    e.play('kick', 1.0);
    e.play('snare', 1.2);
    ctx.currentTime = 1.1; // the kick is sounding, the snare is still to come
    e.cancelFrom(0.95); // from the time heard now, which trails the audio clock by the output latency
    const [kick, ...snare] = ctx.sources;
    expect(kick!.cutOff).toBe(false);
    expect(snare.length).toBeGreaterThan(0);
    expect(snare.every((n) => n.cutOff)).toBe(true);
  });

  it('tells subscribers when the system suspends or interrupts the sound, and when it is back', () => {
    const { e, ctx } = engine();
    let calls = 0;
    e.subscribe(() => calls++);
    expect(e.running).toBe(true);
    ctx.setState('suspended'); // a phone call, the page in the background
    expect(calls).toBe(1);
    expect(e.isRunning()).toBe(false);
    e.unlock(); // the "Tap to turn sound on" button
    expect(calls).toBe(2);
    expect(e.isRunning()).toBe(true);
  });
});
