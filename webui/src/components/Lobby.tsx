import { useEffect, useId, useState, type FormEvent } from 'react';
import { normalizeRoomCode, validateUserName } from '../session/protocol';
import { loadName, saveName } from '../session/seat';
import { useAppState, useJam } from '../app/context';
import { Link } from './Link';
import { NameField } from './NameField';
import { navigate } from '../app/route';

export function Lobby() {
  const { client } = useJam();
  const st = useAppState();
  const [name, setName] = useState(loadName);
  const [code, setCode] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [codeError, setCodeError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const codeId = useId();

  // Once the new session exists, go to its shareable address (the room page takes over from
  // here, so there is nothing to reset). A create that failed leaves no session to go to.
  useEffect(() => {
    if (creating && st.session) navigate(`/jam/${st.session.roomCode}`);
  }, [creating, st.session]);

  const checkName = (): string | null => {
    const err = validateUserName(name);
    setNameError(err);
    if (err) return null;
    const n = name.trim();
    saveName(n);
    return n;
  };

  const onCreate = (e: FormEvent) => {
    e.preventDefault();
    const n = checkName();
    if (!n) return;
    setCreating(true);
    client.create(n);
  };

  const onJoin = (e: FormEvent) => {
    e.preventDefault();
    const c = normalizeRoomCode(code);
    if (!c) {
      setCodeError('Enter the 6-character room code.');
      return;
    }
    setCodeError(null);
    if (name.trim() && !checkName()) return;
    navigate(`/jam/${encodeURIComponent(c)}`);
  };

  const busy = st.pending?.op === 'create';
  const inSession = st.session;
  // After a reload on the lobby the seat is only saved, not live: offer the way back to it.
  const saved = inSession ? null : client.savedSeat();
  const createError = st.joinError && st.joinError.roomCode === null ? st.joinError.message : null;

  return (
    <main className="lobby">
      <header className="lobby-head">
        <h1>jamd</h1>
        <p className="tagline">Jam together from your phones, on this Wi‑Fi.</p>
      </header>

      {inSession && (
        <div className="panel banner" role="status">
          <p>
            You are in room <strong className="code">{inSession.roomCode}</strong>.
          </p>
          <Link to={`/jam/${inSession.roomCode}`} className="button primary">
            Back to room {inSession.roomCode}
          </Link>
        </div>
      )}

      {saved && (
        <div className="panel banner" role="status">
          <p>
            Your seat in room <strong className="code">{saved.roomCode}</strong> is kept for a little while.
          </p>
          <Link to={`/jam/${saved.roomCode}`} className="button primary">
            Back to room {saved.roomCode}
          </Link>
        </div>
      )}

      <div className="panel">
        <NameField value={name} onChange={setName} error={nameError} />
      </div>

      <form className="panel" onSubmit={onCreate}>
        <h2>Start a jam</h2>
        <button type="submit" className="primary" disabled={busy || !!inSession}>
          {busy ? 'Creating…' : 'Create session'}
        </button>
        {createError && (
          <p className="field-error" role="alert">
            {createError}
          </p>
        )}
      </form>

      <form className="panel" onSubmit={onJoin}>
        <h2>Join a jam</h2>
        <label htmlFor={codeId}>Room code</label>
        <div className="row">
          <input
            id={codeId}
            className="code-input"
            type="text"
            autoCapitalize="characters"
            autoComplete="off"
            spellCheck={false}
            maxLength={12}
            value={code}
            onChange={(e) => setCode(e.target.value.toUpperCase())}
            aria-invalid={codeError ? true : undefined}
          />
          <button type="submit" disabled={!!inSession}>
            Join
          </button>
        </div>
        {codeError && (
          <p className="field-error" role="alert">
            {codeError}
          </p>
        )}
      </form>
      {inSession && <p className="hint">Leave your current session to start or join another.</p>}
    </main>
  );
}
