// The WebSocket client: one socket, reconnects with backoff, resumes the seat with its token,
// resyncs, and queues changes made while offline. Plain TypeScript: everything it touches
// from the browser is passed in, so tests drive it with a fake socket and fake timers.
//
// Liveness: a connect that does not open, or a ping whose pong does not come back, within a few
// seconds counts as a drop. Changes in flight when a connection drops go back into the queue
// (each is an absolute value, so sending it twice does no harm); nothing is lost silently.

import { backoffDelay } from './backoff';
import {
  ErrorCode,
  LocalFailure,
  parseServerMessage,
  readWireError,
  unhandled,
  type ClientType,
  type JamState,
  type Participant,
  type SeatData,
  type Track,
  type WireError,
} from './protocol';
import { loadRemoved, loadSeat, saveRemoved, saveSeat, type KeyValue } from './seat';
import { stepKey, type QueuedSteps } from './reducer';
import type { Store } from './store';

/** The part of the browser WebSocket the client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface ClockSink {
  addSample(t0: number, serverTime: number, t1: number): void;
}

export interface ClientDeps {
  url: string;
  createSocket: (url: string) => SocketLike;
  store: Store;
  storage: KeyValue | null;
  /** Wall-clock ms, for the retry countdown. */
  now?: () => number;
  /** Monotonic epoch ms, for clock pings. */
  clockNow?: () => number;
  clock?: ClockSink;
  random?: () => number;
  isOnline?: () => boolean;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

const OPEN = 1;
const CLOSE_TAKEN_OVER = 4002;
const MAX_QUEUE = 64;
// The clock estimate needs many samples (each one is off by half the difference of its two
// one-way trips, several ms on busy Wi-Fi): a burst on connecting, then a few a second. A ping is
// ~60 bytes each way.
const PING_BURST = 10;
const PING_BURST_GAP_MS = 100;
const PING_EVERY_MS = 250;
/** A pong later than this, or a connect that has not opened by then, means the link is dead. */
const PONG_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** Answers to a resume that mean the seat is really gone; on any other, keep it and retry. */
const SEAT_GONE: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.roomNotFound,
  ErrorCode.invalidRoomCode,
  ErrorCode.roomFull,
  ErrorCode.roomLocked,
  ErrorCode.removed,
]);
const REMOVED_TEXT = 'The host removed you from this session.';
/** Shown when the operator ended the session without saying why (the server always says). */
const ENDED_TEXT = 'This session was ended.';

type Goal =
  | { kind: 'create'; userName: string }
  | { kind: 'seat'; roomCode: string; userName: string; resumeToken: string | null; joinKey?: string };

interface Intent {
  type: ClientType;
  data: Record<string, unknown>;
  /** Intents with the same key replace each other in the offline queue. */
  key: string | null;
}

const intentLabels: Partial<Record<ClientType, string>> = {
  'state:tempo-change': 'tempo',
  'state:key-change': 'key',
  'state:playback-control': 'play/stop',
  'pattern:set-step': 'step',
  'pattern:clear': 'clear',
};

export class SessionClient {
  private readonly d: Required<Omit<ClientDeps, 'clock'>> & { clock?: ClockSink };
  private socket: SocketLike | null = null;
  private goal: Goal | null = null;
  private seated = false;
  private hadSeat = false;
  private seq = 0;
  private requests = new Map<string, Intent>(); // id → what was asked, until it is answered
  private queue: Intent[] = [];
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;
  private connectTimer: unknown = null;
  private pingsLeft = 0;
  private attempt = 0;
  /** Pings sent before this (local clock ms) were sent before the page slept: their pongs are ignored. */
  private wokeAt = -Infinity;
  /** Another tab holds the seat (4002): no reconnect until the user asks for it. */
  private takenOver = false;

  constructor(deps: ClientDeps) {
    this.d = {
      now: () => Date.now(),
      clockNow: () => Date.now(),
      random: Math.random,
      isOnline: () => true,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      ...deps,
    };
  }

  get store(): Store {
    return this.d.store;
  }

  // ---- intents from the UI ----

  create(userName: string): void {
    this.resetSeat();
    this.takenOver = false;
    this.goal = { kind: 'create', userName };
    this.d.store.dispatch({ type: 'pending', op: 'create', roomCode: null });
    this.ensureSocket();
  }

