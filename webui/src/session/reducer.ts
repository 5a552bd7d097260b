// The app's state and the one function that changes it. Pure: no sockets, no timers, no React.

import {
  defaultSettings,
  emptyPattern,
  TRACKS,
  STEPS,
  unhandled,
  type Anchor,
  type FailureCode,
  type JamState,
  type LinkState,
  type Participant,
  type Pattern,
  type SeatData,
  type ServerMessage,
  type Settings,
  type SyncData,
  type Track,
} from './protocol';

export type ConnStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface Connection {
  status: ConnStatus;
  /** While reconnecting: when (Date.now() ms) the next attempt starts. */
  retryAt: number | null;
  /** Failed attempts since the last good connection. */
  attempt: number;
}

/** Step changes waiting in the offline queue, as the grid should show them meanwhile. */
export interface QueuedSteps {
  /** A pattern:clear is waiting: show every step off but those set after it. */
  cleared: boolean;
  /** `track:step` → on, for each step change waiting. */
  steps: Record<string, boolean>;
}

export const stepKey = (track: Track, step: number): string => `${track}:${step}`;

export interface SessionView {
  roomCode: string;
  youId: string;
  participants: Participant[];
  /** The host whom the current host stands in for, while they are away. */
  homeHostId: string | null;
  settings: Settings;
  /** For the link and QR code this tab shares; null from a server that has none. */
  joinKey: string | null;
  state: JamState;
}

/** Why a create or join failed: the server's error, or the client's own (LocalFailure). */
export interface Failure {
  code: FailureCode;
  message: string;
}

