// Where this tab keeps its seat (per tab: sessionStorage) and this device keeps its name
// and sound settings (localStorage). Storage can be missing or throw (private mode); every
// access is guarded.

export interface Seat {
  roomCode: string;
  resumeToken: string;
  userName: string;
}

export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const SEAT_KEY = 'jamd.seat';
const REMOVED_KEY = 'jamd.removed';
const NAME_KEY = 'jamd.name';

function safe(get: () => KeyValue | undefined): KeyValue | null {
  try {
    return get() ?? null;
  } catch {
    return null;
  }
}

export const tabStorage = (): KeyValue | null => safe(() => globalThis.sessionStorage);
export const deviceStorage = (): KeyValue | null => safe(() => globalThis.localStorage);

export function loadSeat(kv: KeyValue | null): Seat | null {
  try {
    const raw = kv?.getItem(SEAT_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Seat>;
    if (typeof s.roomCode === 'string' && typeof s.resumeToken === 'string' && typeof s.userName === 'string') {
      return { roomCode: s.roomCode, resumeToken: s.resumeToken, userName: s.userName };
    }
  } catch {
    /* unreadable: treat as none */
  }
  return null;
}

export function saveSeat(kv: KeyValue | null, seat: Seat | null): void {
  try {
    if (seat) kv?.setItem(SEAT_KEY, JSON.stringify(seat));
    else kv?.removeItem(SEAT_KEY);
  } catch {
    /* storage full or blocked: a reload will then ask to join again */
  }
}

export function loadName(kv: KeyValue | null = deviceStorage()): string {
  try {
    return kv?.getItem(NAME_KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveName(name: string, kv: KeyValue | null = deviceStorage()): void {
  try {
    kv?.setItem(NAME_KEY, name);
  } catch {
    /* ignore */
  }
}

/** The room the host removed this tab from, so a reload does not quietly join it again. */
export function loadRemoved(kv: KeyValue | null): string | null {
  try {
    return kv?.getItem(REMOVED_KEY) ?? null;
  } catch {
    return null;
  }
}

export function saveRemoved(kv: KeyValue | null, roomCode: string | null): void {
  try {
    if (roomCode) kv?.setItem(REMOVED_KEY, roomCode);
    else kv?.removeItem(REMOVED_KEY);
  } catch {
    /* blocked: a reload may then offer to join again */
  }
}
