// Handlers for a button whose timing matters (tap tempo): it fires as the finger lands
// (pointerdown) rather than when it lifts (click), and still works from the keyboard, whose
// Enter/Space activation arrives as a click with detail 0. A pointer's own click is ignored.

export function onPress(fn: () => void) {
  return {
    onPointerDown: (e: { button: number }) => {
      if (e.button === 0) fn();
    },
    onClick: (e: { detail: number }) => {
      if (e.detail === 0) fn();
    },
  };
}

/**
 * onPress as a hook, for a handler that reads a ref or the clock (tap tempo): React's compiler
 * then knows that `fn` runs on a press and never while the button renders.
 */
export function usePress(fn: () => void) {
  return onPress(fn);
}
