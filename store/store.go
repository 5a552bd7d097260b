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

// errAborted is what the other writes of a group get when their leader panicked mid-commit.
var errAborted = errors.New("store: the write was not committed: its group's commit panicked")

// DB is the bbolt-backed session store.
//
// Writes are group-committed by their callers, as in LevelDB's write queue: a write joins a
// queue, and if no commit is in progress its caller commits everything queued in one transaction
// (one fsync), then hands the lead to the oldest write that queued meanwhile. So a lone write
// commits at once on its own goroutine, with no hand-off (a committer goroutine cost two
// scheduler wake-ups per write; bolt's Batch would hold it for MaxBatchDelay), and a leader
// commits one group and returns, never held hostage by others' writes.
type DB struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*write  // waiting writes, oldest first; empty unless leading
	leading bool      // a caller is committing a group; only it takes from queue
	closed  bool      // no write joins the queue any more
	idle    sync.Cond // on mu: leading became false, for Close

	closeOnce sync.Once
	closeErr  error
}

// write is one update waiting in, or committed with, a group.
type write struct {
	apply func(*bolt.Tx) error
	wake  chan struct{} // cap 1, made when the write waits: sent once, when done or when it is to lead
	done  bool          // err is its result; else a wake means lead
	err   error
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
	d := &DB{db: db}
	d.idle.L = &d.mu
	return d, nil
}

// Close refuses further writes, waits for the writes already queued to be committed, and closes
// the file; every write that returned nil was committed.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		for d.leading {
			d.idle.Wait()
		}
		d.mu.Unlock()
		d.closeErr = d.db.Close()
	})
	return d.closeErr
}

// update runs apply in a commit shared with whatever other writes are waiting, and returns once
// that commit is on disk.
func (d *DB) update(apply func(*bolt.Tx) error) error {
	w := &write{apply: apply}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.queue = append(d.queue, w)
	if d.leading {
		w.wake = make(chan struct{}, 1)
		d.mu.Unlock()
		<-w.wake
		if w.done {
			return w.err
		}
		d.mu.Lock() // handed the lead: w is now the queue's oldest
	}
	d.leading = true
	var buf [maxBatch]*write
	batch := append(buf[:0], d.queue[:min(len(d.queue), maxBatch)]...) // w first
	rest := copy(d.queue, d.queue[len(batch):])
	clear(d.queue[rest:])
	d.queue = d.queue[:rest]
	d.mu.Unlock()

	defer d.finish(batch)
	d.commit(batch)
	return w.err
}

// commit commits batch in one transaction, setting each write's result. If that fails and the
// batch has more than one write, each is committed on its own, so one bad write fails alone.
func (d *DB) commit(batch []*write) {
	err := d.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := w.apply(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, w := range batch {
			w.err, w.done = d.db.Update(w.apply), true
		}
		return
	}
	for _, w := range batch {
		w.err, w.done = err, true
	}
}

// finish passes the lead to the oldest waiting write, if any, and then wakes the other writes of
// batch with their results. It runs even if commit panicked, so the store is not left without a
// leader and no follower waits forever.
func (d *DB) finish(batch []*write) {
	d.mu.Lock()
	var next *write
	if len(d.queue) > 0 {
		next = d.queue[0]
	} else {
		d.leading = false
		if d.closed {
			d.idle.Broadcast()
		}
	}
	d.mu.Unlock()
	if next != nil {
		next.wake <- struct{}{} // first, so the next commit starts as soon as it can
	}
	for _, w := range batch[1:] { // batch[0] is the leader's own
		if !w.done {
			w.err, w.done = errAborted, true
		}
		w.wake <- struct{}{}
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
