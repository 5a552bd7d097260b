package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"jamd/appliance"
	"jamd/store"
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
