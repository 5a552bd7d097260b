import { describe, expect, it } from 'vitest';
import { isWellFormedRoomCode, normalizeRoomCode, validateUserName } from './protocol';
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
