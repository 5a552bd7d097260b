package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

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
	apply  func(*bolt.Bucket) error
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
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("the session database %s is in use by another jamd", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the session database %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(sessionsBucket)
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
				if err := w.apply(tx.Bucket(sessionsBucket)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && len(batch) > 1 {
			// One bad write must not fail the others: commit each on its own.
			for _, w := range batch {
				w.result <- d.db.Update(func(tx *bolt.Tx) error { return w.apply(tx.Bucket(sessionsBucket)) })
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
func (d *DB) update(apply func(*bolt.Bucket) error) error {
	w := write{apply: apply, result: make(chan error, 1)}
	select {
	case d.writes <- w:
		return <-w.result
	case <-d.closing:
		return ErrClosed
	}
}

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
	return d.update(func(b *bolt.Bucket) error { return b.Put([]byte(s.Code), v) })
}

// DeleteSession removes the session with code.
func (d *DB) DeleteSession(code string) error {
	return d.update(func(b *bolt.Bucket) error { return b.Delete([]byte(code)) })
}
