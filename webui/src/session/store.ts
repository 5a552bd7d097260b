// A tiny observable store around the reducer, shaped for React's useSyncExternalStore.

import { initialState, reduce, type Action, type AppState } from './reducer';

export class Store {
  private state: AppState;
  private listeners = new Set<() => void>();

  constructor(state: AppState = initialState) {
    this.state = state;
  }

  getState = (): AppState => this.state;

  dispatch = (a: Action): void => {
    const next = reduce(this.state, a);
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l();
  };

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}
