import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_TYPES,
  ErrorCode,
  isWellFormedRoomCode,
  normalizeRoomCode,
  parseServerMessage,
  readWireError,
  SERVER_TYPES,
  validateUserName,
} from './protocol';
import { loadSeat, saveSeat, type KeyValue } from './seat';

describe('room codes and names', () => {
  it('normalizes codes the way the server accepts them', () => {
    expect(normalizeRoomCode('  k7m2qx ')).toBe('K7M2QX');
    expect(isWellFormedRoomCode('K7M2QX')).toBe(true);
    expect(isWellFormedRoomCode('K7M2Q')).toBe(false);
    expect(isWellFormedRoomCode('K7M2Q!')).toBe(false);
  });

  it('checks names like the server: 1–32 characters after trimming, no control characters', () => {
    expect(validateUserName('  Ana ')).toBeNull();
    expect(validateUserName('   ')).toMatch(/enter a name/);
    expect(validateUserName('x'.repeat(33))).toMatch(/32/);
    expect(validateUserName('🥁'.repeat(32))).toBeNull();
    expect(validateUserName('a\u0007b')).toMatch(/control/);
  });
});

describe('seat storage', () => {
  it('round-trips and survives broken or missing storage', () => {
    const m = new Map<string, string>();
    const kv: KeyValue = { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
    saveSeat(kv, { roomCode: 'K7M2QX', resumeToken: 't', userName: 'Ana' });
    expect(loadSeat(kv)).toEqual({ roomCode: 'K7M2QX', resumeToken: 't', userName: 'Ana' });
    m.set('jamd.seat', '{not json');
    expect(loadSeat(kv)).toBeNull();
    expect(loadSeat(null)).toBeNull();
    const throwing: KeyValue = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('full');
      },
      removeItem: () => {},
    };
    expect(loadSeat(throwing)).toBeNull();
    expect(() => saveSeat(throwing, { roomCode: 'A', resumeToken: 'b', userName: 'c' })).not.toThrow();
  });
});

describe('the wire contract in docs/protocol.md', () => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
  const section = (title: string) => doc.slice(doc.indexOf(`\n## ${title}\n`), doc.indexOf('\n## ', doc.indexOf(`\n## ${title}\n`) + 1));

  it('has the error codes this client knows, and no others', () => {
    const codes = [...section('Errors').matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(new Set(codes)).toEqual(new Set(Object.values(ErrorCode)));
  });

  it('has the message types this client knows, each way', () => {
    const messages = section('Messages');
    const requests = messages.slice(0, messages.indexOf('Other events a member receives'));
    const sent = [...requests.matchAll(/^\| `([a-z]+:[a-z-]+)` \| `?\{/gm)].map((m) => m[1]);
    const named = new Set([...messages.matchAll(/`([a-z]+:[a-z-]+)[ `]/g)].map((m) => m[1]));
    expect(new Set(sent)).toEqual(new Set(CLIENT_TYPES));
    // Every type the page names is one a client sends or gets; the server's error frame is in "Errors".
    expect(named).toEqual(new Set([...CLIENT_TYPES, ...SERVER_TYPES.filter((t) => t !== 'error')]));
  });
});

describe('parseServerMessage and readWireError', () => {
  it('drops frames it cannot read and types it does not know', () => {
    expect(parseServerMessage('not json')).toBeNull();
    expect(parseServerMessage('{"type": 3}')).toBeNull();
    expect(parseServerMessage('{"type": "state:brand-new", "data": {}}')).toBeNull();
    expect(parseServerMessage('{"type": "clock:pong", "data": {"t0": 1}}')).toEqual({ type: 'clock:pong', data: { t0: 1 } });
  });

  it('reads an unknown error code as internal, keeping the words', () => {
    expect(readWireError({ code: 'room_full', message: 'Full.' })).toEqual({ code: ErrorCode.roomFull, message: 'Full.' });
    expect(readWireError({ code: 'brand_new', message: 'New.' })).toEqual({ code: ErrorCode.internal, message: 'New.' });
    expect(readWireError(null)).toEqual({ code: ErrorCode.internal, message: 'Something went wrong.' });
  });
});
