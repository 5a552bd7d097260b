// Minimal History-API routing: /jam is the lobby, /jam/<code> a room.

import { useEffect, useState } from 'react';

export type Route = { page: 'lobby' } | { page: 'room'; code: string };

export function parseRoute(pathname: string): Route {
  const m = /^\/jam\/([^/]+)\/?$/.exec(pathname);
  if (m) {
    let code = m[1]!;
    try {
      code = decodeURIComponent(code);
    } catch {
      /* keep as is */
    }
    return { page: 'room', code };
  }
  return { page: 'lobby' };
}

const EVENT = 'jamd:navigate';

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (location.pathname === path) return;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(EVENT));
}

export function useRoute(): Route {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener('popstate', on);
    window.addEventListener(EVENT, on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener(EVENT, on);
    };
  }, []);
  return parseRoute(path);
}