export interface Notice {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

export interface AppState {
  conn: Connection;
  /** The session this tab sits in, as the server last told it. */
  session: SessionView | null;
  /** A create or join that has been asked for and not answered yet. */
  pending: { op: 'create' | 'join'; roomCode: string | null } | null;
  /** Why the last create/join failed (room_not_found, room_full, ...). */
  joinError: (Failure & { roomCode: string | null }) | null;
  /** The latest thing to tell the user (a refused change, a queued change, ...). */
  notice: Notice | null;
  /** Changes made while offline, waiting to be sent. */
  queued: number;
  /** The step changes among them, for the grid to show meanwhile. */
  queuedSteps: QueuedSteps;
  /** The seat was opened in another tab (close code 4002); we stopped reconnecting. */
  takenOver: boolean;
}

const noQueuedSteps: QueuedSteps = { cleared: false, steps: {} };

export const initialState: AppState = {
  conn: { status: 'idle', retryAt: null, attempt: 0 },
  session: null,
  pending: null,
  joinError: null,
  notice: null,
  queued: 0,
  queuedSteps: noQueuedSteps,
  takenOver: false,
};

export type Action =
  | { type: 'conn'; status: ConnStatus; retryAt?: number | null; attempt?: number }
  | { type: 'pending'; op: 'create' | 'join'; roomCode: string | null }
  | { type: 'join-failed'; roomCode: string | null; error: Failure }
  | { type: 'message'; msg: ServerMessage }
  | { type: 'notice'; text: string; tone: 'info' | 'error' }
  | { type: 'clear-notice' }
  | { type: 'queued'; count: number; steps?: QueuedSteps }
  | { type: 'left' }
  | { type: 'taken-over'; value: boolean };

let noticeSeq = 0;

export function reduce(s: AppState, a: Action): AppState {
  switch (a.type) {
    case 'conn':
      return {
        ...s,
        conn: {
          status: a.status,
          retryAt: a.retryAt ?? null,
          attempt: a.attempt ?? (a.status === 'connected' ? 0 : s.conn.attempt),
        },
      };
    case 'pending':
      return { ...s, pending: { op: a.op, roomCode: a.roomCode }, joinError: null };
    case 'join-failed':
      return { ...s, pending: null, joinError: { ...a.error, roomCode: a.roomCode } };
    case 'notice':
      return { ...s, notice: { id: ++noticeSeq, text: a.text, tone: a.tone } };
    case 'clear-notice':
      return s.notice ? { ...s, notice: null } : s;
    case 'queued':
      return { ...s, queued: a.count, queuedSteps: a.steps ?? noQueuedSteps };
    case 'left':
      return { ...s, session: null, pending: null, queued: 0, queuedSteps: noQueuedSteps, takenOver: false };
    case 'taken-over':
      return { ...s, takenOver: a.value };
    case 'message':
      return applyMessage(s, a.msg);
  }
}

function applyMessage(s: AppState, msg: ServerMessage): AppState {
  const d = (msg.data ?? {}) as Record<string, unknown>;
  // Everything but a seat's start and end changes the session this tab is in, and is dropped
  // without one.
  const inSession = (next: (sess: SessionView) => Partial<SessionView> | null): AppState => {
    const sess = s.session;
    const changes = sess && next(sess);
    return sess && changes ? { ...s, session: { ...sess, ...changes } } : s;
  };
  const withState = (version: unknown, next: (st: JamState) => Partial<JamState> | null): AppState =>
    inSession((sess) => {
      // Events arrive in order on one connection; after a resync an older event is stale.
      if (typeof version !== 'number' || version <= sess.state.version) return null;
      const changes = next(sess.state);
      return changes && { state: { ...sess.state, ...changes, version } };
    });

  switch (msg.type) {
    case 'session:created':
    case 'session:joined': {
      const seat = d as unknown as SeatData;
      return {
        ...s,
        pending: null,
        joinError: null,
        takenOver: false,
        session: {
          roomCode: seat.roomCode,
          youId: seat.you.id,
          participants: seat.participants,
          homeHostId: seat.homeHostId ?? null,
          settings: seat.settings ?? defaultSettings,
          joinKey: seat.joinKey ?? null,
          state: normalizeState(seat.state),
        },
      };
    }
    case 'session:left':
    case 'session:ended':
      return { ...s, session: null, pending: null, queued: 0, queuedSteps: noQueuedSteps };
    case 'state:sync': {
      const sync = d as unknown as SyncData;
      return inSession((sess) =>
        sync.roomCode !== sess.roomCode
          ? null
          : {
              participants: sync.participants,
              homeHostId: sync.homeHostId ?? null,
              settings: sync.settings ?? defaultSettings,
              state: normalizeState(sync.state),
            },
      );
    }
    case 'session:user-joined':
    case 'session:user-updated':
      return inSession((sess) => ({ participants: upsert(sess.participants, d.user as Participant) }));
    case 'session:user-left':
      return inSession((sess) => ({ participants: sess.participants.filter((p) => p.id !== d.userId) }));
    case 'session:host-changed':
      return inSession((sess) => ({
        participants: sess.participants.map((p) => ({ ...p, isHost: p.id === d.hostId })),
        homeHostId: typeof d.homeHostId === 'string' ? d.homeHostId : null,
      }));
    case 'session:settings':
      return inSession(() => ({ settings: { locked: d.locked === true, openPlayback: d.openPlayback === true } }));
    case 'state:tempo-change':
      return withState(d.version, () => ({ tempo: d.tempo as number, anchor: d.anchor as Anchor }));
    case 'state:key-change':
      return withState(d.version, () => ({ key: d.key as string, scale: d.scale as string }));
    case 'state:playback-control':
      return withState(d.version, () => ({ isPlaying: d.isPlaying as boolean, anchor: d.anchor as Anchor }));
    case 'state:link-control':
      return withState(d.version, () => ({ link: linkOf(d) }));
    case 'state:link-peers':
      // A count, not a change of the state: no version.
      return inSession((sess) => ({ state: { ...sess.state, link: { ...sess.state.link, peers: linkOf(d).peers } } }));
    case 'pattern:set-step': {
      const track = d.track as Track;
      const step = d.step as number;
      if (!TRACKS.includes(track) || !(step >= 0 && step < STEPS)) return s;
      return withState(d.version, (st) => {
        const row = st.pattern[track].slice();
        row[step] = Boolean(d.on);
        return { pattern: { ...st.pattern, [track]: row } };
      });
    }
    case 'pattern:clear':
      return withState(d.version, () => ({ pattern: emptyPattern() }));
    case 'clock:pong':
    case 'error':
      // The client's own business (the clock, its requests): they change nothing shown.
      return s;
    default:
      return unhandled(msg.type);
  }
}

function upsert(list: Participant[], user: Participant | undefined): Participant[] {
  if (!user || typeof user.id !== 'string') return list;
  const i = list.findIndex((p) => p.id === user.id);
  if (i < 0) return [...list, user];
  const next = list.slice();
  next[i] = user;
  return next;
}

/** Fills in what an older or partial state may lack, so the UI never reads undefined. */
function normalizeState(st: JamState): JamState {
  const pattern = emptyPattern();
  for (const t of TRACKS) {
    const row = st.pattern?.[t];
    if (Array.isArray(row)) for (let i = 0; i < STEPS; i++) pattern[t][i] = Boolean(row[i]);
  }
  return { ...st, pattern, anchor: st.anchor ?? { serverTime: 0, beat: 0 }, link: linkOf(st.link ?? {}) };
}

/** The link fields of a state or event, from whatever the server sent (an older one sends none). */
function linkOf(d: Partial<Record<keyof LinkState, unknown>>): LinkState {
  const peers = d.peers;
  return { enabled: d.enabled === true, peers: typeof peers === 'number' && peers >= 0 ? peers : 0 };
}

/** A grid cell as this tab shows it: a change waiting to be sent shows as made, marked pending. */
export function shownStep(pattern: Pattern, queued: QueuedSteps, track: Track, step: number): { on: boolean; pending: boolean } {
  const waiting = queued.steps[stepKey(track, step)];
  if (waiting !== undefined) return { on: waiting, pending: true };
  if (queued.cleared) return { on: false, pending: pattern[track][step] === true };
  return { on: pattern[track][step] === true, pending: false };
}

/** What this tab should play: nothing while another tab holds the seat. */
export function audibleState(s: AppState): JamState | null {
  return s.takenOver ? null : (s.session?.state ?? null);
}

/** The participant this tab is, if seated. */
export function you(s: AppState): Participant | undefined {
  return s.session?.participants.find((p) => p.id === s.session?.youId);
}
