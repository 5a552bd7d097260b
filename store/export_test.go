package store

import bolt "go.etcd.io/bbolt"

// Update is update, for tests that need writes of their own: one that fails, or that holds its
// commit open.
func Update(d *DB, apply func(*bolt.Tx) error) error { return d.update(apply) }

// Queued is how many writes wait for the commit in progress to end.
func Queued(d *DB) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Closing reports whether Close has begun.
func Closing(d *DB) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

const MaxBatch = maxBatch

var ErrAborted = errAborted
