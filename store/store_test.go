package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jamd/appliance"
	"jamd/store"

	bolt "go.etcd.io/bbolt"
)

func MustOpen(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func session(code string, tempo float64) *appliance.Session {
	now := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	return &appliance.Session{Code: code, CreatedAt: now, LastActive: now, HostID: "p_1",
		Participants: []appliance.Participant{{ID: "p_1", Name: "Ana", JoinedAt: now, TokenHash: []byte{1, 2, 3}}},
		State:        appliance.State{Tempo: tempo, Key: "C", Scale: "major", Version: 3}}
}

func TestPutDeleteAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	if err := db.PutSession(session("AAAAAA", 90)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(session("BBBBBB", 100)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(session("AAAAAA", 95)); err != nil { // replaces
		t.Fatal(err)
	}
	if err := db.DeleteSession("BBBBBB"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSession("CCCCCC"); err != nil {
		t.Errorf("deleting a missing session: %v", err)
	}
	db.Close()
	if err := db.PutSession(session("DDDDDD", 90)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after Close = %v, want ErrClosed", err)
	}

	db2 := MustOpen(t, path)
	got, err := db2.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Code != "AAAAAA" || got[0].State.Tempo != 95 || got[0].Participants[0].Name != "Ana" ||
		string(got[0].Participants[0].TokenHash) != "\x01\x02\x03" || !got[0].CreatedAt.Equal(session("", 0).CreatedAt) {
		t.Errorf("after reopen: %+v", got)
	}
}

func TestConcurrentWritesAllLand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.PutSession(session(fmt.Sprintf("S%05d", i), float64(20+i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	db.Close()
	got, err := MustOpen(t, path).Sessions()
	if err != nil || len(got) != 200 {
		t.Fatalf("%d sessions after 200 concurrent writes: %v", len(got), err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	MustOpen(t, path)
	start := time.Now()
	_, err := store.Open(path)
	if err == nil || !strings.Contains(err.Error(), "in use by another jamd") {
		t.Errorf("second open: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second open took %v", d)
	}
}

// TestStateRecords: a state written on its own comes back over the session's, every field of
// it; a later PutSession wins over it; Check reads it; a database made before state records
// existed (a sessions bucket only) opens and loads.
func TestStateRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	if err := db.PutSession(session("AAAAAA", 90)); err != nil {
		t.Fatal(err)
	}
	st := appliance.State{Tempo: 133.25, IsPlaying: true, Key: "F#", Scale: "mixolydian",
		Anchor: appliance.Anchor{ServerTime: 1795665000000.25, Beat: -4, TempoBefore: 90}, Version: 1 << 40}
	st.Pattern.Kick[0], st.Pattern.Snare[15], st.Pattern.Hihat[7], st.Pattern.Clap[8] = true, true, true, true
	active := time.Date(2026, 11, 26, 3, 4, 5, 6, time.UTC)
	if err := db.PutState("AAAAAA", active, st); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(session("BBBBBB", 100)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutState("BBBBBB", active, st); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSession(session("BBBBBB", 101)); err != nil { // newer than its state record
		t.Fatal(err)
	}
	db.Close()
	if n, err := store.Check(path); n != 2 || err != nil {
		t.Errorf("Check = %d, %v", n, err)
	}
	got, err := MustOpen(t, path).Sessions()
	if err != nil || len(got) != 2 {
		t.Fatalf("%d sessions: %v", len(got), err)
	}
	for _, s := range got {
		switch s.Code {
		case "AAAAAA":
			if s.State != st || !s.LastActive.Equal(active) || s.Participants[0].Name != "Ana" {
				t.Errorf("state record: got %+v at %v, want %+v at %v", s.State, s.LastActive, st, active)
			}
		case "BBBBBB":
			if s.State.Tempo != 101 {
				t.Errorf("PutSession after PutState: tempo %v, want 101", s.State.Tempo)
			}
		}
	}
}

func TestOpensADatabaseWithoutStates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	old, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal(session("AAAAAA", 97))
	if err := old.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("sessions"))
		if err != nil {
			return err
		}
		return b.Put([]byte("AAAAAA"), v)
	}); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if n, err := store.Check(path); n != 1 || err != nil {
		t.Errorf("Check of an old database = %d, %v", n, err)
	}
	db := MustOpen(t, path)
	got, err := db.Sessions()
	if err != nil || len(got) != 1 || got[0].State.Tempo != 97 {
		t.Fatalf("old database: %+v, %v", got, err)
	}
	if err := db.PutState("AAAAAA", time.Now(), appliance.State{Tempo: 98, Key: "C", Scale: "major"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Sessions(); got[0].State.Tempo != 98 {
		t.Errorf("after PutState: %+v", got[0].State)
	}
}

// holdCommit starts a write that keeps its commit open until release is called, so that writes
// made meanwhile queue up behind it; release returns the held write's result.
func holdCommit(t *testing.T, db *store.DB) (release func() error) {
	t.Helper()
	entered, hold, result := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		result <- store.Update(db, func(tx *bolt.Tx) error {
			close(entered)
			<-hold
			return tx.Bucket([]byte("sessions")).Put([]byte("HELD"), []byte(`{"Code":"HELD"}`))
		})
	}()
	<-entered
	return func() error { close(hold); return <-result }
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// codes returns the codes of the sessions stored at path.
func codes(t *testing.T, path string) map[string]bool {
	t.Helper()
	db := MustOpen(t, path)
	got, err := db.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	m := make(map[string]bool, len(got))
	for _, s := range got {
		m[s.Code] = true
	}
	return m
}

// TestGroupsLargerThanABatch: writes queued behind a commit, more than one group's worth of
// them, and writers that go on writing as groups commit, all return nil and are all on disk.
func TestGroupsLargerThanABatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	release := holdCommit(t, db)
	const queued, writers, each = 2*store.MaxBatch + 50, 16, 20
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() {
			if err := db.PutSession(session(fmt.Sprintf("Q%05d", i), 90)); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "the writes to queue", func() bool { return store.Queued(db) == queued })
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				code := fmt.Sprintf("W%02d%03d", i, j)
				if err := db.PutSession(session(code, 90)); err != nil {
					t.Error(err)
				}
				if err := db.PutState(code, time.Now(), appliance.State{Tempo: float64(j)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	db.Close()
	got := codes(t, path)
	if len(got) != 1+queued+writers*each || !got["HELD"] || !got["Q00000"] || !got[fmt.Sprintf("Q%05d", queued-1)] ||
		!got[fmt.Sprintf("W%02d%03d", writers-1, each-1)] {
		t.Errorf("%d sessions on disk, want %d", len(got), 1+queued+writers*each)
	}
}

// TestBadWriteFailsAlone: when a write fails in a group, it alone gets its error, with nothing of
// it on disk; the others of its group are committed each on its own and return nil.
func TestBadWriteFailsAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	release := holdCommit(t, db)
	errBad := errors.New("bad write")
	const good = 10
	var badApplied atomic.Int32
	errs := make([]error, good+1)
	var wg sync.WaitGroup
	for i := range good + 1 {
		wg.Go(func() {
			errs[i] = store.Update(db, func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("sessions"))
				if i == good {
					badApplied.Add(1)
					if err := b.Put([]byte("BADBAD"), []byte(`{"Code":"BADBAD"}`)); err != nil {
						return err
					}
					return errBad
				}
				code := fmt.Sprintf("G%05d", i)
				return b.Put([]byte(code), fmt.Appendf(nil, `{"Code":%q}`, code))
			})
		})
	}
	waitFor(t, "the writes to queue", func() bool { return store.Queued(db) == good+1 })
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(errs[good], errBad) {
		t.Errorf("bad write = %v, want %v", errs[good], errBad)
	}
	for i := range good {
		if errs[i] != nil {
			t.Errorf("good write %d = %v", i, errs[i])
		}
	}
	if n := badApplied.Load(); n != 2 { // in the group, then alone
		t.Errorf("bad write applied %d times, want 2: it did not share a group", n)
	}
	db.Close()
	got := codes(t, path)
	if len(got) != 1+good || got["BADBAD"] {
		t.Errorf("on disk: %v", got)
	}
}

// TestWritesRacingClose: a write made as Close runs is either committed, and on disk after
// reopening, or refused with ErrClosed; writes queued when Close began are committed, and Close
// returns only after them.
func TestWritesRacingClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	release := holdCommit(t, db)
	const queued = 20
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() {
			if err := db.PutSession(session(fmt.Sprintf("Q%05d", i), 90)); err != nil {
				t.Errorf("write queued before Close: %v", err)
			}
		})
	}
	waitFor(t, "the writes to queue", func() bool { return store.Queued(db) == queued })

	var mu sync.Mutex
	var landed []string
	for i := range 8 {
		wg.Go(func() {
			for j := 0; ; j++ {
				code := fmt.Sprintf("R%d%04d", i, j)
				switch err := db.PutSession(session(code, 90)); {
				case err == nil:
					mu.Lock()
					landed = append(landed, code)
					mu.Unlock()
				case errors.Is(err, store.ErrClosed):
					return
				default:
					t.Errorf("write racing Close: %v", err)
					return
				}
			}
		})
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	waitFor(t, "Close to begin", func() bool { return store.Closing(db) })
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) during a commit", err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := db.PutSession(session("LATE00", 90)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after Close began = %v, want ErrClosed", err)
	}
	if err := release(); err != nil {
		t.Errorf("held write: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	got := codes(t, path)
	for _, code := range landed {
		if !got[code] {
			t.Errorf("%s returned nil but is not on disk", code)
		}
	}
	for i := range queued {
		if code := fmt.Sprintf("Q%05d", i); !got[code] {
			t.Errorf("%s, queued before Close, is not on disk", code)
		}
	}
	if !got["HELD"] || got["LATE00"] {
		t.Errorf("HELD on disk: %v, LATE00 on disk: %v", got["HELD"], got["LATE00"])
	}
}

// TestCloseIsIdempotent: Close called again, or at once from many goroutines, returns what the
// first did.
func TestCloseIsIdempotent(t *testing.T) {
	db := MustOpen(t, filepath.Join(t.TempDir(), "jamd.db"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Error(err)
	}
}

// TestPanicInAGroup: a write that panics panics its group's leader (whichever caller commits the
// group) and fails the rest of the group with an error, but does not leave the store without a
// leader: later writes commit and Close returns.
func TestPanicInAGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jamd.db")
	db := MustOpen(t, path)
	release := holdCommit(t, db)
	const n = 6
	var panics atomic.Int32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panics.Add(1)
					errs[i] = fmt.Errorf("panicked: %v", r)
				}
			}()
			errs[i] = store.Update(db, func(tx *bolt.Tx) error {
				if i == 0 {
					panic("boom")
				}
				code := fmt.Sprintf("P%05d", i)
				return tx.Bucket([]byte("sessions")).Put([]byte(code), fmt.Appendf(nil, `{"Code":%q}`, code))
			})
		})
	}
	waitFor(t, "the writes to queue", func() bool { return store.Queued(db) == n })
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if panics.Load() != 1 {
		t.Errorf("%d callers panicked, want 1", panics.Load())
	}
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrAborted) && !strings.HasPrefix(err.Error(), "panicked: boom") {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if err := db.PutSession(session("AFTER0", 90)); err != nil {
		t.Errorf("write after the panic: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got := codes(t, path)
	if !got["AFTER0"] || !got["HELD"] {
		t.Errorf("on disk: %v", got)
	}
	for i, err := range errs {
		if err == nil && !got[fmt.Sprintf("P%05d", i)] {
			t.Errorf("write %d returned nil but is not on disk", i)
		}
	}
}
