// Web Audio engine: synthesised drums and a metronome click, no sample files.
// The AudioContext is made on the first user gesture (iOS/Android rule). The system may suspend
// or interrupt it later (a phone call, the page in the background): subscribers hear of every
// change of its state, so the UI can offer to turn the sound back on.

import type { Voice } from './timing';

interface Scheduled {
  when: number;
  nodes: AudioScheduledSourceNode[];
}

export class AudioEngine {
  private ctx: AudioContext | null = null;
  private master: GainNode | null = null;
  private noise: AudioBuffer | null = null;
  private scheduled: Scheduled[] = [];
  private volume = 0.8;
  private muted = false;
  private listeners = new Set<() => void>();

  /** Calls `l` whenever the sound turns on or off; returns the unsubscribe function. */
  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  private emit = (): void => {
    for (const l of this.listeners) l();
  };

  get context(): AudioContext | null {
    return this.ctx;
  }

  get running(): boolean {
    return this.ctx?.state === 'running';
  }

  /**
   * The output delay the browser reports (ms), which the scheduler already allows for through
   * getOutputTimestamp; null where it reports none.
   */
  outputLatencyMs(): number | null {
    const ctx = this.ctx;
    if (!ctx) return null;
    const total = (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
    return total > 0 ? Math.round(total * 1000) : null;
  }

  /** Read as a snapshot by React: a method so `this` stays bound. */
  isRunning = (): boolean => this.running;

  /** Call from a user gesture: creates or resumes the AudioContext. */
  unlock(): void {
    try {
      if (!this.ctx) {
        const Ctor: typeof AudioContext | undefined =
          globalThis.AudioContext ?? (globalThis as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
        if (!Ctor) return;
        const ctx = new Ctor({ latencyHint: 'interactive' });
        this.ctx = ctx;
        this.master = ctx.createGain();
        this.master.connect(ctx.destination);
        this.applyGain();
        this.noise = makeNoise(ctx);
        ctx.addEventListener('statechange', this.emit);
        this.emit();
      }
      if (this.ctx.state === 'suspended') void this.ctx.resume().catch(() => undefined);
    } catch {
      this.ctx = null;
    }
  }

  setVolume(v: number): void {
    this.volume = Math.min(1, Math.max(0, v));
    this.applyGain();
  }

  setMuted(m: boolean): void {
    this.muted = m;
    this.applyGain();
  }

  private applyGain(): void {
    if (!this.ctx || !this.master) return;
    const g = this.muted ? 0 : this.volume * this.volume; // perceptual-ish curve
    this.master.gain.setTargetAtTime(g, this.ctx.currentTime, 0.01);
  }

  /**
   * Stops every note scheduled to start at or after `when` (AudioContext seconds) that has not
   * started yet: one that is already sounding plays out rather than being cut off.
   */
  cancelFrom(when: number): void {
    const now = this.ctx?.currentTime ?? -Infinity;
    const keep: Scheduled[] = [];
    for (const s of this.scheduled) {
      if (s.when >= when && s.when > now) {
        for (const n of s.nodes) {
          try {
            n.stop();
          } catch {
            /* not started */
          }
        }
      } else keep.push(s);
    }
    this.scheduled = keep;
  }

  play(voice: Voice, when: number): void {
    const ctx = this.ctx;
    const out = this.master;
    if (!ctx || !out || !this.noise) return;
    if (when < ctx.currentTime - 0.01) return; // too late: skip rather than flam
    const t = Math.max(when, ctx.currentTime);
    const nodes: AudioScheduledSourceNode[] = [];
    switch (voice) {
      case 'kick': {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.setValueAtTime(150, t);
        o.frequency.exponentialRampToValueAtTime(45, t + 0.12);
        g.gain.setValueAtTime(1, t);
        g.gain.exponentialRampToValueAtTime(0.001, t + 0.35);
        o.connect(g).connect(out);
        o.start(t);
        o.stop(t + 0.4);
        nodes.push(o);
        break;
      }
      case 'snare': {
        nodes.push(this.noiseBurst(t, 'highpass', 1200, 0.7, 0.18));
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.type = 'triangle';
        o.frequency.setValueAtTime(190, t);
        g.gain.setValueAtTime(0.5, t);
        g.gain.exponentialRampToValueAtTime(0.001, t + 0.1);
        o.connect(g).connect(out);
        o.start(t);
        o.stop(t + 0.12);
        nodes.push(o);
        break;
      }
      case 'hihat':
        nodes.push(this.noiseBurst(t, 'highpass', 7000, 0.35, 0.05));
        break;
      case 'clap':
        for (const [i, dt] of [0, 0.012, 0.024].entries()) {
          nodes.push(this.noiseBurst(t + dt, 'bandpass', 1100, i === 2 ? 0.7 : 0.45, i === 2 ? 0.14 : 0.02));
        }
        break;
      case 'click':
      case 'accent': {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.type = 'square';
        o.frequency.setValueAtTime(voice === 'accent' ? 1760 : 1320, t);
        g.gain.setValueAtTime(0.18, t);
        g.gain.exponentialRampToValueAtTime(0.001, t + 0.03);
        o.connect(g).connect(out);
        o.start(t);
        o.stop(t + 0.04);
        nodes.push(o);
        break;
      }
    }
    this.scheduled.push({ when: t, nodes });
    // Forget notes that have long started.
    if (this.scheduled.length > 256) this.scheduled = this.scheduled.filter((s) => s.when > ctx.currentTime - 1);
  }

  private noiseBurst(t: number, type: BiquadFilterType, freq: number, level: number, decay: number): AudioBufferSourceNode {
    const ctx = this.ctx!;
    const src = ctx.createBufferSource();
    src.buffer = this.noise;
    const f = ctx.createBiquadFilter();
    f.type = type;
    f.frequency.setValueAtTime(freq, t);
    const g = ctx.createGain();
    g.gain.setValueAtTime(level, t);
    g.gain.exponentialRampToValueAtTime(0.001, t + decay);
    src.connect(f).connect(g).connect(this.master!);
    src.start(t);
    src.stop(t + decay + 0.02);
    return src;
  }
}

function makeNoise(ctx: AudioContext): AudioBuffer {
  const len = Math.floor(ctx.sampleRate * 0.5);
  const buf = ctx.createBuffer(1, len, ctx.sampleRate);
  const d = buf.getChannelData(0);
  // A fixed LCG instead of Math.random: the same hiss every time.
  let x = 0x12345678;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    d[i] = x / 0x80000000 - 1;
  }
  return buf;
}
