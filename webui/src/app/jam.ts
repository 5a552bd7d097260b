// Wires the parts together for the browser: one store, one client, one clock, one audio engine.

import { AudioEngine } from '../audio/engine';
import { ClockEstimator, localNow, SleepDetector } from '../audio/clock';
import { LOOKAHEAD_MS, Scheduler } from '../audio/scheduler';
import { SoundStore } from '../audio/sound';
import { toAudioTime, type AudioStamp } from '../audio/timing';
import { SessionClient, type SocketLike } from '../session/client';
import { tabStorage } from '../session/seat';
import { audibleState } from '../session/reducer';
import { Store } from '../session/store';

export interface Jam {
  store: Store;
  client: SessionClient;
  clock: ClockEstimator;
  engine: AudioEngine;
  sound: SoundStore;
  serverNow: () => number;
}

export function createJam(): Jam {
  const store = new Store();
  const clock = new ClockEstimator();
  const engine = new AudioEngine();
  const sound = new SoundStore(engine);
  const serverNow = () => clock.serverNow(localNow());
  const wsURL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new SessionClient({
    url: wsURL,
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    store,
    storage: tabStorage(),
    clock,
    clockNow: localNow,
    isOnline: () => navigator.onLine !== false,
  });

  // Server time maps onto the audio clock through the output timestamp: the audio time being
  // heard now. That trails ctx.currentTime by the output latency; the scheduler plans ahead of
  // currentTime by that much (audioNow), so nothing is handed over too late to sound.
  // Each stamp is used as read: when the audio clock really steps (a late callback that the
  // device made up for), the notes must move with it; a smoothed map would lag the step.
  const stamp = (): AudioStamp | null => {
    const ctx = engine.context;
    if (!ctx || ctx.state !== 'running') return null;
    const ts = typeof ctx.getOutputTimestamp === 'function' ? ctx.getOutputTimestamp() : undefined;
    if (ts && ts.contextTime && ts.performanceTime) {
      return { contextTime: ts.contextTime, performanceTime: ts.performanceTime };
    }
    return { contextTime: ctx.currentTime, performanceTime: performance.now() };
  };
  const sleep = new SleepDetector();
  const scheduler = new Scheduler({
    getPlayState: () => audibleState(store.getState()),
    followClock: (sounding) => {
      const local = localNow();
      if (sleep.slept(local, Date.now())) clock.reset();
      clock.follow(local, sounding);
    },
    serverNow,
    // The device's timing nudge moves every note: a positive one later, a negative one earlier.
    toAudio: (t) => {
      const s = stamp();
      return s ? toAudioTime(t + sound.get().nudgeMs, s, clock.offset, performance.timeOrigin) : null;
    },
    audioNow: () => (engine.running ? engine.context!.currentTime : null),
    clockReady: () => clock.ready,
    play: (voice, when) => engine.play(voice, when),
    cancelFrom: (when) => engine.cancelFrom(when),
    clickOn: () => sound.get().click,
    lookaheadMs: () => (document.visibilityState === 'hidden' ? 1500 : LOOKAHEAD_MS),
  });
  setInterval(() => scheduler.tick(), 25);

  // Sound may only start from a gesture: the first tap anywhere unlocks it.
  const unlock = () => engine.unlock();
  for (const ev of ['pointerdown', 'keydown', 'touchend'] as const) {
    window.addEventListener(ev, unlock, { capture: true, passive: true });
  }
  // Back in view (the phone may have slept: re-measure the clock, check the link) or back
  // online: reconnect now rather than at the end of the countdown.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') client.wake();
  });
  window.addEventListener('online', () => client.retryNow());

  return { store, client, clock, engine, sound, serverNow };
}