  /**
   * Joins `roomCode`, resuming this tab's seat there when it has one. `joinKey` comes from the
   * shared link and lets a new seat into a locked room.
   */
  join(roomCode: string, userName: string, joinKey?: string): void {
    const saved = loadSeat(this.d.storage);
    const resumeToken = saved && saved.roomCode === roomCode ? saved.resumeToken : null;
    const cur = this.d.store.getState().session;
    if (cur && cur.roomCode !== roomCode) this.resetSeat();
    this.takenOver = false;
    if (this.wasRemovedFrom(roomCode)) saveRemoved(this.d.storage, null); // asked to join again on purpose
    this.goal = { kind: 'seat', roomCode, userName: saved?.roomCode === roomCode ? saved.userName : userName, resumeToken, joinKey };
    this.d.store.dispatch({ type: 'pending', op: 'join', roomCode });
    if (this.socket && this.socket.readyState === OPEN) {
      this.seated = false;
      this.sendGoal();
    } else {
      this.ensureSocket();
    }
  }

  /** The saved seat of this tab, if any (for resuming after a reload). */
  savedSeat() {
    return loadSeat(this.d.storage);
  }

  /** Whether the host removed this tab from `roomCode` (it then does not join again by itself). */
  wasRemovedFrom(roomCode: string): boolean {
    return loadRemoved(this.d.storage) === roomCode;
  }

  leave(): void {
    if (this.seated) this.send('session:leave', {});
    this.goal = null;
    this.takenOver = false;
    this.resetSeat();
    this.d.store.dispatch({ type: 'left' });
    this.shutdown();
  }

  setTempo(tempo: number): void {
    this.intent('state:tempo-change', { tempo }, 'tempo');
  }
  setKey(key: string, scale: string): void {
    this.intent('state:key-change', { key, scale }, 'key');
  }
  setPlaying(isPlaying: boolean): void {
    this.intent('state:playback-control', { isPlaying }, 'playback');
  }
  setStep(track: Track, step: number, on: boolean): void {
    this.intent('pattern:set-step', { track, step, on }, `step:${stepKey(track, step)}`);
  }
  clearPattern(): void {
    this.intent('pattern:clear', {}, null);
  }

  // Host controls: sent only while connected (a queued removal could land on the wrong moment).
  removeParticipant(userId: string): void {
    this.hostRequest('session:remove', { userId });
  }
  setHost(userId: string): void {
    this.hostRequest('session:set-host', { userId });
  }
  setSettings(settings: { locked?: boolean; openPlayback?: boolean }): void {
    this.hostRequest('session:settings', settings);
  }
  /** Links the room to Ableton Link, or unlinks it (host only). */
  setLink(enabled: boolean): void {
    this.hostRequest('state:link-control', { enabled });
  }

  private hostRequest(type: ClientType, data: Record<string, unknown>): void {
    if (this.seated && this.socket?.readyState === OPEN) this.request(type, data);
    else this.d.store.dispatch({ type: 'notice', tone: 'error', text: 'Not connected: try again when the connection is back.' });
  }

  /** Skip the countdown and try now (the "Retry now" button, tab visible, network back). */
  retryNow(): void {
    if (!this.goal || this.takenOver) return; // taken over: only "Use it here" takes the seat back
    if (this.socket) return; // already connecting or connected
    if (this.retryTimer !== null) {
      this.d.clearTimer(this.retryTimer);
      this.retryTimer = null;
    }
    this.openSocket();
  }

  /** After another tab took the seat over: take it back. */
  takeBack(): void {
    this.takenOver = false;
    this.d.store.dispatch({ type: 'taken-over', value: false });
    const seat = loadSeat(this.d.storage);
    if (seat) this.goal = { kind: 'seat', roomCode: seat.roomCode, userName: seat.userName, resumeToken: seat.resumeToken };
    this.retryNow();
  }

  /**
   * The tab is in view again: the phone may have slept. Ping at once (a burst, to re-measure the
   * clock if it stood still) and check the connection. Pongs to pings from before are not used.
   */
  wake(): void {
    this.wokeAt = this.d.clockNow();
    if (this.socket?.readyState === OPEN) this.startPings();
    else this.retryNow();
  }

  /** Sends one clock:ping now; if no pong comes back in time the connection is dropped. */
  ping(): void {
    const ws = this.socket;
    if (ws?.readyState !== OPEN) return;
    this.send('clock:ping', { t0: this.d.clockNow() });
    if (this.pongTimer === null) {
      this.pongTimer = this.d.setTimer(() => {
        this.pongTimer = null;
        this.abandon(ws);
      }, PONG_TIMEOUT_MS);
    }
  }

