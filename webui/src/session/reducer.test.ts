import { describe, expect, it } from 'vitest';
import { emptyPattern, type ServerType } from './protocol';
import { audibleState, initialState, reduce, shownStep, you, type Action, type AppState } from './reducer';
import { jamState, participant } from './testdata';

const ana = participant('p_ana', 'Ana', { isHost: true });
const bo = participant('p_bo', 'Bo');

function seated(): AppState {
  return reduce(initialState, {
    type: 'message',
    msg: {
      type: 'session:created',
      re: 'c1',
      data: { roomCode: 'K7M2QX', you: ana, participants: [ana], state: jamState(), resumeToken: 'tok' },
    },
  });
}

const msg = (type: ServerType, data: unknown): Action => ({ type: 'message', msg: { type, data } });

describe('reduce', () => {
  it('follows the room settings and who stands in for an away host', () => {
    let s = reduce(seated(), msg('session:user-joined', { user: bo }));
    expect(s.session?.settings).toEqual({ locked: false, openPlayback: false });
    s = reduce(s, msg('session:settings', { locked: true, openPlayback: false, by: 'p_ana' }));
    expect(s.session?.settings).toEqual({ locked: true, openPlayback: false });
    s = reduce(s, msg('session:host-changed', { hostId: 'p_bo', homeHostId: 'p_ana' }));
    expect(s.session?.participants.map((p) => p.isHost)).toEqual([false, true]);
    expect(s.session?.homeHostId).toBe('p_ana');
    s = reduce(s, msg('session:host-changed', { hostId: 'p_ana' }));
    expect(s.session?.homeHostId).toBeNull();
    s = reduce(s, msg('state:sync', { roomCode: 'K7M2QX', participants: [ana, bo], homeHostId: 'p_ana', settings: { locked: false, openPlayback: true }, state: jamState() }));
    expect(s.session?.settings.openPlayback).toBe(true);
    expect(s.session?.homeHostId).toBe('p_ana');
  });

  it('follows the link to Ableton Link: the switch is versioned, the count of apps is not', () => {
    let s = seated();
    expect(s.session?.state.link).toEqual({ enabled: false, peers: 0 });
    s = reduce(s, msg('state:link-control', { enabled: true, peers: 0, version: 2, by: 'p_ana' }));
    expect(s.session?.state.link).toEqual({ enabled: true, peers: 0 });
    expect(s.session?.state.version).toBe(2);
    s = reduce(s, msg('state:link-peers', { peers: 2 }));
    expect(s.session?.state.link).toEqual({ enabled: true, peers: 2 });
    expect(s.session?.state.version).toBe(2);
    // Link's own changes are ordinary events, by "link".
    s = reduce(s, msg('state:tempo-change', { tempo: 96, anchor: { serverTime: 5, beat: 0 }, version: 3, by: 'link' }));
    expect(s.session?.state.tempo).toBe(96);
    s = reduce(s, msg('state:link-peers', { peers: 'many' }));
    expect(s.session?.state.link.peers).toBe(0);
    s = reduce(s, msg('state:link-control', { enabled: false, peers: 0, version: 4, by: 'p_ana' }));
    expect(s.session?.state.link.enabled).toBe(false);
    // A state from a server without Link reads as unlinked.
    const { link: _, ...old } = jamState();
    s = reduce(s, msg('state:sync', { roomCode: 'K7M2QX', participants: [ana], state: { ...old, version: 9 } }));
    expect(s.session?.state.link).toEqual({ enabled: false, peers: 0 });
  });

  it('seats the tab on session:created and clears pending', () => {
    let s = reduce(initialState, { type: 'pending', op: 'create', roomCode: null });
    expect(s.pending).toEqual({ op: 'create', roomCode: null });
    s = reduce(s, msg('session:created', { roomCode: 'K7M2QX', you: ana, participants: [ana], state: jamState(), resumeToken: 't' }));
    expect(s.pending).toBeNull();
    expect(s.session?.roomCode).toBe('K7M2QX');
    expect(you(s)?.name).toBe('Ana');
  });

  it('adds, updates and removes participants', () => {
    let s = reduce(seated(), msg('session:user-joined', { user: bo }));
    expect(s.session?.participants.map((p) => p.name)).toEqual(['Ana', 'Bo']);
    s = reduce(s, msg('session:user-updated', { user: { ...bo, connected: false } }));
    expect(s.session?.participants[1]?.connected).toBe(false);
    expect(s.session?.participants).toHaveLength(2);
    // A user-joined for someone already listed (a resumed seat) does not duplicate them.
    s = reduce(s, msg('session:user-joined', { user: bo }));
    expect(s.session?.participants).toHaveLength(2);
    s = reduce(s, msg('session:user-left', { userId: 'p_ana' }));
    s = reduce(s, msg('session:host-changed', { hostId: 'p_bo' }));
    expect(s.session?.participants).toEqual([{ ...bo, isHost: true }]);
  });

  it('applies state changes with a newer version and ignores stale ones', () => {
    let s = reduce(seated(), msg('state:tempo-change', { tempo: 96, anchor: { serverTime: 5, beat: 1 }, version: 2, by: 'p_ana' }));
    expect(s.session?.state.tempo).toBe(96);
    expect(s.session?.state.anchor).toEqual({ serverTime: 5, beat: 1 });
    expect(s.session?.state.version).toBe(2);
    const stale = reduce(s, msg('state:tempo-change', { tempo: 50, anchor: { serverTime: 1, beat: 0 }, version: 2 }));
    expect(stale).toBe(s);
    s = reduce(s, msg('state:key-change', { key: 'F#', scale: 'dorian', version: 3 }));
    expect([s.session?.state.key, s.session?.state.scale]).toEqual(['F#', 'dorian']);
    s = reduce(s, msg('state:playback-control', { isPlaying: true, anchor: { serverTime: 9, beat: 0 }, version: 4 }));
    expect(s.session?.state.isPlaying).toBe(true);
    expect(s.session?.state.version).toBe(4);
  });

  it('sets and clears pattern steps', () => {
    let s = reduce(seated(), msg('pattern:set-step', { track: 'snare', step: 4, on: true, version: 2 }));
    expect(s.session?.state.pattern.snare[4]).toBe(true);
    expect(s.session?.state.pattern.kick[4]).toBe(false);
    const before = s;
    expect(reduce(s, msg('pattern:set-step', { track: 'cowbell', step: 1, on: true, version: 3 }))).toBe(before);
    expect(reduce(s, msg('pattern:set-step', { track: 'kick', step: 16, on: true, version: 3 }))).toBe(before);
    s = reduce(s, msg('pattern:clear', { version: 3 }));
    expect(s.session?.state.pattern.snare.some(Boolean)).toBe(false);
  });

  it('replaces everything on state:sync for the same room only', () => {
    const s = seated();
    const sync = { roomCode: 'K7M2QX', participants: [ana, bo], state: jamState({ tempo: 140, version: 9 }) };
    const next = reduce(s, msg('state:sync', sync));
    expect(next.session?.state.tempo).toBe(140);
    expect(next.session?.participants).toHaveLength(2);
    expect(reduce(s, msg('state:sync', { ...sync, roomCode: 'ZZZZZZ' }))).toBe(s);
  });

  it('fills in a missing pattern rather than crash', () => {
    const st = { ...jamState(), pattern: undefined } as unknown as ReturnType<typeof jamState>;
    const s = reduce(initialState, msg('session:joined', { roomCode: 'K7M2QX', you: bo, participants: [ana, bo], state: st, resumeToken: 't' }));
    expect(s.session?.state.pattern.clap).toHaveLength(16);
  });

  it('ignores session events when not seated', () => {
    expect(reduce(initialState, msg('session:user-joined', { user: bo }))).toBe(initialState);
    expect(reduce(initialState, msg('state:tempo-change', { tempo: 90, version: 5 }))).toBe(initialState);
  });

  it('tracks the connection, join errors, notices and leaving', () => {
    let s = reduce(seated(), { type: 'conn', status: 'reconnecting', retryAt: 1234, attempt: 3 });
    expect(s.conn).toEqual({ status: 'reconnecting', retryAt: 1234, attempt: 3 });
    s = reduce(s, { type: 'conn', status: 'connected' });
    expect(s.conn).toEqual({ status: 'connected', retryAt: null, attempt: 0 });
    s = reduce(s, { type: 'notice', text: 'hi', tone: 'info' });
    expect(s.notice?.text).toBe('hi');
    s = reduce(s, { type: 'clear-notice' });
    expect(s.notice).toBeNull();
    s = reduce(s, { type: 'left' });
    expect(s.session).toBeNull();
    s = reduce(s, { type: 'join-failed', roomCode: 'AAAAAA', error: { code: 'room_not_found', message: 'No.' } });
    expect(s.joinError).toEqual({ code: 'room_not_found', message: 'No.', roomCode: 'AAAAAA' });
    expect(reduce(s, msg('session:left', { roomCode: 'K7M2QX' })).session).toBeNull();
  });
});

