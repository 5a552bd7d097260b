import { describe, expect, it } from 'vitest';
import { onPress } from './press';

describe('onPress (tap tempo)', () => {
  it('fires once as a pointer goes down, not again on its click', () => {
    let n = 0;
    const h = onPress(() => n++);
    h.onPointerDown({ button: 0 });
    expect(n).toBe(1);
    h.onClick({ detail: 1 });
    expect(n).toBe(1);
    h.onPointerDown({ button: 2 }); // a right click is not a tap
    expect(n).toBe(1);
  });

  it('still fires from the keyboard (Enter/Space: a click with detail 0)', () => {
    let n = 0;
    onPress(() => n++).onClick({ detail: 0 });
    expect(n).toBe(1);
  });
});
