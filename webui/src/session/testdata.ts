// Shared fixtures for the unit tests.
import { emptyPattern, type JamState, type Participant } from './protocol';

export function participant(id: string, name: string, over: Partial<Participant> = {}): Participant {
  return { id, name, isHost: false, joinedAt: '2026-11-26T02:10:00Z', connected: true, ...over };
}

export function jamState(over: Partial<JamState> = {}): JamState {
  return {
    tempo: 120,
    isPlaying: false,
    currentStep: 0,
    key: 'C',
    scale: 'major',
    anchor: { serverTime: 1_795_665_000_000, beat: 0 },
    pattern: emptyPattern(),
    version: 1,
    link: { enabled: false, peers: 0 },
    ...over,
  };
}