  // ---- connection ----

  private ensureSocket(): void {
    if (this.socket) return;
    if (this.retryTimer !== null) {
      this.d.clearTimer(this.retryTimer);
      this.retryTimer = null;
    }
    this.openSocket();
  }

  private openSocket(): void {
    const reconnecting = this.hadSeat;
    this.d.store.dispatch({ type: 'conn', status: reconnecting ? 'reconnecting' : 'connecting', attempt: this.attempt });
    let ws: SocketLike;
    try {
      ws = this.d.createSocket(this.d.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = ws;
    this.connectTimer = this.d.setTimer(() => {
      this.connectTimer = null;
      if (ws.readyState !== OPEN) this.abandon(ws);
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.socket !== ws) return;
      this.clearConnectTimer();
      // The retry count is reset only once the seat is back (session:joined), not here: a box
      // that accepts and then closes again is still backed off.
      this.d.store.dispatch({ type: 'conn', status: 'connected' });
      this.startPings();
      this.sendGoal();
    };
    ws.onmessage = (ev) => {
      if (this.socket === ws && typeof ev.data === 'string') this.receive(ev.data);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onclose = (ev) => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.onDrop(ev.code);
    };
  }

  /** Gives up on a connection that is stuck or dead without waiting for its close event. */
  private abandon(ws: SocketLike): void {
    if (this.socket !== ws) return;
    ws.onopen = null;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
    this.socket = null;
    this.onDrop(1006);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) this.d.clearTimer(this.connectTimer);
    this.connectTimer = null;
  }

  private onDrop(code: number): void {
    this.seated = false;
    this.clearConnectTimer();
    this.stopPings();
    this.requeueUnanswered();
    if (!this.goal) {
      this.d.store.dispatch({ type: 'conn', status: 'idle' });
      return;
    }
    if (code === CLOSE_TAKEN_OVER) {
      this.takeOver();
      return;
    }
    if (this.goal.kind === 'create') {
      // The create may or may not have happened; do not make a second session behind the user's back.
      this.goal = null;
      this.d.store.dispatch({
        type: 'join-failed',
        roomCode: null,
        error: { code: LocalFailure.unreachable, message: 'Could not reach the jam box. Check the Wi‑Fi and try again.' },
      });
      this.d.store.dispatch({ type: 'conn', status: 'idle' });
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.attempt, this.d.random);
    this.attempt++;
    const retryAt = this.d.now() + delay;
    this.d.store.dispatch({
      type: 'conn',
      status: this.d.isOnline() ? 'reconnecting' : 'offline',
      retryAt,
      attempt: this.attempt,
    });
    this.retryTimer = this.d.setTimer(() => {
      this.retryTimer = null;
      if (this.goal && !this.socket) this.openSocket();
    }, delay);
  }

  /** Another tab of ours holds the seat: stop reconnecting until the user asks for it here. */
  private takeOver(): void {
    this.takenOver = true;
    this.d.store.dispatch({ type: 'taken-over', value: true });
    if (this.socket) {
      const ws = this.socket;
      this.socket = null;
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
      this.stopPings();
    }
    this.d.store.dispatch({ type: 'conn', status: 'offline' });
  }

  /** Closes the socket on purpose: no reconnect. */
  private shutdown(): void {
    if (this.retryTimer !== null) {
      this.d.clearTimer(this.retryTimer);
      this.retryTimer = null;
    }
    this.stopPings();
    this.clearConnectTimer();
    this.requests.clear();
    const ws = this.socket;
    this.socket = null;
    this.seated = false;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
    }
    this.attempt = 0;
    this.d.store.dispatch({ type: 'conn', status: 'idle' });
  }

  private resetSeat(): void {
    saveSeat(this.d.storage, null);
    this.hadSeat = false;
    this.queue = [];
    this.publishQueue();
  }

  private sendGoal(): void {
    const g = this.goal;
    if (!g) return;
    if (g.kind === 'create') {
      this.request('session:create', { userName: g.userName });
    } else {
      const data: Record<string, unknown> = { roomCode: g.roomCode, userName: g.userName };
      // The attempt orders this tab's connections, so a stale join arriving late cannot take the
      // seat from a newer one: the monotonic clock only grows.
      if (g.resumeToken) Object.assign(data, { resumeToken: g.resumeToken, attempt: this.d.clockNow() });
      if (g.joinKey) data.joinKey = g.joinKey;
      this.request('session:join', data);
    }
  }

