import { useEffect, useState, type ReactNode } from 'react';
import { useAppState, useJam } from '../app/context';

/** connected / connecting / reconnecting in Ns / offline, with "Retry now" while waiting. */
export function ConnStatus() {
  const { client } = useJam();
  const { conn, queued } = useAppState();
  // A new retry time starts a new countdown (the key), from the moment it is shown.
  const secs = conn.retryAt === null ? null : <SecondsUntil key={conn.retryAt} at={conn.retryAt} />;
  let text: ReactNode;
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
      text = secs === null ? 'Reconnecting…' : <>Reconnecting in {secs}s</>;
      tone = 'wait';
      break;
    case 'offline':
      text = secs === null ? 'Offline' : <>Offline · retry in {secs}s</>;
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

/** Whole seconds until `at` (Date.now() ms), ticking down; give it a new key for a new `at`. */
function SecondsUntil({ at }: { at: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, []);
  return Math.max(0, Math.ceil((at - now) / 1000));
}
