// The outbox: every request until it is answered, and the changes made while offline until
// they can be sent. Changes are absolute values (a tempo, a step on or off), so one with the same
// key replaces an older one waiting, and one sent twice does no harm: changes in flight when a
// connection drops go back to the front of the queue. Nothing is lost silently: each of these
// says so in a notice, and the store shows the queue (count and step changes) meanwhile.

import type { ClientType, Track } from './protocol';
import { stepKey, type Action, type QueuedSteps } from './reducer';

export interface Intent {
  type: ClientType;
  data: Record<string, unknown>;
  /** Intents with the same key replace each other in the offline queue. */
  key: string | null;
}

const MAX_QUEUE = 64;

/** The changes that may wait in the queue, and what a notice calls each. */
const intentLabels: Partial<Record<ClientType, string>> = {
  'state:tempo-change': 'tempo',
  'state:key-change': 'key',
  'state:playback-control': 'play/stop',
  'pattern:set-step': 'step',
  'pattern:clear': 'clear',
};

export class Outbox {
  private seq = 0;
  private inFlight = new Map<string, Intent>(); // id → what was asked, until it is answered
  private queue: Intent[] = [];

  constructor(private readonly dispatch: (a: Action) => void) {}

  /** Records a request about to be sent, and returns the id to send it with. */
  sent(type: ClientType, data: Record<string, unknown>, key: string | null = null): string {
    const id = `c${++this.seq}`;
    this.inFlight.set(id, { type, data, key });
    return id;
  }

  /** The type of the request that `re` answers; it is no longer in flight. */
  answered(re: string | undefined): ClientType | undefined {
    if (!re) return undefined;
    const type = this.inFlight.get(re)?.type;
    this.inFlight.delete(re);
    return type;
  }

  /** Keeps a change made while offline, in place of a waiting one with the same key. */
  hold(i: Intent): void {
    if (i.key) this.queue = this.queue.filter((q) => q.key !== i.key);
    if (this.queue.length >= MAX_QUEUE) {
      this.dispatch({ type: 'notice', tone: 'error', text: 'Offline: too many changes waiting. This one was not kept.' });
      return;
    }
    this.queue.push(i);
    this.publish();
    this.dispatch({
      type: 'notice',
      tone: 'info',
      text: `Offline: your ${intentLabels[i.type] ?? 'change'} will be sent when the connection is back.`,
    });
  }

  /**
   * The connection dropped: changes sent but not answered go back to the front of the queue when
   * `keep` (there is a seat to send them to), behind none that replaced them; other requests are
   * forgotten.
   */
  requeueInFlight(keep: boolean): void {
    const lost = [...this.inFlight.values()].filter((r) => r.type in intentLabels);
    this.inFlight.clear();
    if (!lost.length || !keep) return;
    const later = this.queue;
    this.queue = [...lost.filter((r) => !r.key || !later.some((q) => q.key === r.key)), ...later];
    this.publish();
    this.dispatch({
      type: 'notice',
      tone: 'info',
      text: `Connection lost before ${lost.length === 1 ? 'a change was' : `${lost.length} changes were`} confirmed: sending again when it is back.`,
    });
  }

  /** Sends everything waiting, in order, with `send` (which records each as sent). */
  flush(send: (i: Intent) => void): void {
    const q = this.queue;
    this.queue = [];
    for (const i of q) send(i);
    this.publish();
    if (q.length) this.dispatch({ type: 'notice', tone: 'info', text: `Sent ${q.length} change${q.length === 1 ? '' : 's'} made while offline.` });
  }

  /** The seat is gone: what waits for it goes too. */
  clear(): void {
    this.queue = [];
    this.publish();
  }

  /** The connection is closed on purpose: no answer will come. */
  forgetInFlight(): void {
    this.inFlight.clear();
  }

  private publish(): void {
    const steps: QueuedSteps = { cleared: false, steps: {} };
    for (const q of this.queue) {
      if (q.type === 'pattern:clear') Object.assign(steps, { cleared: true, steps: {} });
      else if (q.type === 'pattern:set-step') steps.steps[stepKey(q.data.track as Track, q.data.step as number)] = Boolean(q.data.on);
    }
    this.dispatch({ type: 'queued', count: this.queue.length, steps });
  }
}
