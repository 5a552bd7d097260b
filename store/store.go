package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"jamd/appliance"
)

var _ appliance.Store = (*DB)(nil)

var sessionsBucket = []byte("sessions")

// lockTimeout bounds the wait for bolt's file lock, so a second jamd on the same data dir fails
// with a clear message instead of hanging.
const lockTimeout = time.Second

// maxBatchDelay is how long a commit waits for others to share its fsync. Short, because every
// change a musician makes waits for its commit before anyone hears of it.
const maxBatchDelay = 2 * time.Millisecond

// DB is the bbolt-backed session store.
type DB struct {
	db *bolt.DB
}

// Open opens (creating if missing) the store at path.
func Open(path string) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("the session database %s is in use by another jamd", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the session database %s: %w", path, err)
	}
	db.MaxBatchDelay = maxBatchDelay
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(sessionsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot prepare the session database %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the file; every change was already committed.
func (d *DB) Close() error { return d.db.Close() }

// Sessions returns every stored session. A record that cannot be read is an error, not skipped:
// silently dropping a session would lose what someone was told.
func (d *DB) Sessions() ([]*appliance.Session, error) {
	var out []*appliance.Session
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sessionsBucket).ForEach(func(k, v []byte) error {
			s := new(appliance.Session)
			if err := json.Unmarshal(v, s); err != nil {
				return fmt.Errorf("read session %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

// PutSession writes s under its code.
func (d *DB) PutSession(s *appliance.Session) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session %s: %w", s.Code, err)
	}
	return d.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(sessionsBucket).Put([]byte(s.Code), v)
	})
}

// DeleteSession removes the session with code.
func (d *DB) DeleteSession(code string) error {
	return d.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(sessionsBucket).Delete([]byte(code))
	})
}
