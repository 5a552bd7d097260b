// Types of wire contract v1 (docs/protocol.md). Nothing here talks to the network.

export const TRACKS = ['kick', 'snare', 'hihat', 'clap'] as const;
export type Track = (typeof TRACKS)[number];
export const STEPS = 16;

export const KEYS = ['C', 'C#', 'Db', 'D', 'D#', 'Eb', 'E', 'F', 'F#', 'Gb', 'G', 'G#', 'Ab', 'A', 'A#', 'Bb', 'B'] as const;
export const SCALES = ['major', 'minor', 'dorian', 'phrygian', 'lydian', 'mixolydian', 'locrian', 'pentatonic', 'blues'] as const;

export const MIN_TEMPO = 20;
export const MAX_TEMPO = 300;

/** connected; reconnecting (dropped less than the reconnect grace ago); away (longer). */
export type Presence = 'connected' | 'reconnecting' | 'away';

export interface Participant {
  id: string;
  name: string;
  /** May use the host controls now (the host, or whoever stands in for them). */
  isHost: boolean;
  joinedAt: string;
  connected: boolean;
  presence?: Presence;
  /** While not connected: when the connection dropped (RFC 3339). */
  awaySince?: string;
}

/** The room's rules, which the host sets. */
export interface Settings {
  /** No new seats; seats already in the room still come back. */
  locked: boolean;
  /** Everyone may start and stop the beat. */
  openPlayback: boolean;
}

export const defaultSettings: Settings = { locked: false, openPlayback: false };

/**
 * From serverTime (ms since the Unix epoch, with a fraction) on, the beat at server time t is
 * beat + (t − serverTime) · tempo / 60000 while playing; before it, at tempoBefore (or tempo).
 */
export interface Anchor {
  serverTime: number;
  beat: number;
  /** Set when a change lands ahead of time: the tempo of the beats just before the anchor. */
  tempoBefore?: number;
}

export type Pattern = Record<Track, boolean[]>;

/** The room's link to Ableton Link: on or off (the host's switch), and how many Link apps share it. */
export interface LinkState {
  enabled: boolean;
  peers: number;
}

/** The `by` of a change that the Ableton Link session made (another app's tempo or play/stop). */
export const LINK_BY = 'link';

export interface JamState {
  tempo: number;
  isPlaying: boolean;
  currentStep: number;
  key: string;
  scale: string;
  anchor: Anchor;
  pattern: Pattern;
  version: number;
  link: LinkState;
}

/** What a client sends (docs/protocol.md, "Messages"). */
export const CLIENT_TYPES = [
  'session:create',
  'session:join',
  'session:leave',
  'session:remove',
  'session:settings',
  'session:set-host',
  'state:tempo-change',
  'state:key-change',
  'state:playback-control',
  'pattern:set-step',
  'pattern:clear',
  'state:link-control',
  'state:request-sync',
  'clock:ping',
] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

/** What the server sends: replies and events (docs/protocol.md, "Messages" and "Errors"). */
export const SERVER_TYPES = [
  'session:created',
  'session:joined',
  'session:left',
  'session:ended',
  'session:user-joined',
  'session:user-updated',
  'session:user-left',
  'session:host-changed',
  'session:settings',
  'state:sync',
  'state:tempo-change',
  'state:key-change',
  'state:playback-control',
  'state:link-control',
  'state:link-peers',
  'pattern:set-step',
  'pattern:clear',
  'clock:pong',
  'error',
] as const;
export type ServerType = (typeof SERVER_TYPES)[number];

const serverTypes: ReadonlySet<string> = new Set(SERVER_TYPES);

/** A frame as it arrives from the server, once its type is one this client knows. */
export interface ServerMessage {
  type: ServerType;
  re?: string;
  data?: unknown;
}

/** Reads a frame; null for anything that is not JSON with a known `type` (a newer server's). */
export function parseServerMessage(raw: string): ServerMessage | null {
  let msg: { type?: unknown; re?: unknown; data?: unknown };
  try {
    msg = JSON.parse(raw) as typeof msg;
  } catch {
    return null;
  }
  if (!msg || typeof msg.type !== 'string' || !serverTypes.has(msg.type)) return null;
  return msg as ServerMessage;
}