describe('shownStep', () => {
  it('shows a step change waiting to be sent as made, marked pending', () => {
    const pattern = emptyPattern();
    pattern.kick[0] = true;
    const none = { cleared: false, steps: {} };
    expect(shownStep(pattern, none, 'kick', 0)).toEqual({ on: true, pending: false });
    expect(shownStep(pattern, { cleared: false, steps: { 'kick:0': false } }, 'kick', 0)).toEqual({ on: false, pending: true });
    expect(shownStep(pattern, { cleared: false, steps: { 'snare:2': true } }, 'snare', 2)).toEqual({ on: true, pending: true });
    // A waiting clear shows the grid empty, but for the steps set after it.
    const cleared = { cleared: true, steps: { 'hihat:1': true } };
    expect(shownStep(pattern, cleared, 'kick', 0)).toEqual({ on: false, pending: true });
    expect(shownStep(pattern, cleared, 'hihat', 1)).toEqual({ on: true, pending: true });
    expect(shownStep(pattern, cleared, 'clap', 5)).toEqual({ on: false, pending: false });
  });

  it('follows the queue the client publishes', () => {
    const s = reduce(seated(), { type: 'queued', count: 1, steps: { cleared: false, steps: { 'clap:3': true } } });
    expect(s.queued).toBe(1);
    expect(shownStep(s.session!.state.pattern, s.queuedSteps, 'clap', 3).on).toBe(true);
    expect(reduce(s, { type: 'left' }).queuedSteps).toEqual({ cleared: false, steps: {} });
  });
});

describe('audibleState', () => {
  it('plays the session state, but nothing while another tab holds the seat', () => {
    const s = seated();
    expect(audibleState(s)).toBe(s.session!.state);
    expect(audibleState(reduce(s, { type: 'taken-over', value: true }))).toBeNull();
    expect(audibleState(initialState)).toBeNull();
  });
});
