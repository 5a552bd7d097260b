package appliance_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"jamd/appliance"
)

func TestRestartBringsBackSeatsAndState(t *testing.T) {
	dir := t.TempDir()
	cfg := appliance.Config{ReconnectGrace: time.Hour}
	ts := MustServerAt(t, cfg, dir, nil)
	host, guest, w, wg := MustRoom(t, ts)
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 88}, "state:tempo-change")
	host.MustRequest("state:key-change", map[string]any{"key": "D", "scale": "dorian"}, "state:key-change")
	host.MustRequest("pattern:set-step", map[string]any{"track": "hihat", "step": 2, "on": true}, "pattern:set-step")
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control")
	_, before := guest.Sync()
	ts.Close(t)

	ts2 := MustServerAt(t, cfg, dir, nil)
	back := ts2.Dial(t)
	var wb Welcome
	back.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wb)
	if wb.You.ID != wg.You.ID || wb.You.Name != "Guest" || len(wb.Participants) != 2 {
		t.Fatalf("resumed %+v with %+v", wb.You, wb.Participants)
	}
	if wb.Participants[0].Connected || !wb.Participants[0].IsHost {
		t.Errorf("the host's seat should be back, dropped, still host: %+v", wb.Participants[0])
	}
	got := wb.State
	if got.Tempo != 88 || got.Key != "D" || got.Scale != "dorian" || !got.Pattern["hihat"][2] || !got.IsPlaying ||
		got.Anchor != before.Anchor || got.Version != before.Version {
		t.Errorf("state after restart = %+v, before = %+v", got, before)
	}
}

// A rehearsal break: every phone locks for longer than the grace, and the box restarts in the
// middle of it. Whoever comes back later finds the same seat, the same host and the same pattern.
func TestABreakAndARestartChangeNothing(t *testing.T) {
	const grace = 200 * time.Millisecond
	dir := t.TempDir()
	cfg := appliance.Config{ReconnectGrace: grace}
	ts := MustServerAt(t, cfg, dir, nil)
	host, guest, w, wg := MustRoom(t, ts)
	host.MustRequest("pattern:set-step", map[string]any{"track": "snare", "step": 4, "on": true}, "pattern:set-step")
	guest.ExpectType("pattern:set-step")
	guest.Conn.Close()
	host.Conn.Close()
	time.Sleep(3 * grace) // the break: every seat is away
	if status := GetJSON(t, ts.URL+"/api/sessions/"+w.RoomCode, nil, nil); status != 200 {
		t.Fatalf("the session answers %d during the break, want 200", status)
	}
	ts.Close(t)

	ts2 := MustServerAt(t, cfg, dir, nil) // restarted mid-break
	time.Sleep(3 * grace)                 // nobody back within the fresh grace either
	for _, seat := range []Welcome{wg, w} {
		c := ts2.Dial(t)
		var wb Welcome
		c.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": seat.ResumeToken},
			"session:joined").Decode(t, &wb)
		if wb.You.ID != seat.You.ID || wb.You.Name != seat.You.Name || len(wb.Participants) != 2 {
			t.Errorf("came back as %+v among %+v, want %+v", wb.You, wb.Participants, seat.You)
		}
		if !wb.State.Pattern["snare"][4] {
			t.Errorf("the pattern was lost: %+v", wb.State.Pattern)
		}
	}
	c := ts2.Dial(t)
	var wb Welcome
	c.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Cy"}, "session:joined").Decode(t, &wb)
	if !wb.Participants[0].IsHost || wb.Participants[0].ID != w.You.ID {
		t.Errorf("the host after the break is %+v, want %q", wb.Participants, w.You.ID)
	}
}

// failingStore is the real store with a switch that makes writes fail: a full or broken disk
// cannot be made to happen on demand.
type failingStore struct {
	appliance.Store
	fail atomic.Bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) PutSession(s *appliance.Session) error {
	if f.fail.Load() {
		return errDisk
	}
	return f.Store.PutSession(s)
}

func (f *failingStore) PutState(code string, lastActive time.Time, st appliance.State) error {
	if f.fail.Load() {
		return errDisk
	}
	return f.Store.PutState(code, lastActive, st)
}

func (f *failingStore) DeleteSession(code string) error {
	if f.fail.Load() {
		return errDisk
	}
	return f.Store.DeleteSession(code)
}

func TestFailedCommitChangesNothing(t *testing.T) {
	var fs *failingStore
	ts := MustServerAt(t, appliance.Config{}, t.TempDir(), func(s appliance.Store) appliance.Store {
		fs = &failingStore{Store: s}
		return fs
	})
	host, guest, w, _ := MustRoom(t, ts)
	_, before := guest.Sync()

	fs.fail.Store(true)
	e := host.MustError("state:tempo-change", map[string]any{"tempo": 150}, "internal")
	if e.Message == "" || contains(e.Message, "disk on fire") {
		t.Errorf("internal error message %q must be readable and must not leak the Go error", e.Message)
	}
	host.MustError("pattern:clear", nil, "internal")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Cy"}, "internal")
	ts.Dial(t).MustError("session:create", map[string]any{"userName": "Dee"}, "internal")
	guest.MustError("session:leave", nil, "internal")
	guest.ExpectNone("state:tempo-change", 50*time.Millisecond)
	host.ExpectNone("session:user-joined", 50*time.Millisecond)

	fs.fail.Store(false)
	ps, after := guest.Sync()
	if after.Version != before.Version || after.Tempo != before.Tempo || len(ps) != 2 {
		t.Errorf("a failed commit changed the session: %+v -> %+v, %d seats", before, after, len(ps))
	}
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 150}, "state:tempo-change")

	// The last seat: a failed delete keeps the session and the seat.
	guest.MustRequest("session:leave", nil, "session:left")
	fs.fail.Store(true)
	host.MustError("session:leave", nil, "internal")
	fs.fail.Store(false)
	if status := GetJSON(t, ts.URL+"/api/sessions/"+w.RoomCode, nil, nil); status != 200 {
		t.Errorf("a failed delete lost the session: %d", status)
	}
	host.MustRequest("session:leave", nil, "session:left")
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
