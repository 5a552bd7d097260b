// The room page's join: where this tab stands with room `code` (seated here, seated in another
// room, joining, refused), and the one effect that resumes this tab's seat or joins with the name
// this device remembers, once, when nothing stands in the way.

import { useEffect, useRef, useState } from 'react';
import { ErrorCode, isWellFormedRoomCode, validateUserName } from '../session/protocol';
import type { Failure } from '../session/reducer';
import { loadName } from '../session/seat';
import { useAppState, useJam } from './context';

export interface RoomJoin {
  /** This tab is seated in the room. */
  here: boolean;
  /** The room this tab is seated in instead, if another. */
  elsewhere: string | null;
  /** A join of this room is on its way. */
  joining: boolean;
  /** Why this tab is not in the room: the last join's refusal, or the host's removal. */
  failed: Failure | null;
  /** Joins with `name` (the name form). */
  join(name: string): void;
  /** Tries the join again (a room that was full or locked). */
  retry(): void;
  /** Leaves the other room; the join follows by itself. */
  leaveElsewhere(): void;
}

export function useRoomJoin(code: string): RoomJoin {
  const { client } = useJam();
  const st = useAppState();
  // A shared link carries the room's join key after the # (SharePanel). Read once, as the page
  // opens: it is what the link said, and the join effect must see the same key every time.
  const [linkKey] = useState(() => location.hash.slice(1) || undefined);
  const tried = useRef(false);
  const lastName = useRef('');

  const here = st.session?.roomCode === code;
  const elsewhere = st.session && !here ? st.session.roomCode : null;
  const joining = st.pending?.op === 'join' && st.pending.roomCode === code;
  const failed: Failure | null =
    st.joinError && st.joinError.roomCode === code
      ? st.joinError
      : !st.session && client.wasRemovedFrom(code)
        ? { code: ErrorCode.removed, message: '' }
        : null;
  const hasFailed = failed !== null;
  // Whether a well-formed code names a session is learnt from the join itself: an HTTP
  // look-up would log a 404 in the console for every mistyped code.
  const wellFormed = isWellFormedRoomCode(code);

  const join = (name: string) => {
    tried.current = true;
    lastName.current = name;
    client.join(code, name, linkKey);
  };

  // Resume this tab's seat, or join with the name this device remembers.
  useEffect(() => {
    if (tried.current || here || elsewhere || joining || hasFailed || !wellFormed) return;
    const seat = client.savedSeat();
    const remembered = loadName();
    const name = seat?.roomCode === code ? seat.userName : remembered && !validateUserName(remembered) ? remembered.trim() : null;
    if (name === null) return;
    tried.current = true;
    client.join(code, name, linkKey);
  }, [client, code, linkKey, here, elsewhere, joining, hasFailed, wellFormed]);

  return {
    here,
    elsewhere,
    joining,
    failed,
    join,
    retry: () => {
      tried.current = false;
      client.join(code, loadName() || lastName.current, linkKey);
    },
    leaveElsewhere: () => {
      client.leave();
      tried.current = false;
    },
  };
}
