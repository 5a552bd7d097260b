import { useRoomJoin } from '../app/roomJoin';
import { ErrorCode, isWellFormedRoomCode, normalizeRoomCode } from '../session/protocol';
import { ConnStatus } from './ConnStatus';
import { BackToLobby, joinRefusedPage, NotARoomCode } from './JoinRefused';
import { Link } from './Link';
import { MessagePage } from './MessagePage';
import { NameForm } from './NameForm';
import { SessionScreen } from './SessionScreen';

/** /jam/<code>: resumes this tab's seat, or asks for a name (once per device) and joins. */
export function RoomPage({ rawCode }: { rawCode: string }) {
  const code = normalizeRoomCode(rawCode);
  const room = useRoomJoin(code);
  const { failed } = room;

  if (room.here) return <SessionScreen />;
  if (!isWellFormedRoomCode(code) || failed?.code === ErrorCode.invalidRoomCode) return <NotARoomCode rawCode={rawCode} />;
  const refused = failed && joinRefusedPage(code, failed, room.retry);
  if (refused) return refused;
  if (room.elsewhere) return <InAnotherRoom code={code} other={room.elsewhere} onLeave={room.leaveElsewhere} />;
  if (room.joining) {
    return (
      <MessagePage title={`Joining room ${code}…`}>
        <ConnStatus />
        <BackToLobby />
      </MessagePage>
    );
  }
  return <NameForm code={code} failed={failed} onJoin={room.join} />;
}

/** This tab sits in room `other`: one room at a time, so joining `code` means leaving it. */
function InAnotherRoom({ code, other, onLeave }: { code: string; other: string; onLeave: () => void }) {
  return (
    <MessagePage title={`Join room ${code}?`}>
      <p>
        You are in room <span className="code">{other}</span>. Leave it to join <span className="code">{code}</span>?
      </p>
      <button type="button" className="primary" onClick={onLeave}>
        Leave {other} and join {code}
      </button>
      <Link to={`/jam/${other}`} className="button">
        Back to room {other}
      </Link>
    </MessagePage>
  );
}
