import { useEffect, useState } from 'react';
import { useAppState, useJam } from './context';

/** connected / connecting / reconnecting in Ns / offline, with "Retry now" while waiting. */
export function ConnStatus() {
  const { client } = useJam();
  const { conn, queued } = useAppState();
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (conn.retryAt === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [conn.retryAt]);

  const secs = conn.retryAt === null ? 0 : Math.max(0, Math.ceil((conn.retryAt - now) / 1000));
  let text: string;
  let tone: string;
  switch (conn.status) {
    case 'connected':
      text = 'Connected';
      tone = 'ok';
      break;
    case 'connecting':
      text = 'Connecting…';
      tone = 'wait';
      break;
    case 'reconnecting':
      text = conn.retryAt === null ? 'Reconnecting…' : `Reconnecting in ${secs}s`;
      tone = 'wait';
      break;
    case 'offline':
      text = conn.retryAt === null ? 'Offline' : `Offline · retry in ${secs}s`;
      tone = 'bad';
      break;
    default:
      text = 'Not connected';
      tone = 'bad';
  }
  const waiting = conn.retryAt !== null && (conn.status === 'reconnecting' || conn.status === 'offline');

  return (
    <div className="conn">
      <span className={`conn-status ${tone}`} role="status" aria-live="polite" data-testid="conn-status">
        <span className="dot" aria-hidden="true" />
        {text}
      </span>
      {waiting && (
        <button type="button" className="small" onClick={() => client.retryNow()}>
          Retry now
        </button>
      )}
      {queued > 0 && (
        <span className="queued">
          {queued} change{queued === 1 ? '' : 's'} waiting to send
        </span>
      )}
    </div>
  );
}
