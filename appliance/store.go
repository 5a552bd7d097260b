package appliance

import "time"

// Store keeps sessions across restarts and power cuts. Every method is one transaction that is
// durable on disk when it returns nil. Safe for concurrent use; concurrent calls may share a commit.
type Store interface {
	// Sessions returns every stored session, for loading at start.
	Sessions() ([]*Session, error)
	// PutSession writes s, replacing the stored session with the same code.
	PutSession(s *Session) error
	// PutState writes the shared state and the last activity of the session with code, which
	// PutSession wrote before, leaving the rest of it as it was: a small record, for the changes
	// that happen most (tempo, key, playback, pattern).
	PutState(code string, lastActive time.Time, st State) error
	// DeleteSession removes the session with code; removing a missing one is not an error.
	DeleteSession(code string) error
}
