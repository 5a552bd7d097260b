// The connection: one WebSocket at a time, opened again with backoff after a drop, and watched
// with clock pings. It knows nothing of seats or changes: it tells its owner what happened (open,
// a frame, a drop) and the owner decides whether to come back. Plain TypeScript: the socket and
// the timers are passed in, so tests drive it with fakes.
//
// Liveness: a connect that does not open, or a ping whose pong does not come back, within a few
// seconds counts as a drop (close code 1006), without waiting for the browser to notice.

import { backoffDelay } from './backoff';
import type { ClientType } from './protocol';
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

export interface ConnectionDeps {
  url: string;
  createSocket: (url: string) => SocketLike;
  /** Where the connection's status goes (connecting, reconnecting in N s, ...). */
  store: Store;
  /** Wall-clock ms, for the retry countdown. */
  now: () => number;
  /** Monotonic epoch ms, for clock pings. */
  clockNow: () => number;
  clock?: ClockSink;
  random: () => number;
  isOnline: () => boolean;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
}

/** What the connection tells its owner, and asks it. */
export interface ConnectionEvents {
  /** The socket is open. */
  opened(): void;
  /** A text frame arrived. */
  received(raw: string): void;
  /** The socket closed, or was given up on (1006): the owner retries (retryLater) or not. */
  dropped(code: number): void;
  /** Whether a connection is still wanted when a retry's time comes. */
  wanted(): boolean;
  /** Whether a new connection is a way back to a seat ("reconnecting" rather than "connecting"). */
  reconnecting(): boolean;
}

const OPEN = 1;
// The clock estimate needs many samples (each one is off by half the difference of its two
// one-way trips, several ms on busy Wi-Fi): a burst on connecting, then a few a second. A ping is
// ~60 bytes each way.
const PING_BURST = 10;
const PING_BURST_GAP_MS = 100;
const PING_EVERY_MS = 250;
/** A pong later than this, or a connect that has not opened by then, means the link is dead. */
const PONG_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;

export class Connection {
  private socket: SocketLike | null = null;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;
  private connectTimer: unknown = null;
  private pingsLeft = 0;
  /** Failed attempts since the seat was last back (not since the last open: see opened). */
  private attempt = 0;
  /** Pings sent before this (local clock ms) were sent before the page slept: their pongs are ignored. */
  private wokeAt = -Infinity;

  constructor(
    private readonly d: ConnectionDeps,
    private readonly on: ConnectionEvents,
  ) {}

  /** Open: frames can be sent. */
  get isOpen(): boolean {
    return this.socket?.readyState === OPEN;
  }

  /** Opens a socket now, cancelling a countdown; nothing to do while one is connecting or open. */
  connect(): void {
    if (this.socket) return;
    this.clearRetry();
    this.open();
  }

  send(type: ClientType, data: Record<string, unknown>, id?: string): void {
    const frame: Record<string, unknown> = { type, data };
    if (id) frame.id = id;
    this.socket?.send(JSON.stringify(frame));
  }

  /** Connects again after the backoff delay for this attempt, counting down in the store. */
  retryLater(): void {
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
      if (this.on.wanted() && !this.socket) this.open();
    }, delay);
  }

  /** The seat is back: the next drop starts the backoff from the beginning. */
  resetBackoff(): void {
    this.attempt = 0;
  }

  /** Gives up on the socket now (as a drop) rather than waiting for its close event. */
  abandon(): void {
    if (this.socket) this.abandonSocket(this.socket);
  }

  /** Closes the socket without a drop and shows "offline": another tab holds the seat. */
  suspend(): void {
    const ws = this.socket;
    if (ws) {
      this.socket = null;
      ws.onclose = null;
      ws.onmessage = null;
      closeQuietly(ws, 1000);
      this.stopPings();
    }
    this.d.store.dispatch({ type: 'conn', status: 'offline' });
  }

  /** Closes the socket on purpose: no drop, no reconnect, the backoff starts over. */
  close(): void {
    this.clearRetry();
    this.stopPings();
    this.clearConnectTimer();
    const ws = this.socket;
    this.socket = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      closeQuietly(ws, 1000);
    }
    this.attempt = 0;
    this.d.store.dispatch({ type: 'conn', status: 'idle' });
  }

  /**
   * The page is in view again and may have slept: pongs to pings from before are not used, and an
   * open connection pings at once (a burst, to re-measure the clock). Returns whether it is open.
   */
  wake(): boolean {
    this.wokeAt = this.d.clockNow();
    if (!this.isOpen) return false;
    this.startPings();
    return true;
  }

  /** Sends one clock:ping now; if no pong comes back in time the connection is dropped. */
  ping(): void {
    const ws = this.socket;
    if (ws?.readyState !== OPEN) return;
    this.send('clock:ping', { t0: this.d.clockNow() });
    if (this.pongTimer === null) {
      this.pongTimer = this.d.setTimer(() => {
        this.pongTimer = null;
        this.abandonSocket(ws);
      }, PONG_TIMEOUT_MS);
    }
  }

  /** A clock:pong: the link is alive, and (unless from before a sleep) a clock sample. */
  pong(data: Record<string, unknown>): void {
    const t0 = Number(data.t0);
    const st = Number(data.serverTime);
    if (this.pongTimer !== null) this.d.clearTimer(this.pongTimer);
    this.pongTimer = null;
    if (Number.isFinite(t0) && Number.isFinite(st) && t0 >= this.wokeAt) this.d.clock?.addSample(t0, st, this.d.clockNow());
  }

  private open(): void {
    this.d.store.dispatch({ type: 'conn', status: this.on.reconnecting() ? 'reconnecting' : 'connecting', attempt: this.attempt });
    let ws: SocketLike;
    try {
      ws = this.d.createSocket(this.d.url);
    } catch {
      this.retryLater();
      return;
    }
    this.socket = ws;
    this.connectTimer = this.d.setTimer(() => {
      this.connectTimer = null;
      if (ws.readyState !== OPEN) this.abandonSocket(ws);
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (this.socket !== ws) return;
      this.clearConnectTimer();
      // The retry count is reset only once the seat is back (resetBackoff), not here: a box
      // that accepts and then closes again is still backed off.
      this.d.store.dispatch({ type: 'conn', status: 'connected' });
      this.startPings();
      this.on.opened();
    };
    ws.onmessage = (ev) => {
      if (this.socket === ws && typeof ev.data === 'string') this.on.received(ev.data);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onclose = (ev) => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.drop(ev.code);
    };
  }

  private abandonSocket(ws: SocketLike): void {
    if (this.socket !== ws) return;
    ws.onopen = null;
    ws.onclose = null;
    ws.onmessage = null;
    closeQuietly(ws);
    this.socket = null;
    this.drop(1006);
  }

  private drop(code: number): void {
    this.clearConnectTimer();
    this.stopPings();
    this.on.dropped(code);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.d.clearTimer(this.retryTimer);
    this.retryTimer = null;
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) this.d.clearTimer(this.connectTimer);
    this.connectTimer = null;
  }

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

function closeQuietly(ws: SocketLike, code?: number): void {
  try {
    ws.close(code);
  } catch {
    /* already closed */
  }
}
