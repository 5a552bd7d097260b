import { useEffect, useState } from 'react';
import type { Participant } from '../session/protocol';
import { useJam } from './context';

/** "just now", "3 min ago", "2 h ago", "3 days ago". */
export function ago(fromMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 60) return 'just now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

export function UsersPanel({ participants, youId }: { participants: Participant[]; youId: string }) {
  const { serverNow } = useJam();
  const [now, setNow] = useState(serverNow);
  useEffect(() => {
    const t = setInterval(() => setNow(serverNow()), 15_000);
    return () => clearInterval(t);
  }, [serverNow]);

  return (
    <section className="panel" aria-label="Users">
      <h2>In this session</h2>
      <ul className="users" data-testid="users">
        {participants.map((p) => {
          const joined = Date.parse(p.joinedAt);
          return (
            <li key={p.id} className="user" data-user-id={p.id}>
              <span className={`dot ${p.connected ? 'on' : 'off'}`} aria-hidden="true" />
              <span className="user-main">
                <span className="user-name">{p.name}</span>
                {p.id === youId && <span className="you"> (you)</span>}
                {p.isHost && <span className="badge">Host</span>}
              </span>
              <span className="user-meta">
                {p.connected ? 'connected' : 'disconnected'}
                {Number.isFinite(joined) ? ` · joined ${ago(joined, now)}` : ''}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
