// The session client: the one object the UI talks to. It sends the UI's intents and routes each
// frame from the server, and leaves the rest to its three parts:
//
// - connection.ts: the socket, its backoff and its pings (is the link alive?);
// - outbox.ts: requests until answered, and changes made while offline until they can be sent;
// - seating.ts: the seat this tab is after, and what a drop or a refusal means for it.
//
// Plain TypeScript with no React: everything it touches from the browser is passed in, so tests
// drive it with a fake socket and fake timers.

import { Connection, type ClockSink, type SocketLike } from './connection';
import { Outbox } from './outbox';
import {
  ErrorCode,
  LocalFailure,
  parseServerMessage,
  readWireError,
  unhandled,
  type ClientType,
  type SeatData,
  type ServerMessage,
  type Track,
  type WireError,
} from './protocol';
import { stepKey } from './reducer';
import type { KeyValue, Seat } from './seat';
import { Seating } from './seating';
import type { Store } from './store';

export type { ClockSink, SocketLike };

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

const REMOVED_TEXT = 'The host removed you from this session.';
/** Shown when the operator ended the session without saying why (the server always says). */
const ENDED_TEXT = 'This session was ended.';

export class SessionClient {
  readonly store: Store;
  private readonly clockNow: () => number;
  private readonly conn: Connection;
  private readonly outbox: Outbox;
  private readonly seating: Seating;

  constructor(deps: ClientDeps) {
    this.store = deps.store;
    this.clockNow = deps.clockNow ?? (() => Date.now());
    this.outbox = new Outbox(this.store.dispatch);
    this.seating = new Seating(deps.storage);
    this.conn = new Connection(
      {
        now: () => Date.now(),
        clockNow: this.clockNow,
        random: Math.random,
        isOnline: () => true,
        setTimer: (fn, ms) => setTimeout(fn, ms),
        clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
        ...deps,
      },
      {
        opened: () => this.sendGoal(),
        received: (raw) => this.receive(raw),
        dropped: (code) => this.dropped(code),
        wanted: () => this.seating.goal !== null,
        reconnecting: () => this.seating.hadSeat,
      },
    );
  }

  // ---- intents from the UI ----

  create(userName: string): void {
    this.resetSeat();
    this.seating.create(userName);
    this.store.dispatch({ type: 'pending', op: 'create', roomCode: null });
    this.conn.connect();
  }

  /**
   * Joins `roomCode`, resuming this tab's seat there when it has one. `joinKey` comes from the
   * shared link and lets a new seat into a locked room.
   */
  join(roomCode: string, userName: string, joinKey?: string): void {
    const cur = this.store.getState().session;
    this.seating.join(roomCode, userName, joinKey);
    if (cur && cur.roomCode !== roomCode) this.resetSeat();
    this.store.dispatch({ type: 'pending', op: 'join', roomCode });
    if (this.conn.isOpen) {
      this.seating.seated = false;
      this.sendGoal();
    } else {
      this.conn.connect();
    }
  }

  /** The saved seat of this tab, if any (for resuming after a reload). */
  savedSeat(): Seat | null {
    return this.seating.savedSeat();
  }

  /** Whether the host removed this tab from `roomCode` (it then does not join again by itself). */
  wasRemovedFrom(roomCode: string): boolean {
    return this.seating.wasRemovedFrom(roomCode);
  }

