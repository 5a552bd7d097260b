import { describe, expect, it } from 'vitest';
import { ErrorCode } from './protocol';
import { loadRemoved, loadSeat, saveRemoved, saveSeat, type KeyValue } from './seat';
import { CLOSE_TAKEN_OVER, Seating } from './seating';
import { jamState, participant } from './testdata';

function memory(): KeyValue {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

const seatData = (token: string) => ({ roomCode: 'K7M2QX', you: participant('p_bo', 'Bo'), participants: [], state: jamState(), resumeToken: token });

describe('Seating', () => {
  it('resumes this tab’s own seat with its token, name and attempt; a new seat otherwise', () => {
    const kv = memory();
    saveSeat(kv, { roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' });
    const s = new Seating(kv);
    s.join('K7M2QX', 'Whoever', 'key-1');
    expect(s.request(42)).toEqual({
      type: 'session:join',
      data: { roomCode: 'K7M2QX', userName: 'Bo', resumeToken: 'tok-9', attempt: 42, joinKey: 'key-1' },
    });
    s.join('ZZZZZZ', 'Bo');
    expect(s.request(43)).toEqual({ type: 'session:join', data: { roomCode: 'ZZZZZZ', userName: 'Bo' } });
    s.create('Ana');
    expect(s.request(44)).toEqual({ type: 'session:create', data: { userName: 'Ana' } });
  });

  it('keeps the seat it got, and tells a resume from a first seat', () => {
    const kv = memory();
    const s = new Seating(kv);
    s.create('Bo');
    expect(s.seatedIn(seatData('tok-1'))).toBe(false);
    expect(loadSeat(kv)).toEqual({ roomCode: 'K7M2QX', resumeToken: 'tok-1', userName: 'Bo' });
    expect(s.afterDrop(1006)).toBe('retry');
    expect(s.seated).toBe(false);
    expect(s.seatedIn(seatData('tok-2'))).toBe(true);
    expect(s.request(1)?.data).toMatchObject({ resumeToken: 'tok-2' });
  });

  it('after a drop: idle without a goal, taken over on 4002, gives a cut-off create up', () => {
    const s = new Seating(memory());
    expect(s.afterDrop(1006)).toBe('idle');
    s.create('Ana');
    expect(s.afterDrop(CLOSE_TAKEN_OVER)).toBe('taken-over');
    expect(s.afterDrop(1006)).toBe('give-up');
    expect(s.goal).toBeNull();
  });

  it('after a refused resume: keeps the seat unless the answer says it is gone', () => {
    const kv = memory();
    saveSeat(kv, { roomCode: 'K7M2QX', resumeToken: 'tok-9', userName: 'Bo' });
    const s = new Seating(kv);
    s.join('K7M2QX', 'Bo');
    expect(s.afterRefusal('session:join', ErrorCode.alreadyInSession)).toBe('carry-on');
    expect(s.seated).toBe(true);
    expect(s.afterRefusal('session:join', ErrorCode.seatTaken)).toBe('taken-over');
    expect(s.afterRefusal('session:join', ErrorCode.internal)).toBe('retry');
    expect(s.afterRefusal('session:join', ErrorCode.rateLimited)).toBe('retry');
    expect(s.afterRefusal('session:join', ErrorCode.roomLocked)).toBe('failed');
    expect(s.goal).toBeNull();
    // A new seat (no token) that the box cannot take is a failed join, whatever the reason.
    s.join('ZZZZZZ', 'Bo');
    expect(s.afterRefusal('session:join', ErrorCode.internal)).toBe('failed');
  });

  it('remembers a removal until the user asks to join that room again', () => {
    const kv = memory();
    const s = new Seating(kv);
    s.removedFrom('K7M2QX');
    expect(s.wasRemovedFrom('K7M2QX')).toBe(true);
    s.join('K7M2QX', 'Bo');
    expect(loadRemoved(kv)).toBeNull();
    saveRemoved(kv, 'K7M2QX');
    expect(s.wasRemovedFrom('ZZZZZZ')).toBe(false);
  });
});