/** The error codes of the wire contract (docs/protocol.md, "Errors"; appliance/errors.go). */
export const ErrorCode = {
  invalidMessage: 'invalid_message',
  unknownType: 'unknown_type',
  invalidRoomCode: 'invalid_room_code',
  roomNotFound: 'room_not_found',
  roomFull: 'room_full',
  invalidName: 'invalid_name',
  nameTaken: 'name_taken',
  boxFull: 'box_full',
  invalidTempo: 'invalid_tempo',
  invalidKey: 'invalid_key',
  invalidPattern: 'invalid_pattern',
  forbidden: 'forbidden',
  roomLocked: 'room_locked',
  removed: 'removed',
  seatTaken: 'seat_taken',
  invalidParticipant: 'invalid_participant',
  notInSession: 'not_in_session',
  alreadyInSession: 'already_in_session',
  linkInUse: 'link_in_use',
  linkOff: 'link_off',
  rateLimited: 'rate_limited',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const errorCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Why a create or join failed that the server did not say: the client's own, never on the wire. */
export const LocalFailure = {
  /** The connection dropped before a create was answered. */
  unreachable: 'unreachable',
  /** The person running the jam box ended the session (session:ended). */
  ended: 'ended',
} as const;
export type FailureCode = ErrorCode | (typeof LocalFailure)[keyof typeof LocalFailure];

export interface WireError {
  code: ErrorCode;
  message: string;
}

/** An error frame's data as this client can use it: a code it does not know counts as internal. */
export function readWireError(data: unknown): WireError {
  const d = (data ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof d.code === 'string' && errorCodes.has(d.code) ? (d.code as ErrorCode) : ErrorCode.internal;
  return { code, message: typeof d.message === 'string' ? d.message : 'Something went wrong.' };
}

/** For the end of an exhaustive switch: the compiler refuses it when a case is missing. */
export function unhandled(x: never): never {
  throw new Error(`unhandled: ${String(x)}`);
}

export interface SeatData {
  roomCode: string;
  you: Participant;
  participants: Participant[];
  homeHostId?: string;
  settings?: Settings;
  state: JamState;
  resumeToken: string;
  /** The secret the shared link and QR code carry: it lets a new seat into a locked room. */
  joinKey?: string;
}

export interface SyncData {
  roomCode: string;
  participants: Participant[];
  homeHostId?: string;
  settings?: Settings;
  state: JamState;
}

/** A participant's presence, from the fields an older server may not send. */
export function presenceOf(p: Participant): Presence {
  return p.presence ?? (p.connected ? 'connected' : 'reconnecting');
}

/** Room codes as the server accepts them: trimmed, upper-cased, 6 of [A-Z0-9]. */
export function normalizeRoomCode(raw: string): string {
  return raw.trim().toUpperCase();
}

export function isWellFormedRoomCode(code: string): boolean {
  return /^[A-Z0-9]{6}$/.test(code);
}

export const MAX_NAME_GRAPHEMES = 32;
export const MAX_NAME_BYTES = 128;

/** Characters as a person counts them: 👨‍👩‍👧‍👦 is one. */
function graphemes(s: string): number {
  const Segmenter = (Intl as { Segmenter?: typeof Intl.Segmenter }).Segmenter;
  return Segmenter ? [...new Segmenter(undefined, { granularity: 'grapheme' }).segment(s)].length : [...s].length;
}

/** Mirrors the server's length rules so the form can say what is wrong before sending; the server checks the rest. */
export function validateUserName(raw: string): string | null {
  const name = raw.trim();
  if (name.length === 0) return 'Please enter a name.';
  if (graphemes(name) > MAX_NAME_GRAPHEMES || new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
    return `Names can be at most ${MAX_NAME_GRAPHEMES} characters.`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Names cannot contain control characters.';
  return null;
}

export function emptyPattern(): Pattern {
  return {
    kick: Array<boolean>(STEPS).fill(false),
    snare: Array<boolean>(STEPS).fill(false),
    hihat: Array<boolean>(STEPS).fill(false),
    clap: Array<boolean>(STEPS).fill(false),
  };
}
