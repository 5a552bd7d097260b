import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { isWellFormedRoomCode, normalizeRoomCode, validateUserName } from '../session/protocol';
import { loadName, saveName } from '../session/seat';
import { useAppState, useJam } from '../app/context';
import { Link } from './Link';
import { SessionScreen } from './SessionScreen';
import { ConnStatus } from './ConnStatus';

type Check = 'ok' | 'invalid';

/** /jam/<code>: resumes this tab's seat, or asks for a name (once per device) and joins. */
export function RoomPage({ rawCode }: { rawCode: string }) {
  const { client } = useJam();
  const st = useAppState();
  const code = normalizeRoomCode(rawCode);
  // A shared link carries the room's join key after the # (SharePanel). Read once, as the page
  // opens: it is what the link said, and the join effect must see the same key every time.
  const [linkKey] = useState(() => location.hash.slice(1) || undefined);
  const wellFormed = isWellFormedRoomCode(code);
  // Whether a well-formed code names a session is learnt from the join itself: an HTTP
  // look-up would log a 404 in the console for every mistyped code.
  const check: Check = wellFormed ? 'ok' : 'invalid';
  const [name, setName] = useState(loadName);
  const [nameError, setNameError] = useState<string | null>(null);
  const tried = useRef(false);
  const nameId = useId();

  const here = st.session?.roomCode === code;
  const elsewhere = st.session && !here ? st.session.roomCode : null;
  const pending = st.pending?.op === 'join' && st.pending.roomCode === code;
  const failed =
    st.joinError && st.joinError.roomCode === code
      ? st.joinError
      : !st.session && client.wasRemovedFrom(code)
        ? { code: 'removed', message: '', roomCode: code }
        : null;
  const hasFailed = failed !== null;

  // Resume this tab's seat, or join with the name this device remembers.
  useEffect(() => {
    if (tried.current || here || elsewhere || pending || hasFailed || check !== 'ok') return;
    const seat = client.savedSeat();
    if (seat && seat.roomCode === code) {
      tried.current = true;
      client.join(code, seat.userName, linkKey);
      return;
    }
    const remembered = loadName();
    if (remembered && !validateUserName(remembered)) {
      tried.current = true;
      client.join(code, remembered.trim(), linkKey);
    }
  }, [client, code, linkKey, here, elsewhere, pending, hasFailed, check]);

  if (here) return <SessionScreen />;

  const back = (
    <Link to="/jam" className="button">
      Back to the lobby
    </Link>
  );
  const retry = (
    <button
      type="button"
      className="primary"
      onClick={() => {
        tried.current = false;
        client.join(code, loadName() || name.trim(), linkKey);
      }}
    >
      Try again
    </button>
  );

  if (check === 'invalid' || failed?.code === 'invalid_room_code') {
    return (
      <Message title="That is not a room code">
        <p>
          “<span className="code">{rawCode}</span>” is not a room code. Room codes are 6 letters and digits, like{' '}
          <span className="code">K7M2QX</span>.
        </p>
        {back}
      </Message>
    );
  }
  if (failed?.code === 'room_not_found') {
    return (
      <Message title="No such session">
        <p>
          There is no session with the code <span className="code">{code}</span>. It may have ended, or the code may be
          mistyped.
        </p>
        {back}
      </Message>
    );
  }
  if (failed?.code === 'room_full') {
    return (
      <Message title="This session is full">
        <p>
          Every seat in room <span className="code">{code}</span> is taken. Ask someone to leave, then try again.
        </p>
        {retry}
        {back}
      </Message>
    );
  }
  if (failed?.code === 'removed') {
    return (
      <Message title="You were removed">
        <p data-testid="removed">
          The host removed you from room <span className="code">{code}</span>. Ask them if you should come back in.
        </p>
        {back}
      </Message>
    );
  }
  if (failed?.code === 'ended') {
    return (
      <Message title="This session has ended">
        <p>
          Room <span className="code">{code}</span> was ended by the person running the jam box. They said:
        </p>
        <blockquote data-testid="ended-reason">{failed.message}</blockquote>
        {back}
      </Message>
    );
  }
  if (failed?.code === 'room_locked') {
    return (
      <Message title="This session is locked">
        <p>
          The host of room <span className="code">{code}</span> has locked it: nobody new can join. Ask them to unlock
          it, then try again.
        </p>
        {retry}
        {back}
      </Message>
    );
  }
  if (elsewhere) {
    return (
      <Message title={`Join room ${code}?`}>
        <p>
          You are in room <span className="code">{elsewhere}</span>. Leave it to join <span className="code">{code}</span>?
        </p>
        <button
          type="button"
          className="primary"
          onClick={() => {
            client.leave();
            tried.current = false;
          }}
        >
          Leave {elsewhere} and join {code}
        </button>
        <Link to={`/jam/${elsewhere}`} className="button">
          Back to room {elsewhere}
        </Link>
      </Message>
    );
  }
  if (pending) {
    return (
      <Message title={`Joining room ${code}…`}>
        <ConnStatus />
        {back}
      </Message>
    );
  }

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const err = validateUserName(name);
    setNameError(err);
    if (err) return;
    saveName(name.trim());
    tried.current = true;
    client.join(code, name.trim(), linkKey);
  };
  const otherError = failed && failed.code !== 'invalid_name' ? failed.message : null;

  return (
    <main className="lobby">
      <header className="lobby-head">
        <h1>Join room <span className="code">{code}</span></h1>
        <p className="tagline">Pick the name the others will see.</p>
      </header>
      <form className="panel" onSubmit={onSubmit}>
        <label htmlFor={nameId}>Your name</label>
        <input
          id={nameId}
          type="text"
          autoComplete="nickname"
          maxLength={32}
          autoFocus
          value={name}
          onChange={(e) => setName(e.target.value)}
          aria-invalid={nameError || failed?.code === 'invalid_name' ? true : undefined}
        />
        {(nameError || failed?.code === 'invalid_name') && (
          <p className="field-error" role="alert">
            {nameError ?? failed?.message}
          </p>
        )}
        <button type="submit" className="primary">
          Join
        </button>
        {otherError && (
          <p className="field-error" role="alert">
            {otherError}
          </p>
        )}
      </form>
      <p>{back}</p>
    </main>
  );
}

function Message({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main className="lobby">
      <div className="panel message">
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

