import { createContext, useContext, useSyncExternalStore } from 'react';
import type { Jam } from './jam';
import type { AppState } from '../session/reducer';

export const JamContext = createContext<Jam | null>(null);

export function useJam(): Jam {
  const jam = useContext(JamContext);
  if (!jam) throw new Error('JamContext missing');
  return jam;
}

export function useAppState(): AppState {
  const { store } = useJam();
  return useSyncExternalStore(store.subscribe, store.getState);
}
