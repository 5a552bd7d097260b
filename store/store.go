package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"jamd/appliance"
)

var _ appliance.Store = (*DB)(nil)

var sessionsBucket = []byte("sessions")

// lockTimeout bounds the wait for bolt's file lock, so a second jamd on the same data dir fails
// with a clear message instead of hanging.
const lockTimeout = time.Second

// initialMmapSize holds thousands of sessions; the file is sparse, so it costs no disk until used.
const initialMmapSize = 16 << 20

// maxBatch bounds how many writes share one commit.
const maxBatch = 256

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// DB is the bbolt-backed session store.
//
// Writes go through one committer goroutine that commits whatever writes are waiting, together,
// the moment the previous commit is done: a lone write never waits for company (bolt's Batch
// would hold it for MaxBatchDelay), and writes that arrive during a commit share the next one.
type DB struct {
	db        *bolt.DB
	writes    chan write // unbuffered: a send succeeds only when the committer takes it
	closing   chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type write struct {
	apply  func(*bolt.Tx) error
	result chan error
}

// Open opens (creating if missing) the store at path.
func Open(path string) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		// The freelist is rebuilt on open instead of written on every commit: half the commit time.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Map (and grow the sparse file to) initialMmapSize at once, so commits do not stall on
		// growing and remapping the file as sessions are added.
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("the session database %s is in use by another jamd", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the session database %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(sessionsBucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(statesBucket) // absent in databases before it
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot prepare the session database %s: %w", path, err)
	}
	d := &DB{db: db, writes: make(chan write), closing: make(chan struct{}), stopped: make(chan struct{})}
	go d.commitLoop()
	return d, nil
}

// Close stops the committer and closes the file; every write that returned was committed.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		close(d.closing)
		<-d.stopped
		d.closeErr = d.db.Close()
	})
	return d.closeErr
}

// commitLoop commits waiting writes in groups until Close.
func (d *DB) commitLoop() {
	defer close(d.stopped)
	for {
		var batch []write
		select {
		case w := <-d.writes:
			batch = append(batch, w)
		case <-d.closing:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-d.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		err := d.db.Update(func(tx *bolt.Tx) error {
			for _, w := range batch {
				if err := w.apply(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			// One bad write must not fail the others: commit each on its own.
			for _, w := range batch {
				w.result <- d.db.Update(w.apply)
			}
			continue
		}
		for _, w := range batch {
			w.result <- err
		}
	}
}

// update runs apply in a commit shared with whatever other writes are waiting, and returns once
// that commit is on disk.
func (d *DB) update(apply func(*bolt.Tx) error) error {
	w := write{apply: apply, result: make(chan error, 1)}
	select {
	case d.writes <- w:
		return <-w.result
	case <-d.closing:
		return ErrClosed
	}
}

// Sessions returns every stored session, each with its newest state. A record that cannot be
// read is an error, not skipped: silently dropping a session would lose what someone was told.
func (d *DB) Sessions() ([]*appliance.Session, error) {
	var out []*appliance.Session
	err := d.db.View(func(tx *bolt.Tx) error {
		return readSessions(tx, func(s *appliance.Session) { out = append(out, s) })
	})
	return out, err
}

// readSessions decodes every session in tx, with the state record laid over it when there is one.
func readSessions(tx *bolt.Tx, each func(*appliance.Session)) error {
	states := tx.Bucket(statesBucket) // nil in a read-only copy made before states existed
	return tx.Bucket(sessionsBucket).ForEach(func(k, v []byte) error {
		s := new(appliance.Session)
		if err := json.Unmarshal(v, s); err != nil {
			return fmt.Errorf("read session %s: %w", k, err)
		}
		if states != nil {
			if rec := states.Get(k); rec != nil {
				lastActive, st, err := decodeState(rec)
				if err != nil {
					return fmt.Errorf("read the state of session %s: %w", k, err)
				}
				s.LastActive, s.State = lastActive, st
			}
		}
		each(s)
		return nil
	})
}

// PutSession writes s under its code, state included; an older state record goes.
func (d *DB) PutSession(s *appliance.Session) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session %s: %w", s.Code, err)
	}
	return d.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(statesBucket).Delete([]byte(s.Code)); err != nil {
			return err
		}
		return tx.Bucket(sessionsBucket).Put([]byte(s.Code), v)
	})
}

// PutState writes the state record of the session with code.
func (d *DB) PutState(code string, lastActive time.Time, st appliance.State) error {
	v := appendState(make([]byte, 0, 96), lastActive, st)
	return d.update(func(tx *bolt.Tx) error { return tx.Bucket(statesBucket).Put([]byte(code), v) })
}

// DeleteSession removes the session with code.
func (d *DB) DeleteSession(code string) error {
	return d.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(statesBucket).Delete([]byte(code)); err != nil {
			return err
		}
		return tx.Bucket(sessionsBucket).Delete([]byte(code))
	})
}
