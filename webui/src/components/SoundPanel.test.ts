import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Jam } from '../app/jam';
import { JamContext } from '../app/context';
import { nudgeLabel, SoundPanel } from './SoundPanel';

function render(opts: { muted: boolean; running: boolean; nudgeMs?: number }): string {
  const settings = { volume: 0.8, muted: opts.muted, click: true, nudgeMs: opts.nudgeMs ?? 0 };
  const jam = {
    sound: { subscribe: () => () => {}, get: () => settings },
    engine: {
      subscribe: () => () => {},
      isRunning: () => opts.running,
      running: opts.running,
      unlock() {},
      outputLatencyMs: () => 41,
    },
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

  it('shows the timing nudge in words, the reported output delay, and Reset only when nudged', () => {
    const html = render({ muted: false, running: true, nudgeMs: -150 });
    expect(html).toMatch(/>150 ms earlier</);
    expect(html).toMatch(/reports 41 ms of output delay/);
    expect(buttons(html).map((b) => b.name)).toContain('Reset');
    expect(render({ muted: false, running: true })).toMatch(/>in time</);
    expect(buttons(render({ muted: false, running: true })).map((b) => b.name)).not.toContain('Reset');
    expect(nudgeLabel(20)).toBe('20 ms later');
  });
});