  // ---- frames ----

  private send(type: ClientType, data: Record<string, unknown>, id?: string): void {
    const frame: Record<string, unknown> = { type, data };
    if (id) frame.id = id;
    this.socket?.send(JSON.stringify(frame));
  }

  private request(type: ClientType, data: Record<string, unknown>, key: string | null = null): void {
    const id = `c${++this.seq}`;
    this.requests.set(id, { type, data, key });
    this.send(type, data, id);
  }

  private intent(type: ClientType, data: Record<string, unknown>, key: string | null): void {
    if (!this.d.store.getState().session) return;
    if (this.seated && this.socket?.readyState === OPEN) {
      this.request(type, data, key);
      return;
    }
    if (key) this.queue = this.queue.filter((q) => q.key !== key);
    if (this.queue.length >= MAX_QUEUE) {
      this.d.store.dispatch({ type: 'notice', tone: 'error', text: 'Offline: too many changes waiting. This one was not kept.' });
      return;
    }
    this.queue.push({ type, data, key });
    this.publishQueue();
    this.d.store.dispatch({
      type: 'notice',
      tone: 'info',
      text: `Offline: your ${intentLabels[type] ?? 'change'} will be sent when the connection is back.`,
    });
  }

  /** Changes sent but not answered when the connection dropped go back to the front of the queue. */
  private requeueUnanswered(): void {
    const lost = [...this.requests.values()].filter((r) => r.type in intentLabels);
    this.requests.clear();
    if (!lost.length || this.goal?.kind !== 'seat') return;
    const later = this.queue;
    this.queue = [...lost.filter((r) => !r.key || !later.some((q) => q.key === r.key)), ...later];
    this.publishQueue();
    this.d.store.dispatch({
      type: 'notice',
      tone: 'info',
      text: `Connection lost before ${lost.length === 1 ? 'a change was' : `${lost.length} changes were`} confirmed: sending again when it is back.`,
    });
  }

  private publishQueue(): void {
    const steps: QueuedSteps = { cleared: false, steps: {} };
    for (const q of this.queue) {
      if (q.type === 'pattern:clear') Object.assign(steps, { cleared: true, steps: {} });
      else if (q.type === 'pattern:set-step') steps.steps[stepKey(q.data.track as Track, q.data.step as number)] = Boolean(q.data.on);
    }
    this.d.store.dispatch({ type: 'queued', count: this.queue.length, steps });
  }

  private flushQueue(): void {
    const q = this.queue;
    this.queue = [];
    for (const i of q) this.request(i.type, i.data, i.key);
    this.publishQueue();
    if (q.length) this.d.store.dispatch({ type: 'notice', tone: 'info', text: `Sent ${q.length} change${q.length === 1 ? '' : 's'} made while offline.` });
  }

