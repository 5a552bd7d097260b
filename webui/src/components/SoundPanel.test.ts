import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Jam } from '../jam';
import { JamContext } from './context';
import { SoundPanel } from './SoundPanel';

function render(opts: { muted: boolean; running: boolean }): string {
  const settings = { volume: 0.8, muted: opts.muted, click: true };
  const jam = {
    sound: { subscribe: () => () => {}, get: () => settings },
    engine: { subscribe: () => () => {}, isRunning: () => opts.running, running: opts.running, unlock() {} },
  } as unknown as Jam;
  return renderToStaticMarkup(createElement(JamContext.Provider, { value: jam }, createElement(SoundPanel)));
}

const buttons = (html: string) => [...html.matchAll(/<button[^>]*>([^<]*)<\/button>/g)].map((m) => ({ tag: m[0], name: m[1] ?? '' }));

describe('SoundPanel', () => {
  it('names the mute button by what it does, without a pressed state as well', () => {
    for (const [muted, name] of [
      [false, 'Mute'],
      [true, 'Unmute'],
    ] as const) {
      const b = buttons(render({ muted, running: true })).find((x) => /mute/i.test(x.name))!;
      expect(b.name).toBe(name);
      expect(b.tag).not.toMatch(/aria-pressed/);
    }
  });

  it('offers to turn the sound on while the audio is not running (not yet, or suspended)', () => {
    expect(render({ muted: false, running: false })).toMatch(/Tap to turn sound on/);
    expect(render({ muted: false, running: true })).not.toMatch(/Tap to turn sound on/);
  });
});
