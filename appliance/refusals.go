package appliance

import (
	"net/http"
	"sync"
	"time"
)

// refusalWindow is how often, at most, refused WebSocket connections are logged: the first one
// of a window in full, the rest as a count with the next one. A page on another origin retrying
// in a loop must not fill the journal.
const refusalWindow = time.Minute

// refusalLog summarises refused WebSocket connections for the log.
type refusalLog struct {
	mu         sync.Mutex
	since      time.Time // start of the current window
	suppressed int       // refusals not logged in it
}

// note logs a refused WebSocket upgrade, or counts it when one was logged less than a window ago.
func (l *refusalLog) note(h *Hub, r *http.Request, status int) {
	now := time.Now()
	l.mu.Lock()
	if !l.since.IsZero() && now.Sub(l.since) < refusalWindow {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.since, l.suppressed = now, 0
	l.mu.Unlock()
	what := "the request was not a valid WebSocket upgrade: a client that is not the web app, or a proxy that drops the Upgrade header"
	if status == http.StatusForbidden {
		what = "a page from another origin tried to connect: if it is yours, add it to --allowed-origins"
	}
	h.log.Warn("websocket refused: "+what, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "status", status,
		"refused_before_unlogged", suppressed, "next_log_after", refusalWindow.String())
}
