import { useEffect } from 'react';
import { useAppState, useJam } from '../app/context';

/** The latest notice (a refused change, a queued change), cleared after a few seconds. */
export function NoticeBar() {
  const { store } = useJam();
  const { notice } = useAppState();

  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => store.dispatch({ type: 'clear-notice' }), notice.tone === 'error' ? 8000 : 5000);
    return () => clearTimeout(t);
  }, [notice, store]);

  return (
    <div className="notice-area" aria-live="polite">
      {notice && (
        <p className={`notice ${notice.tone}`} role={notice.tone === 'error' ? 'alert' : 'status'} key={notice.id}>
          {notice.text}
          <button type="button" className="small ghost" aria-label="Dismiss" onClick={() => store.dispatch({ type: 'clear-notice' })}>
            ×
          </button>
        </p>
      )}
    </div>
  );
}
