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

/** A frame as it arrives from the server. */
export interface ServerMessage {
  type: string;
  re?: string;
  data?: unknown;
}

export interface WireError {
  code: string;
  message: string;
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