  leave(): void {
    if (this.seating.seated) this.conn.send('session:leave', {});
    this.seating.leave();
    this.resetSeat();
    this.store.dispatch({ type: 'left' });
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

  /** Skip the countdown and try now (the "Retry now" button, tab visible, network back). */
  retryNow(): void {
    if (!this.seating.goal || this.seating.takenOver) return; // taken over: only "Use it here" takes the seat back
    this.conn.connect();
  }

  /** After another tab took the seat over: take it back. */
  takeBack(): void {
    this.seating.takeBack();
    this.store.dispatch({ type: 'taken-over', value: false });
    this.retryNow();
  }

  /**
   * The tab is in view again: the phone may have slept. Ping at once (a burst, to re-measure the
   * clock if it stood still) and check the connection. Pongs to pings from before are not used.
   */
  wake(): void {
    if (!this.conn.wake()) this.retryNow();
  }

  /** Sends one clock:ping now; if no pong comes back in time the connection is dropped. */
  ping(): void {
    this.conn.ping();
  }

  // ---- requests ----

  private request(type: ClientType, data: Record<string, unknown>, key: string | null = null): void {
    this.conn.send(type, data, this.outbox.sent(type, data, key));
  }

  private intent(type: ClientType, data: Record<string, unknown>, key: string | null): void {
    if (!this.store.getState().session) return;
    if (this.seating.seated && this.conn.isOpen) this.request(type, data, key);
    else this.outbox.hold({ type, data, key });
  }

  private hostRequest(type: ClientType, data: Record<string, unknown>): void {
    if (this.seating.seated && this.conn.isOpen) this.request(type, data);
    else this.store.dispatch({ type: 'notice', tone: 'error', text: 'Not connected: try again when the connection is back.' });
  }

  private sendGoal(): void {
    const req = this.seating.request(this.clockNow());
    if (req) this.request(req.type, req.data);
  }

  // ---- the seat ----

  private dropped(code: number): void {
    this.outbox.requeueInFlight(this.seating.goal?.kind === 'seat');
    const verdict = this.seating.afterDrop(code);
    switch (verdict) {
      case 'idle':
        this.store.dispatch({ type: 'conn', status: 'idle' });
        return;
      case 'taken-over':
        this.takenOver();
        return;
      case 'give-up':
        this.store.dispatch({
          type: 'join-failed',
          roomCode: null,
          error: { code: LocalFailure.unreachable, message: 'Could not reach the jam box. Check the Wi‑Fi and try again.' },
        });
        this.store.dispatch({ type: 'conn', status: 'idle' });
        return;
      case 'retry':
        this.conn.retryLater();
        return;
      default:
        unhandled(verdict);
    }
  }

  /** Another tab of ours holds the seat: stop reconnecting until the user asks for it here. */
  private takenOver(): void {
    this.seating.takenOver = true;
    this.store.dispatch({ type: 'taken-over', value: true });
    this.conn.suspend();
  }

  /** Closes the connection on purpose: no reconnect. */
  private shutdown(): void {
    this.outbox.forgetInFlight();
    this.seating.seated = false;
    this.conn.close();
  }

  private resetSeat(): void {
    this.seating.forget();
    this.outbox.clear();
  }

  /** The seat is gone for good (left, removed, ended): show why, and close. */
  private seatGone(msg: ServerMessage): void {
    this.seating.goal = null;
    this.resetSeat();
    this.store.dispatch({ type: 'message', msg });
    this.shutdown();
  }

  // ---- frames from the server: each type is routed here, once ----

  private receive(raw: string): void {
    const msg = parseServerMessage(raw);
    if (!msg) return;
    const reqType = this.outbox.answered(msg.re);
    const data = (msg.data ?? {}) as Record<string, unknown>;

    switch (msg.type) {
      case 'clock:pong':
        this.conn.pong(data);
        return;
      case 'error':
        this.refused(reqType, readWireError(msg.data));
        return;
      case 'session:created':
      case 'session:joined': {
        const resumed = this.seating.seatedIn(data as unknown as SeatData);
        this.conn.resetBackoff();
        this.store.dispatch({ type: 'message', msg });
        if (resumed) this.request('state:request-sync', {});
        this.outbox.flush((i) => this.request(i.type, i.data, i.key));
        return;
      }
      case 'session:left': {
        const roomCode = this.seating.roomCode;
        this.seatGone(msg);
        if (data.reason === 'removed') { // session:left's reason, which the error code repeats on a resume
          this.seating.removedFrom(roomCode);
          this.store.dispatch({ type: 'join-failed', roomCode, error: { code: ErrorCode.removed, message: REMOVED_TEXT } });
          this.store.dispatch({ type: 'notice', tone: 'error', text: REMOVED_TEXT });
        }
        return;
      }
      case 'session:ended': {
        // The person running the jam box ended the session: it is gone, so no rejoin and no
        // reconnect; the room page says why, in their words.
        const roomCode = typeof data.roomCode === 'string' ? data.roomCode : this.seating.roomCode;
        const reason = typeof data.reason === 'string' && data.reason ? data.reason : ENDED_TEXT;
        this.seatGone(msg);
        this.store.dispatch({ type: 'join-failed', roomCode, error: { code: LocalFailure.ended, message: reason } });
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
        const before = this.store.getState().session?.state;
        this.store.dispatch({ type: 'message', msg });
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

  private refused(reqType: ClientType | undefined, { code, message }: WireError): void {
    if (reqType === 'session:create' || reqType === 'session:join') {
      const roomCode = this.seating.roomCode;
      const verdict = this.seating.afterRefusal(reqType, code);
      switch (verdict) {
        case 'carry-on':
          return;
        case 'taken-over':
          this.takenOver();
          return;
        case 'retry':
          // The box could not take us back just now (internal, rate_limited, ...): keep the
          // token and come back with the usual backoff.
          this.store.dispatch({ type: 'notice', tone: 'error', text: `Could not rejoin yet: ${message} Trying again.` });
          this.conn.abandon();
          return;
        case 'failed': {
          const hadSession = this.store.getState().session !== null;
          this.resetSeat();
          if (hadSession) {
            this.store.dispatch({ type: 'left' });
            this.store.dispatch({ type: 'notice', tone: 'error', text: code === ErrorCode.roomNotFound ? 'This session has ended.' : message });
          }
          this.store.dispatch({ type: 'join-failed', roomCode, error: { code, message } });
          this.shutdown();
          return;
        }
        default:
          unhandled(verdict);
      }
    }
    if (code === ErrorCode.notInSession && this.seating.goal?.kind === 'seat') {
      this.seating.seated = false;
      this.sendGoal();
    }
    const text = code === ErrorCode.forbidden ? `Refused: ${message}` : message;
    this.store.dispatch({ type: 'notice', tone: 'error', text });
  }
}
