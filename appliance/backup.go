package appliance

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// Snapshotter is what GET /api/backup and the store size metric need of the Store. A Store that
// does not offer it (a test's wrapper) serves no backups and reports no size.
type Snapshotter interface {
	// WriteTo writes a consistent copy of the whole database to w while changes go on (a file
	// jamd can be started on) and returns the bytes written. Its errors are w's or the disk's
	// (internal).
	WriteTo(w io.Writer) (int64, error)
	// Size is the size of the database file in bytes. Its errors are the disk's (internal).
	Size() (int64, error)
}

// handleBackup streams a consistent copy of the session database (admin only). A copy that
// fails half way is cut off (the client sees a truncated response, not a short file that looks
// whole).
func handleBackup(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, ok := h.store.(Snapshotter)
		if !ok {
			writeError(w, Errorf(EINTERNAL, "This jam box's store cannot be backed up while it runs."))
			return
		}
		start := time.Now()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="jamd-%s.db"`, start.UTC().Format("20060102-150405")))
		w.Header().Set("Cache-Control", "no-store")
		n, err := snap.WriteTo(w)
		if err != nil && r.Context().Err() != nil {
			h.log.Warn("backup not finished: the client went away", "remote", r.RemoteAddr, "bytes", n)
			panic(http.ErrAbortHandler)
		}
		if err != nil {
			h.log.Error("backup failed: check the disk and try again", "remote", r.RemoteAddr, "bytes", n, "err", err)
			panic(http.ErrAbortHandler) // cut the response off: a partial backup must not look whole
		}
		h.log.Info("backup sent", "remote", r.RemoteAddr, "bytes", n, "seconds", time.Since(start).Seconds())
	})
}
