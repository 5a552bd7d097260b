import { useEffect, useId, useState } from 'react';
import { presenceOf, type Participant } from '../session/protocol';
import type { SessionView } from '../session/reducer';
import { useJam } from '../app/context';

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

/** How a participant is connected, in words: "connected", "reconnecting…", "away since 3 min ago". */
export function presenceText(p: Participant, nowMs: number): string {
  const presence = presenceOf(p);
  if (presence === 'connected') return 'connected';
  if (presence === 'reconnecting') return 'reconnecting…';
  const since = Date.parse(p.awaySince ?? '');
  return Number.isFinite(since) ? `away since ${ago(since, nowMs)}` : 'away';
}

export function UsersPanel({ session }: { session: SessionView }) {
  const { serverNow, client } = useJam();
  const [now, setNow] = useState(serverNow);
  const [confirming, setConfirming] = useState<string | null>(null);
  useEffect(() => {
    const t = setInterval(() => setNow(serverNow()), 15_000);
    return () => clearInterval(t);
  }, [serverNow]);

  const { participants, youId, settings, homeHostId } = session;
  const amHost = participants.some((p) => p.id === youId && p.isHost);
  const host = participants.find((p) => p.isHost);
  const home = homeHostId ? participants.find((p) => p.id === homeHostId) : undefined;

  return (
    <section className="panel" aria-label="Users">
      <h2>In this session</h2>
      {home && host && (
        <p className="hint" data-testid="standing-in">
          {host.id === youId ? 'You are' : `${host.name} is`} standing in for the host, {home.name}, until they are back.
        </p>
      )}
      <ul className="users" data-testid="users">
        {participants.map((p) => {
          const joined = Date.parse(p.joinedAt);
          const presence = presenceOf(p);
          const isYou = p.id === youId;
          return (
            <li key={p.id} className="user" data-user-id={p.id} data-presence={presence}>
              <span className={`dot ${presence}`} aria-hidden="true" />
              <span className="user-main">
                <span className="user-name">{p.name}</span>
                {isYou && <span className="you"> (you)</span>}
                {p.isHost && <span className="badge">Host</span>}
                {p.id === homeHostId && <span className="badge quiet">Host, away</span>}
              </span>
              <span className="user-meta">
                {presenceText(p, now)}
                {Number.isFinite(joined) ? ` · joined ${ago(joined, now)}` : ''}
              </span>
              {amHost && !isYou && (
                <span className="user-actions">
                  {confirming === p.id ? (
                    <>
                      <span>Remove {p.name}?</span>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          client.removeParticipant(p.id);
                          setConfirming(null);
                        }}
                      >
                        Yes, remove
                      </button>
                      <button type="button" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </>
                  ) : (
                    <>
                      {presence !== 'away' && !p.isHost && (
                        <button type="button" onClick={() => client.setHost(p.id)}>
                          Make host
                        </button>
                      )}
                      {p.id !== homeHostId && (
                        <button type="button" onClick={() => setConfirming(p.id)} aria-label={`Remove ${p.name}`}>
                          Remove
                        </button>
                      )}
                    </>
                  )}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      {amHost && (
        <div className="room-rules" role="group" aria-label="Room rules">
          <RoomRule
            label="Lock the room: nobody new can join"
            on={settings.locked}
            set={(locked) => client.setSettings({ locked })}
          />
          <RoomRule
            label="Everyone can start and stop the beat"
            on={settings.openPlayback}
            set={(openPlayback) => client.setSettings({ openPlayback })}
          />
        </div>
      )}
      {!amHost && settings.locked && <p className="hint">The host has locked the room: nobody new can join.</p>}
    </section>
  );
}

/** One of the room's rules, as a checkbox the host ticks. */
function RoomRule({ label, on, set }: { label: string; on: boolean; set: (on: boolean) => void }) {
  const id = useId();
  return (
    <div className="check">
      <input id={id} type="checkbox" checked={on} onChange={(e) => set(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}
