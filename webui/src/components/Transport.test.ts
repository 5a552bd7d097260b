import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Jam } from '../app/jam';
import { jamState, participant } from '../session/testdata';
import { JamContext } from '../app/context';
import { linkText, Transport } from './Transport';

function render(isHost: boolean, link: { enabled: boolean; peers: number }): string {
  const jam = { client: {}, store: {} } as unknown as Jam;
  const ana = participant('p_ana', 'Ana', { isHost: true });
  return renderToStaticMarkup(
    createElement(
      JamContext.Provider,
      { value: jam },
      createElement(Transport, { state: jamState({ link }), participants: [ana], isHost, openPlayback: false }),
    ),
  );
}

describe('the Link switch on the Beat tab', () => {
  it('is the host’s, and says how many apps share the beat', () => {
    const html = render(true, { enabled: true, peers: 2 });
    expect(html).toContain('role="switch"');
    expect(html).toContain('Linked: 2 apps');
    expect(render(true, { enabled: false, peers: 0 })).toMatch(/role="switch"[^>]*>/);
  });

  it('shows guests that the room is linked, without the switch', () => {
    const html = render(false, { enabled: true, peers: 1 });
    expect(html).not.toContain('role="switch"');
    expect(html).toContain('Linked: 1 app');
    expect(render(false, { enabled: false, peers: 0 })).not.toContain('Linked');
  });

  it('words the count', () => {
    expect(linkText(true, 0, false)).toBe('Linked: 0 apps');
    expect(linkText(false, 3, false)).toBe('');
    expect(linkText(false, 0, true)).toMatch(/^Off/);
  });
});
