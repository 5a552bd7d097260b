import { useEffect, useId, useRef, useState } from 'react';
import { fetchHotspot, type Hotspot } from '../session/hotspot';

/**
 * The link and QR code carry the room's join key after the #: whoever has them can join even a
 * locked room, and the key never reaches a server log (browsers do not send what follows #).
 */
export function SharePanel({ roomCode, joinKey }: { roomCode: string; joinKey: string | null }) {
  const url = `${location.origin}/jam/${roomCode}${joinKey ? `#${joinKey}` : ''}`;
  const qr = `/api/sessions/${encodeURIComponent(roomCode)}/qr.png${joinKey ? `?k=${encodeURIComponent(joinKey)}` : ''}`;
  const input = useRef<HTMLInputElement>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const urlId = useId();
  const canShare = typeof navigator.share === 'function';
  const [hotspot, setHotspot] = useState<Hotspot>({ up: false });

  useEffect(() => {
    const ctl = new AbortController();
    void fetchHotspot(ctl.signal).then((h) => {
      if (!ctl.signal.aborted) setHotspot(h);
    });
    return () => ctl.abort();
  }, []);

  const selectText = () => {
    const el = input.current;
    if (!el) return;
    el.focus();
    el.select();
    el.setSelectionRange(0, el.value.length);
  };

  const copy = async () => {
    // The Clipboard API exists only in secure contexts; a LAN box is usually plain http.
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(url);
        setMsg('Link copied.');
        return;
      } catch {
        /* fall through */
      }
    }
    selectText();
    let ok: boolean;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    setMsg(ok ? 'Link copied.' : 'The link is selected: copy it from the field above.');
  };

  const share = async () => {
    try {
      await navigator.share({ title: `Jam room ${roomCode}`, text: `Join my jam, room ${roomCode}`, url });
    } catch {
      /* dismissed */
    }
  };

  return (
    <section className="panel share" aria-label="Share">
      <h2>Invite people in the room</h2>
      {hotspot.up && (
        <div className="wifi" data-testid="wifi">
          <h3>1. Join the Wi‑Fi</h3>
          <img className="qr" src="/api/hotspot/qr.png" alt={`QR code to join the Wi-Fi ${hotspot.ssid}`} width={240} height={240} />
          <p>
            Network <strong>{hotspot.ssid}</strong>, password <strong className="code">{hotspot.password}</strong>
          </p>
          <p className="hint">Scan with the phone camera, or pick the network in the Wi‑Fi settings.</p>
          <h3>2. Open the jam</h3>
        </div>
      )}
      <p>
        Room code <strong className="code big">{roomCode}</strong>
      </p>
      <label htmlFor={urlId}>Join link</label>
      <input id={urlId} ref={input} className="share-url" type="text" readOnly value={url} onFocus={(e) => e.currentTarget.select()} />
      <div className="row">
        <button type="button" className="primary" onClick={() => void copy()}>
          Copy link
        </button>
        {canShare && (
          <button type="button" onClick={() => void share()}>
            Share…
          </button>
        )}
      </div>
      <p className="hint" role="status" aria-live="polite">
        {msg}
      </p>
      <img className="qr" src={qr} alt={`QR code of the join link for room ${roomCode}`} width={240} height={240} />
      <p className="hint">
        Scan with a phone camera on this Wi‑Fi to join.
        {hotspot.up && (
          <>
            {' '}
            Or type <strong>{hotspot.typeUrl}</strong> in the browser.
          </>
        )}
      </p>
    </section>
  );
}
