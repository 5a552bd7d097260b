// The seat policy: which seat this tab is after (a new session, or a seat in a room, with its
// resume token), and what a drop or a refusal means for it. It decides; the client carries the
// decision out. The seat itself is kept per tab (seat.ts), so a reload resumes it.
//
// - The newest connection wins a seat: a resume carries this tab's attempt, its monotonic clock.
// - Another tab holding the seat (close code 4002, or seat_taken) stops the reconnecting until
//   the user takes the seat back here.
// - A resume the box cannot take just now (internal, rate_limited, ...) keeps the seat and tries
//   again; only answers that mean the seat is gone (SEAT_GONE) end it.
// - A create cut off by a drop is not retried behind the user's back: it may have happened.
// - A seat the host removed is remembered, so a reload does not quietly join again.

import { ErrorCode, type ClientType, type SeatData } from './protocol';
import { loadRemoved, loadSeat, saveRemoved, saveSeat, type KeyValue, type Seat } from './seat';

export type Goal =
  | { kind: 'create'; userName: string }
  | { kind: 'seat'; roomCode: string; userName: string; resumeToken: string | null; joinKey?: string };

/** The close code of a connection whose seat a newer connection (same token) took over. */
export const CLOSE_TAKEN_OVER = 4002;

/** Answers to a resume that mean the seat is really gone; on any other, keep it and retry. */
const SEAT_GONE: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.roomNotFound,
  ErrorCode.invalidRoomCode,
  ErrorCode.roomFull,
  ErrorCode.roomLocked,
  ErrorCode.removed,
]);

/** After a drop: nothing wanted (idle), another tab has the seat, a cut-off create, or come back. */
export type AfterDrop = 'idle' | 'taken-over' | 'give-up' | 'retry';
/** After a refused create or join: still seated, another tab has it, try again later, or failed. */
export type AfterRefusal = 'carry-on' | 'taken-over' | 'retry' | 'failed';

export class Seating {
  /** What this tab is after; null once it left, failed or the session ended. */
  goal: Goal | null = null;
  /** The server has this connection in the seat. */
  seated = false;
  /** This tab has had the seat: a new connection is a resume. */
  hadSeat = false;
  /** Another tab holds the seat (4002 or seat_taken): no reconnect until the user asks for it. */
  takenOver = false;

  constructor(private readonly storage: KeyValue | null) {}

  /** The room of the seat this tab is after, if any. */
  get roomCode(): string | null {
    return this.goal?.kind === 'seat' ? this.goal.roomCode : null;
  }

  /** The saved seat of this tab, if any (for resuming after a reload). */
  savedSeat(): Seat | null {
    return loadSeat(this.storage);
  }

  /** Whether the host removed this tab from `roomCode`. */
  wasRemovedFrom(roomCode: string): boolean {
    return loadRemoved(this.storage) === roomCode;
  }

  create(userName: string): void {
    this.takenOver = false;
    this.goal = { kind: 'create', userName };
  }

  /** Aims at a seat in `roomCode`: this tab's own, with its token and name, when it has one there. */
  join(roomCode: string, userName: string, joinKey?: string): void {
    const saved = loadSeat(this.storage);
    const mine = saved?.roomCode === roomCode ? saved : null;
    this.takenOver = false;
    if (this.wasRemovedFrom(roomCode)) saveRemoved(this.storage, null); // asked to join again on purpose
    this.goal = { kind: 'seat', roomCode, userName: mine ? mine.userName : userName, resumeToken: mine?.resumeToken ?? null, joinKey };
  }

  /** The user leaves: nothing is wanted any more. */
  leave(): void {
    this.goal = null;
    this.takenOver = false;
  }

  /** The user takes the seat back from another tab. */
  takeBack(): void {
    this.takenOver = false;
    const seat = loadSeat(this.storage);
    if (seat) this.goal = { kind: 'seat', roomCode: seat.roomCode, userName: seat.userName, resumeToken: seat.resumeToken };
  }

  /** The request that goes after the goal on a fresh connection; `attempt` orders this tab's resumes. */
  request(attempt: number): { type: ClientType; data: Record<string, unknown> } | null {
    const g = this.goal;
    if (!g) return null;
    if (g.kind === 'create') return { type: 'session:create', data: { userName: g.userName } };
    const data: Record<string, unknown> = { roomCode: g.roomCode, userName: g.userName };
    // The attempt orders this tab's connections, so a stale join arriving late cannot take the
    // seat from a newer one: the monotonic clock only grows.
    if (g.resumeToken) Object.assign(data, { resumeToken: g.resumeToken, attempt });
    if (g.joinKey) data.joinKey = g.joinKey;
    return { type: 'session:join', data };
  }

  /** session:created or session:joined: the seat is ours; returns whether it was a resume. */
  seatedIn(seat: SeatData): boolean {
    const resumed = this.hadSeat;
    this.seated = true;
    this.hadSeat = true;
    this.goal = { kind: 'seat', roomCode: seat.roomCode, userName: seat.you.name, resumeToken: seat.resumeToken };
    saveSeat(this.storage, { roomCode: seat.roomCode, resumeToken: seat.resumeToken, userName: seat.you.name });
    return resumed;
  }

  afterDrop(code: number): AfterDrop {
    this.seated = false;
    if (!this.goal) return 'idle';
    if (code === CLOSE_TAKEN_OVER) return 'taken-over';
    if (this.goal.kind === 'create') {
      // The create may or may not have happened; do not make a second session behind the user's back.
      this.goal = null;
      return 'give-up';
    }
    return 'retry';
  }

  /** An error answering our create or join (`reqType`). A failed one ends the goal. */
  afterRefusal(reqType: 'session:create' | 'session:join', code: ErrorCode): AfterRefusal {
    const g = this.goal;
    if (code === ErrorCode.alreadyInSession) {
      // The server still sees this connection seated: carry on.
      this.seated = true;
      return 'carry-on';
    }
    // A newer connection from this device holds the seat: another tab of ours has it.
    if (code === ErrorCode.seatTaken) return 'taken-over';
    // The box could not take us back just now: the seat is still ours.
    if (reqType === 'session:join' && g?.kind === 'seat' && g.resumeToken && !SEAT_GONE.has(code)) return 'retry';
    this.goal = null;
    return 'failed';
  }

  /** The seat is gone, or wanted no more: forget it (and its token). */
  forget(): void {
    saveSeat(this.storage, null);
    this.hadSeat = false;
  }

  /** The host removed this tab from `roomCode`. */
  removedFrom(roomCode: string | null): void {
    saveRemoved(this.storage, roomCode);
  }
}
