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
  /** Answers every clock ping so far on the current socket (a live server). */
  const pong = () => {
    for (const m of sock().sent) if (m.type === 'clock:ping' && !answered.has(m)) {
      answered.add(m);
      sock().reply('clock:pong', { t0: m.data!.t0, serverTime: now });
    }
  };
  const answered = new Set<unknown>();
  return { client, store, storage, sockets, sock, advance, samples, timers, pong, now: () => now };
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
    // A resume carries this tab's attempt (its monotonic clock), so a stale one can be told apart.
    expect(r.sock().last('session:join')!.data).toEqual({ roomCode: 'K7M2QX', userName: 'Ana', resumeToken: 'tok-9', attempt: r.now() });
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
    expect(join.data).toEqual({ roomCode: 'K7M2QX', userName: 'Ana', resumeToken: 'tok-1', attempt: 2125 });
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
    // The countdown was cancelled: the only timer left is the new socket's connect timeout.
    expect(r.timers.map((t) => t.at)).toEqual([1000 + 5000]);
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

describe('SessionClient: liveness and recovery', () => {
  it('after 4002 (seat taken over) tab-visible and network-back do not take the seat back', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(4002);
    r.client.retryNow(); // the 'online' event
    expect(r.sockets).toHaveLength(1);
    r.client.wake(); // the tab became visible
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
    expect(r.store.getState().takenOver).toBe(true);
    r.client.takeBack(); // "Use it here"
    expect(r.sockets).toHaveLength(2);
  });

  it('drops a connection whose pong does not come back and reconnects', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.pong();
    r.advance(1000); // the burst: answered
    r.pong();
    expect(r.store.getState().conn.status).toBe('connected');
    r.advance(250 + 5_000); // the next ping goes unanswered (dead Wi-Fi)
    expect(r.store.getState().conn.status).toBe('reconnecting');
    expect(r.sockets[0]!.closedWith).not.toBeNull();
    r.advance(1000);
    expect(r.sockets).toHaveLength(2);
    r.sock().open();
    expect(r.sock().last('session:join')!.data).toMatchObject({ resumeToken: 'tok-1' });
  });

  it('gives up on a connect that never opens and tries again', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Ana' }));
    r.client.join('K7M2QX', 'Ana');
    r.client.retryNow(); // stuck CONNECTING: nothing to do yet
    expect(r.sockets).toHaveLength(1);
    r.advance(5_000);
    expect(r.sockets[0]!.closedWith).not.toBeNull();
    expect(r.store.getState().conn.status).toBe('reconnecting');
    r.client.retryNow();
    expect(r.sockets).toHaveLength(2);
  });

  it('sends changes again that were in flight when the connection dropped', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.client.setTempo(90);
    r.client.setStep('kick', 3, true);
    r.sock().drop(1006); // neither was answered
    expect(r.store.getState().queued).toBe(2);
    expect(r.store.getState().notice?.text).toMatch(/sending again/);
    r.client.setTempo(100); // a newer tempo replaces the lost one
    r.advance(375);
    r.sock().open();
    seat(r, 'session:joined');
    expect(r.sock().types()).toEqual(['session:join', 'state:request-sync', 'pattern:set-step', 'state:tempo-change']);
    expect(r.sock().last('state:tempo-change')!.data).toEqual({ tempo: 100 });
    expect(r.sock().last('pattern:set-step')!.data).toEqual({ track: 'kick', step: 3, on: true });
  });

  it('on waking pings at once, and uses no pong to a ping from before', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.pong();
    r.advance(1000);
    r.pong();
    const before = r.sock().sent.filter((m) => m.type === 'clock:ping').length;
    r.sock().send(JSON.stringify({ type: 'clock:ping', data: { t0: 1500 } })); // stands for a ping still in flight
    r.advance(10);
    r.client.wake();
    expect(r.sock().sent.filter((m) => m.type === 'clock:ping').length).toBe(before + 2);
    // A pong to a ping from before the sleep is not a sample of the new estimate.
    const n = r.samples.length;
    r.sock().reply('clock:pong', { t0: 1500, serverTime: 1 });
    expect(r.samples).toHaveLength(n);
    r.pong();
    expect(r.samples).toHaveLength(n + 1);
  });

  it('keeps the seat and retries with backoff when a resume gets internal or rate_limited', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(1006);
    r.advance(375);
    for (const [i, code] of ['internal', 'rate_limited'].entries()) {
      r.sock().open();
      const join = r.sock().last('session:join')!;
      r.sock().reply('error', { code, message: 'Try again.' }, join.id);
      expect(loadSeat(r.storage)?.resumeToken).toBe('tok-1');
      expect(r.store.getState().session?.roomCode).toBe('K7M2QX');
      expect(r.store.getState().conn.status).toBe('reconnecting');
      expect(r.sockets).toHaveLength(2 + i);
      r.advance(2_000);
      expect(r.sockets).toHaveLength(3 + i);
    }
    r.sock().open();
    expect(r.sock().last('session:join')!.data).toMatchObject({ resumeToken: 'tok-1' });
    // A seat that is really gone ends it.
    r.sock().reply('error', { code: 'room_not_found', message: 'No session has that code.' }, r.sock().last('session:join')!.id);
    expect(loadSeat(r.storage)).toBeNull();
  });

  it('backs off a box that accepts the connection and closes it again', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(1006);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const wait = r.store.getState().conn.retryAt! - r.now();
      delays.push(wait);
      r.advance(wait);
      r.sock().open(); // accepted…
      r.sock().drop(1006); // …and closed before the seat is back
    }
    expect(delays).toEqual([375, 750, 1500, 3000]);
  });

  it('merges offline taps on one step and shows the result while waiting', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.sock().drop(1006);
    r.client.setStep('kick', 0, true);
    r.client.setStep('kick', 0, false); // the second tap toggles back: one change waiting, not two
    expect(r.store.getState().queued).toBe(1);
    expect(r.store.getState().queuedSteps.steps).toEqual({ 'kick:0': false });
    r.client.setStep('snare', 0, true);
    expect(r.store.getState().queued).toBe(2);
    expect(r.store.getState().queuedSteps.steps).toEqual({ 'kick:0': false, 'snare:0': true });
    r.advance(375);
    r.sock().open();
    seat(r, 'session:joined');
    const steps = r.sock().sent.filter((m) => m.type === 'pattern:set-step').map((m) => m.data);
    expect(steps).toEqual([
      { track: 'kick', step: 0, on: false },
      { track: 'snare', step: 0, on: true },
    ]);
    expect(r.store.getState().queuedSteps.steps).toEqual({});
  });

  it('sends the host controls only while connected', () => {
    const r = rig();
    r.client.create('Ana');
    r.sock().open();
    seat(r);
    r.client.removeParticipant('p_bo');
    r.client.setHost('p_bo');
    r.client.setSettings({ locked: true });
    r.client.setLink(true);
    expect(r.sock().types().slice(-4)).toEqual(['session:remove', 'session:set-host', 'session:settings', 'state:link-control']);
    expect(r.sock().last('session:settings')!.data).toEqual({ locked: true });
    expect(r.sock().last('state:link-control')!.data).toEqual({ enabled: true });
    r.sock().drop(1006);
    r.client.removeParticipant('p_bo');
    expect(r.store.getState().notice?.text).toMatch(/Not connected/);
    expect(r.store.getState().queued).toBe(0);
  });

  it('says so in words when the host removed this seat, and does not come back', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' }));
    r.client.join('K7M2QX', 'Bo');
    r.sock().open();
    seat(r, 'session:joined', 'tok-9');
    r.sock().reply('session:left', { roomCode: 'K7M2QX', reason: 'removed' });
    const st = r.store.getState();
    expect(st.session).toBeNull();
    expect(st.joinError).toMatchObject({ code: 'removed', roomCode: 'K7M2QX', message: 'The host removed you from this session.' });
    expect(r.client.savedSeat()).toBeNull();
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
  });

  it('shows the reason when the operator ended the session, and neither rejoins nor reconnects', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' }));
    r.client.join('K7M2QX', 'Bo');
    r.sock().open();
    seat(r, 'session:joined', 'tok-9');
    r.sock().reply('session:ended', { roomCode: 'K7M2QX', reason: 'Closing time: the room is booked at 22:00.' });
    const st = r.store.getState();
    expect(st.session).toBeNull();
    expect(st.joinError).toMatchObject({ code: 'ended', roomCode: 'K7M2QX', message: 'Closing time: the room is booked at 22:00.' });
    expect(r.client.savedSeat()).toBeNull();
    expect(r.sock().types()).not.toContain('session:leave');
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1);
    expect(r.sock().types().filter((t) => t === 'session:join')).toHaveLength(1);
  });

  it('takes seat_taken as another tab of ours holding the seat', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' }));
    r.client.join('K7M2QX', 'Bo');
    r.sock().open();
    const req = r.sock().last('session:join')!;
    r.sock().reply('error', { code: 'seat_taken', message: 'A newer connection of yours holds this seat.' }, req.id);
    expect(r.store.getState().takenOver).toBe(true);
    r.advance(60_000);
    expect(r.sockets).toHaveLength(1); // no reconnect loop fighting the other tab
    r.client.takeBack();
    expect(r.sockets).toHaveLength(2);
  });

  it('gives each resume a later attempt than the one before', () => {
    const r = rig();
    r.storage.setItem('jamd.seat', JSON.stringify({ roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' }));
    r.client.join('K7M2QX', 'Bo');
    r.sock().open();
    const first = r.sock().last('session:join')!.data!.attempt as number;
    seat(r, 'session:joined', 'tok-9');
    r.sock().drop(1006);
    r.advance(1000);
    r.sock().open();
    expect(r.sock().last('session:join')!.data!.attempt as number).toBeGreaterThan(first);
  });
});

