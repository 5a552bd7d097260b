import { describe, expect, it } from 'vitest';
import { SessionClient, type SocketLike } from './client';
import { loadSeat, type KeyValue } from './seat';
import { Store } from './store';
import { jamState, participant } from './testdata';

/** A WebSocket stand-in: records what the client sends, lets the test play the server. */
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: { type: string; id?: string; data?: Record<string, unknown> }[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closedWith: number | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  reply(type: string, data: unknown, re?: string) {
    this.onmessage?.({ data: JSON.stringify(re ? { type, re, data } : { type, data }) });
  }
  last(type: string) {
    return [...this.sent].reverse().find((m) => m.type === type);
  }
  types() {
    return this.sent.map((m) => m.type).filter((t) => t !== 'clock:ping');
  }
}

class MemoryKV implements KeyValue {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

function rig(opts: { online?: boolean } = {}) {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; at: number; id: number }[] = [];
  let now = 1000;
  let tid = 0;
  const store = new Store();
  const storage = new MemoryKV();
  const samples: number[][] = [];
  const client = new SessionClient({
    url: 'ws://box/ws',
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    store,
    storage,
    now: () => now,
    clockNow: () => now,
    clock: { addSample: (...a) => samples.push(a) },
    random: () => 0.5,
    isOnline: () => opts.online ?? true,
    setTimer: (fn, ms) => {
      timers.push({ fn, at: now + ms, id: ++tid });
      return tid;
    },
    clearTimer: (id) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  });
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const t = timers[0];
      if (!t || t.at > until) break;
      timers.shift();
      now = t.at;
      t.fn();
    }
    now = until;
  };
  const sock = () => sockets[sockets.length - 1]!;
  return { client, store, storage, sockets, sock, advance, samples, timers };
}

const ana = participant('p_ana', 'Ana', { isHost: true });
const bo = participant('p_bo', 'Bo');

function seat(r: ReturnType<typeof rig>, type = 'session:created', token = 'tok-1') {
  const req = r.sock().last(type === 'session:created' ? 'session:create' : 'session:join')!;
  r.sock().reply(type, { roomCode: 'K7M2QX', you: ana, participants: [ana, bo], state: jamState(), resumeToken: token }, req.id);
}

