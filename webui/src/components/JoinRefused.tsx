import type { ReactElement, ReactNode } from 'react';
import { ErrorCode, LocalFailure, type FailureCode } from '../session/protocol';
import type { Failure } from '../session/reducer';
import { Link } from './Link';
import { MessagePage } from './MessagePage';

export function BackToLobby() {
  return (
    <Link to="/jam" className="button">
      Back to the lobby
    </Link>
  );
}

/** The room page's address holds no room code. */
export function NotARoomCode({ rawCode }: { rawCode: string }) {
  return (
    <MessagePage title="That is not a room code">
      <p>
        “<span className="code">{rawCode}</span>” is not a room code. Room codes are 6 letters and digits, like{' '}
        <span className="code">K7M2QX</span>.
      </p>
      <BackToLobby />
    </MessagePage>
  );
}

/** The refusals that get a page of their own: its title, what it says, whether to offer a retry. */
const refusals: Partial<Record<FailureCode, { title: string; retry?: boolean; say: (code: ReactNode, message: string) => ReactNode }>> = {
  [ErrorCode.roomNotFound]: {
    title: 'No such session',
    say: (code) => <p>There is no session with the code {code}. It may have ended, or the code may be mistyped.</p>,
  },
  [ErrorCode.roomFull]: {
    title: 'This session is full',
    retry: true,
    say: (code) => <p>Every seat in room {code} is taken. Ask someone to leave, then try again.</p>,
  },
  [ErrorCode.removed]: {
    title: 'You were removed',
    say: (code) => <p data-testid="removed">The host removed you from room {code}. Ask them if you should come back in.</p>,
  },
  [LocalFailure.ended]: {
    title: 'This session has ended',
    say: (code, message) => (
      <>
        <p>Room {code} was ended by the person running the jam box. They said:</p>
        <blockquote data-testid="ended-reason">{message}</blockquote>
      </>
    ),
  },
  [ErrorCode.roomLocked]: {
    title: 'This session is locked',
    retry: true,
    say: (code) => <p>The host of room {code} has locked it: nobody new can join. Ask them to unlock it, then try again.</p>,
  },
};

/**
 * The page that says why this tab cannot be in room `code`, when the reason needs one (the room
 * is gone, full or locked, or the host removed this tab); null for a reason the name form shows
 * (a refused name, a box that is busy, ...). A function, not a component, so the room page can
 * tell the two apart.
 */
export function joinRefusedPage(code: string, failed: Failure, onRetry: () => void): ReactElement | null {
  const page = refusals[failed.code];
  if (!page) return null;
  return (
    <MessagePage title={page.title}>
      {page.say(<span className="code">{code}</span>, failed.message)}
      {page.retry && (
        <button type="button" className="primary" onClick={onRetry}>
          Try again
        </button>
      )}
      <BackToLobby />
    </MessagePage>
  );
}