  private receive(raw: string): void {
    const msg = parseServerMessage(raw);
    if (!msg) return;
    const reqType = msg.re ? this.requests.get(msg.re)?.type : undefined;
    if (msg.re) this.requests.delete(msg.re);
    const data = (msg.data ?? {}) as Record<string, unknown>;

    switch (msg.type) {
      case 'clock:pong': {
        const t0 = Number(data.t0);
        const st = Number(data.serverTime);
        if (this.pongTimer !== null) this.d.clearTimer(this.pongTimer);
        this.pongTimer = null;
        if (Number.isFinite(t0) && Number.isFinite(st) && t0 >= this.wokeAt) this.d.clock?.addSample(t0, st, this.d.clockNow());
        return;
      }
      case 'error':
        this.onError(reqType, readWireError(msg.data));
        return;
      case 'session:created':
      case 'session:joined': {
        const seat = data as unknown as SeatData;
        const resumed = this.hadSeat;
        this.seated = true;
        this.hadSeat = true;
        this.attempt = 0;
        this.goal = { kind: 'seat', roomCode: seat.roomCode, userName: seat.you.name, resumeToken: seat.resumeToken };
        saveSeat(this.d.storage, { roomCode: seat.roomCode, resumeToken: seat.resumeToken, userName: seat.you.name });
        this.d.store.dispatch({ type: 'message', msg });
        if (resumed) this.request('state:request-sync', {});
        this.flushQueue();
        return;
      }
      case 'session:left': {
        const roomCode = this.goal?.kind === 'seat' ? this.goal.roomCode : null;
        this.goal = null;
        this.resetSeat();
        this.d.store.dispatch({ type: 'message', msg });
        this.shutdown();
        if (data.reason === 'removed') {
          saveRemoved(this.d.storage, roomCode);
          this.d.store.dispatch({ type: 'join-failed', roomCode, error: { code: ErrorCode.removed, message: REMOVED_TEXT } });
          this.d.store.dispatch({ type: 'notice', tone: 'error', text: REMOVED_TEXT });
        }
        return;
      }
      case 'session:ended': {
        // The person running the jam box ended the session: it is gone, so no rejoin and no
        // reconnect; the room page says why, in their words.
        const roomCode = typeof data.roomCode === 'string' ? data.roomCode : this.goal?.kind === 'seat' ? this.goal.roomCode : null;
        const reason = typeof data.reason === 'string' && data.reason ? data.reason : ENDED_TEXT;
        this.goal = null;
        this.resetSeat();
        this.d.store.dispatch({ type: 'message', msg });
        this.shutdown();
        this.d.store.dispatch({ type: 'join-failed', roomCode, error: { code: LocalFailure.ended, message: reason } });
        return;
      }
      case 'session:user-joined':
      case 'session:user-updated':
      case 'session:user-left':
      case 'session:host-changed':
      case 'session:settings':
      case 'state:sync':
      case 'state:tempo-change':
      case 'state:key-change':
      case 'state:playback-control':
      case 'state:link-control':
      case 'state:link-peers':
      case 'pattern:set-step':
      case 'pattern:clear': {
        const before = this.d.store.getState().session?.state;
        this.d.store.dispatch({ type: 'message', msg });
        if (before && typeof data.version === 'number' && data.version > before.version + 1) {
          // We missed a change somewhere: ask for the whole state.
          this.request('state:request-sync', {});
        }
        return;
      }
      default:
        unhandled(msg.type);
    }
  }

  private onError(reqType: ClientType | undefined, { code, message }: WireError): void {
    if (reqType === 'session:create' || reqType === 'session:join') {
      const g = this.goal;
      const roomCode = g && g.kind === 'seat' ? g.roomCode : null;
      if (code === ErrorCode.alreadyInSession) {
        // The server still sees this connection seated: carry on.
        this.seated = true;
        return;
      }
      if (code === ErrorCode.seatTaken) {
        // A newer connection from this device holds the seat: another tab of ours has it.
        this.takeOver();
        return;
      }
      if (reqType === 'session:join' && g?.kind === 'seat' && g.resumeToken && !SEAT_GONE.has(code)) {
        // The box could not take us back just now (internal, rate_limited, ...): the seat is
        // still ours. Keep the token and come back with the usual backoff.
        this.d.store.dispatch({ type: 'notice', tone: 'error', text: `Could not rejoin yet: ${message} Trying again.` });
        if (this.socket) this.abandon(this.socket);
        return;
      }
      const hadSession = this.d.store.getState().session !== null;
      this.goal = null;
      this.resetSeat();
      if (hadSession) {
        this.d.store.dispatch({ type: 'left' });
        this.d.store.dispatch({ type: 'notice', tone: 'error', text: code === ErrorCode.roomNotFound ? 'This session has ended.' : message });
      }
      this.d.store.dispatch({ type: 'join-failed', roomCode, error: { code, message } });
      this.shutdown();
      return;
    }
    if (code === ErrorCode.notInSession && this.goal?.kind === 'seat') {
      this.seated = false;
      this.sendGoal();
    }
    const text = code === ErrorCode.forbidden ? `Refused: ${message}` : message;
    this.d.store.dispatch({ type: 'notice', tone: 'error', text });
  }

  // ---- clock ----

  private startPings(): void {
    this.stopPings();
    this.pingsLeft = PING_BURST;
    const tick = () => {
      this.ping();
      const gap = this.pingsLeft > 0 ? PING_BURST_GAP_MS : PING_EVERY_MS;
      if (this.pingsLeft > 0) this.pingsLeft--;
      this.pingTimer = this.d.setTimer(tick, gap);
    };
    tick();
  }

  private stopPings(): void {
    if (this.pingTimer !== null) this.d.clearTimer(this.pingTimer);
    if (this.pongTimer !== null) this.d.clearTimer(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }
}

export type { JamState, Participant };
