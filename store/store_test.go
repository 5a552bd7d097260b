package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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
