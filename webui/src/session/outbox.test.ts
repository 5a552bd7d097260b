import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox';
import type { Action } from './reducer';

function rig() {
  const actions: Action[] = [];
  const outbox = new Outbox((a) => actions.push(a));
  const queued = () => actions.filter((a) => a.type === 'queued').at(-1);
  const notice = () => actions.filter((a) => a.type === 'notice').at(-1);
  const sendAll = () => {
    const sent: { type: string; data: unknown }[] = [];
    outbox.flush((i) => sent.push({ type: i.type, data: i.data }));
    return sent;
  };
  return { outbox, queued, notice, sendAll };
}

describe('Outbox', () => {
  it('numbers requests and tells which one an answer is for, once', () => {
    const { outbox } = rig();
    const a = outbox.sent('session:join', { roomCode: 'K7M2QX' });
    const b = outbox.sent('state:tempo-change', { tempo: 90 }, 'tempo');
    expect(a).not.toBe(b);
    expect(outbox.answered(b)).toBe('state:tempo-change');
    expect(outbox.answered(b)).toBeUndefined();
    expect(outbox.answered(undefined)).toBeUndefined();
  });

  it('keeps the latest of changes with the same key, and shows the waiting steps', () => {
    const r = rig();
    r.outbox.hold({ type: 'state:tempo-change', data: { tempo: 90 }, key: 'tempo' });
    r.outbox.hold({ type: 'pattern:set-step', data: { track: 'kick', step: 2, on: true }, key: 'step:kick:2' });
    r.outbox.hold({ type: 'state:tempo-change', data: { tempo: 95 }, key: 'tempo' });
    expect(r.queued()).toEqual({ type: 'queued', count: 2, steps: { cleared: false, steps: { 'kick:2': true } } });
    expect(r.notice()).toMatchObject({ tone: 'info', text: 'Offline: your tempo will be sent when the connection is back.' });
    r.outbox.hold({ type: 'pattern:clear', data: {}, key: null });
    expect(r.queued()).toMatchObject({ count: 3, steps: { cleared: true, steps: {} } });
    expect(r.sendAll().map((s) => s.type)).toEqual(['pattern:set-step', 'state:tempo-change', 'pattern:clear']);
    expect(r.queued()).toMatchObject({ count: 0 });
    expect(r.notice()).toMatchObject({ text: 'Sent 3 changes made while offline.' });
  });

  it('refuses a change past the limit, saying so', () => {
    const r = rig();
    for (let i = 0; i < 64; i++) r.outbox.hold({ type: 'pattern:clear', data: {}, key: null });
    r.outbox.hold({ type: 'state:tempo-change', data: { tempo: 90 }, key: 'tempo' });
    expect(r.queued()).toMatchObject({ count: 64 });
    expect(r.notice()).toMatchObject({ tone: 'error', text: 'Offline: too many changes waiting. This one was not kept.' });
  });

  it('puts changes in flight back in front, behind none that replaced them, and forgets other requests', () => {
    const r = rig();
    r.outbox.sent('session:join', {});
    r.outbox.sent('state:tempo-change', { tempo: 90 }, 'tempo');
    r.outbox.sent('pattern:set-step', { track: 'kick', step: 0, on: true }, 'step:kick:0');
    r.outbox.hold({ type: 'state:tempo-change', data: { tempo: 100 }, key: 'tempo' });
    r.outbox.requeueInFlight(true);
    expect(r.notice()).toMatchObject({ text: 'Connection lost before 2 changes were confirmed: sending again when it is back.' });
    expect(r.sendAll()).toEqual([
      { type: 'pattern:set-step', data: { track: 'kick', step: 0, on: true } },
      { type: 'state:tempo-change', data: { tempo: 100 } },
    ]);
  });

  it('drops changes in flight when there is no seat to send them to', () => {
    const r = rig();
    r.outbox.sent('state:tempo-change', { tempo: 90 }, 'tempo');
    r.outbox.requeueInFlight(false);
    expect(r.sendAll()).toEqual([]);
  });
});
