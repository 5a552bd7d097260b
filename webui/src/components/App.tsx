import { useEffect } from 'react';
import { useAppState } from '../app/context';
import { Lobby } from './Lobby';
import { RoomPage } from './RoomPage';
import { useRoute } from '../app/route';

export function App() {
  const route = useRoute();
  const st = useAppState();
  const code = st.session?.roomCode;

  useEffect(() => {
    document.title = code && route.page === 'room' ? `Room ${code} · jamd` : 'jamd · jam together';
  }, [code, route.page]);

  return route.page === 'room' ? <RoomPage key={route.code} rawCode={route.code} /> : <Lobby />;
}