describe('SessionClient', () => {
  it('creates a session and keeps the resume token per tab', () => {
    const r = rig();
    r.client.create('Ana');
    expect(r.store.getState().pending?.op).toBe('create');
    expect(r.store.getState().conn.status).toBe('connecting');
    r.sock().open();
    expect(r.store.getState().conn.status).toBe('connected');
    const req = r.sock().last('session:create')!;
    expect(req.data).toEqual({ userName: 'Ana' });
    expect(req.id).toBeTruthy();
    seat(r);
    expect(r.store.getState().session?.roomCode).toBe('K7M2QX');
    expect(loadSeat(r.storage)).toEqual({ roomCode: 'K7M2QX', resumeToken: 'tok-1', userName: 'Ana' });
  });

  it('joins with the saved token after a reload', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Ana' }));
    r.client.join('K7M2QX', 'Whoever');
    r.sock().open();
    expect(r.sock().last('session:join')!.data).toEqual({ roomCode: 'K7M2QX', userName: 'Ana', resumeToken: 'tok-9' });
  });

  it('sends clock pings and feeds pongs to the clock', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    const ping = r.sock().last('clock:ping')!;
    expect(ping.data).toEqual({ t0: 1000 });
    r.advance(30);
    r.sock().reply('clock:pong', { t0: 1000, serverTime: 5015 });
    expect(r.samples).toEqual([[1000, 5015, 1030]]);
    r.advance(1000);
    expect(r.sock().sent.filter((m) => m.type === 'clock:ping').length).toBeGreaterThanOrEqual(5);
  });

  it('reconnects with backoff, resumes the seat, resyncs, then sends what was queued', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(1006);
    let st = r.store.getState();
    expect(st.conn.status).toBe('reconnecting');
    expect(st.conn.retryAt).toBe(1000 + 375); // attempt 0: 500 ms ceiling, jitter 0.5 → 375
    expect(r.sockets).toHaveLength(1);

    // Changes made while offline are queued and said so, not lost.
    r.client.setTempo(90);
    r.client.setTempo(95); // replaces the queued 90
    r.client.setStep('kick', 0, true);
    st = r.store.getState();
    expect(st.queued).toBe(2);
    expect(st.notice?.text).toMatch(/Offline/);

    r.advance(375);
    expect(r.sockets).toHaveLength(2);
    r.sock().drop(1006); // still down: the next delay doubles
    expect(r.store.getState().conn.retryAt).toBe(1375 + 750);
    r.advance(750);
    r.sock().open();
    const join = r.sock().last('session:join')!;
    expect(join.data).toEqual({ roomCode: 'K7M2QX', userName: 'Ana', resumeToken: 'tok-1' });
    expect(r.sock().types()).toEqual(['session:join']);
    seat(r, 'session:joined', 'tok-2');
    expect(r.sock().types()).toEqual(['session:join', 'state:request-sync', 'state:tempo-change', 'pattern:set-step']);
    expect(r.sock().last('state:tempo-change')!.data).toEqual({ tempo: 95 });
    expect(r.store.getState().queued).toBe(0);
    expect(loadSeat(r.storage)?.resumeToken).toBe('tok-2');
  });

  it('retries at once on "Retry now" and says offline when the network is down', () => {
    const r = rig({ online: false });
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(1001);
    expect(r.store.getState().conn.status).toBe('offline');
    r.client.retryNow();
    expect(r.sockets).toHaveLength(2);
    r.client.retryNow(); // already connecting: no second socket
    expect(r.sockets).toHaveLength(2);
    expect(r.timers.filter((t) => t.at > 1000)).toHaveLength(0);
  });

  it('stops reconnecting when another tab takes the seat (4002) until asked', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(4002);
    expect(r.store.getState().takenOver).toBe(true);
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
    r.client.takeBack();
    expect(r.sockets).toHaveLength(2);
    r.sock().open();
    expect(r.sock().last('session:join')!.data).toMatchObject({ resumeToken: 'tok-1' });
  });

  it('shows refusals (a guest pressing Play) as a notice', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.client.setPlaying(true);
    const req = r.sock().last('state:playback-control')!;
    expect(req.data).toEqual({ isPlaying: true });
    r.sock().reply('error', { code: 'forbidden', message: 'Only the host can start or stop playback.' }, req.id);
    expect(r.store.getState().notice).toMatchObject({ tone: 'error', text: 'Refused: Only the host can start or stop playback.' });
    expect(r.store.getState().session).not.toBeNull();
  });

  it('reports a failed join and forgets the seat', () => {
    const r = rig();
    r.client.join('ZZZZZZ', 'Bo');
    r.sock().open();
    const req = r.sock().last('session:join')!;
    r.sock().reply('error', { code: 'room_not_found', message: 'No session has that code.' }, req.id);
    const st = r.store.getState();
    expect(st.joinError).toMatchObject({ code: 'room_not_found', roomCode: 'ZZZZZZ' });
    expect(st.pending).toBeNull();
    expect(st.conn.status).toBe('idle');
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
  });

  it('leaves: tells the server, forgets the token, does not reconnect', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.client.leave();
    expect(r.sockets[0]!.types()).toContain('session:leave');
    expect(r.sockets[0]!.closedWith).toBe(1000);
    expect(loadSeat(r.storage)).toBeNull();
    expect(r.store.getState().session).toBeNull();
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
  });

  it('asks for a sync when it sees a version gap', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().reply('pattern:set-step', { track: 'kick', step: 1, on: true, version: 5, by: 'p_bo' });
    expect(r.sock().types()).toContain('state:request-sync');
  });

  it('does not silently retry a create that was cut off', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    r.sock().drop(1006);
    expect(r.store.getState().joinError?.code).toBe('unreachable');
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
  });
});
