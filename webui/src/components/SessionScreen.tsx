import { useState } from 'react';
import { you } from '../session/reducer';
import { ConnStatus } from './ConnStatus';
import { useAppState, useJam } from '../app/context';
import { DrumGrid } from './DrumGrid';
import { NoticeBar } from './NoticeBar';
import { navigate } from '../app/route';
import { SharePanel } from './SharePanel';
import { SoundPanel } from './SoundPanel';
import { Transport } from './Transport';
import { UsersPanel } from './UsersPanel';

type Tab = 'beat' | 'users' | 'share';

export function SessionScreen() {
  const { client } = useJam();
  const st = useAppState();
  const [tab, setTab] = useState<Tab>('beat');
  const session = st.session!;
  const me = you(st);

  const leave = () => {
    client.leave();
    navigate('/jam', { replace: true });
  };

  const tabs: { id: Tab; label: string }[] = [
    { id: 'beat', label: 'Beat' },
    { id: 'users', label: `Users (${session.participants.length})` },
    { id: 'share', label: 'Share' },
  ];

  return (
    <div className="session">
      <header className="topbar">
        <div className="room">
          <span className="room-label">Room</span>
          <span className="code room-code" data-testid="room-code">
            {session.roomCode}
          </span>
        </div>
        <ConnStatus />
        <button type="button" className="danger" onClick={leave}>
          Leave session
        </button>
      </header>

      {st.takenOver && (
        <div className="panel banner" role="alert">
          <p>This seat is now open in another tab or window.</p>
          <button type="button" className="primary" onClick={() => client.takeBack()}>
            Use it here
          </button>
        </div>
      )}
      <NoticeBar />

      <nav className="tabs" role="tablist" aria-label="Session views">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            className={tab === t.id ? 'tab active' : 'tab'}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </nav>

      <main id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`} className="tabpanel">
        {tab === 'beat' && (
          <>
            <Transport
              state={session.state}
              participants={session.participants}
              isHost={!!me?.isHost}
              openPlayback={session.settings.openPlayback}
            />
            <SoundPanel />
            <DrumGrid state={session.state} />
          </>
        )}
        {tab === 'users' && <UsersPanel session={session} />}
        {tab === 'share' && <SharePanel roomCode={session.roomCode} joinKey={session.joinKey} />}
      </main>
    </div>
  );
}
