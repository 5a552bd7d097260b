package appliance_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/appliance"
)

// A seat as the host sees it in the list.
func seatOf(tb testing.TB, c *Client, id string) Participant {
	tb.Helper()
	ps, _ := c.Sync()
	for _, p := range ps {
		if p.ID == id {
			return p
		}
	}
	tb.Fatalf("no seat %q in %+v", id, ps)
	return Participant{}
}

func TestHostRemovesAParticipant(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	cy := ts.Dial(t)
	wc := cy.MustJoin(w.RoomCode, "Cy")
	host.ExpectType("session:user-joined")
	guest.ExpectType("session:user-joined")

	guest.MustError("session:remove", map[string]any{"userId": wc.You.ID}, "forbidden")
	host.MustError("session:remove", map[string]any{}, "invalid_message")
	host.MustError("session:remove", map[string]any{"userId": "p_nobody"}, "invalid_participant")
	host.MustError("session:remove", map[string]any{"userId": w.You.ID}, "invalid_participant")

	var left struct{ UserID, Reason, By string }
	host.MustRequest("session:remove", map[string]any{"userId": wg.You.ID}, "session:user-left").Decode(t, &left)
	if left.UserID != wg.You.ID || left.Reason != "removed" || left.By != w.You.ID {
		t.Errorf("reply = %+v", left)
	}
	cy.ExpectType("session:user-left").Decode(t, &left)
	if left.UserID != wg.You.ID || left.Reason != "removed" {
		t.Errorf("event = %+v", left)
	}
	var gone struct{ RoomCode, Reason string }
	guest.ExpectType("session:left").Decode(t, &gone)
	if gone.Reason != "removed" || gone.RoomCode != w.RoomCode {
		t.Errorf("the removed guest heard %+v", gone)
	}
	guest.ExpectNone("session:user-left", 50*time.Millisecond)
	guest.MustError("state:tempo-change", map[string]any{"tempo": 99}, "not_in_session")

	// Its token no longer works in this room, however it tries.
	guest.MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Guest", "resumeToken": wg.ResumeToken}, "removed")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Guest", "resumeToken": wg.ResumeToken}, "removed")
	if ps, _ := host.Sync(); len(ps) != 2 {
		t.Errorf("after removing: %+v", ps)
	}
	// The connection itself is free to start another session.
	guest.MustCreate("Guest")
}

func TestHostLocksTheRoom(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	guest.MustError("session:settings", map[string]any{"locked": true}, "forbidden")
	host.MustError("session:settings", map[string]any{}, "invalid_message")
	host.MustError("session:settings", map[string]any{"locked": "yes"}, "invalid_message")

	var set struct {
		Locked, OpenPlayback bool
		By                   string
	}
	host.MustRequest("session:settings", map[string]any{"locked": true}, "session:settings").Decode(t, &set)
	if !set.Locked || set.OpenPlayback || set.By != w.You.ID {
		t.Errorf("settings reply = %+v", set)
	}
	guest.ExpectType("session:settings")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Stranger"}, "room_locked")

	// A seat already in the room still comes back.
	guest.Conn.Close()
	host.ExpectType("session:user-updated")
	var wb Welcome
	ts.Dial(t).MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wb)
	if wb.You.ID != wg.You.ID || !wb.Settings.Locked {
		t.Errorf("resume into a locked room: %+v", wb)
	}
	host.MustRequest("session:settings", map[string]any{"locked": false}, "session:settings")
	ts.Dial(t).MustJoin(w.RoomCode, "Stranger")
}

func TestHostOpensPlaybackToEveryone(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, _, _ := MustRoom(t, ts)
	guest.MustError("session:settings", map[string]any{"openPlayback": true}, "forbidden")
	guest.MustError("state:playback-control", map[string]any{"isPlaying": true}, "forbidden")
	host.MustRequest("session:settings", map[string]any{"openPlayback": true}, "session:settings")
	var set struct{ Locked, OpenPlayback bool }
	guest.ExpectType("session:settings").Decode(t, &set)
	if !set.OpenPlayback || set.Locked {
		t.Errorf("guest heard %+v", set)
	}
	guest.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control")
	guest.MustRequest("state:playback-control", map[string]any{"isPlaying": false}, "state:playback-control")
	// Settings are still the host's alone.
	guest.MustError("session:settings", map[string]any{"openPlayback": false}, "forbidden")
}

func TestHostHandsTheRoleOn(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	guest.MustError("session:set-host", map[string]any{"userId": wg.You.ID}, "forbidden")
	host.MustError("session:set-host", map[string]any{"userId": "p_nobody"}, "invalid_participant")

	var hc struct{ HostID, HomeHostID, By string }
	host.MustRequest("session:set-host", map[string]any{"userId": wg.You.ID}, "session:host-changed").Decode(t, &hc)
	if hc.HostID != wg.You.ID || hc.HomeHostID != "" || hc.By != w.You.ID {
		t.Errorf("reply = %+v", hc)
	}
	guest.ExpectType("session:host-changed")
	host.MustError("state:playback-control", map[string]any{"isPlaying": true}, "forbidden")
	guest.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control")
	if !seatOf(t, host, wg.You.ID).IsHost || seatOf(t, host, w.You.ID).IsHost {
		t.Error("the list does not show the new host")
	}
	// Handed on for good: the old host dropping and coming back changes nothing.
	host.Conn.Close()
	guest.ExpectType("session:user-updated")
	var wb Welcome
	ts.Dial(t).MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": w.ResumeToken},
		"session:joined").Decode(t, &wb)
	if wb.You.IsHost {
		t.Error("the old host took the role back")
	}
}

// On flaky Wi-Fi an old session:join can arrive after a newer one already resumed the seat. The
// newest connection keeps it; the stale one is refused and nobody is closed.
func TestStaleResumeCannotStealALiveSeat(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, _, w, wg := MustRoom(t, ts)
	resume := func(c *Client, attempt float64) Frame {
		return c.Request("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken, "attempt": attempt})
	}
	newer, older := ts.Dial(t), ts.Dial(t)
	if f := resume(newer, 20); f.Type != "session:joined" {
		t.Fatalf("the newer attempt got %s %s", f.Type, f.Data)
	}
	var e ErrorData
	resume(older, 19).Decode(t, &e)
	if e.Code != "seat_taken" {
		t.Errorf("the stale attempt got %+v, want seat_taken", e)
	}
	resume(older, 20).Decode(t, &e) // the same attempt again is no newer
	if e.Code != "seat_taken" {
		t.Errorf("a repeated attempt got %+v, want seat_taken", e)
	}
	newer.MustRequest("state:tempo-change", map[string]any{"tempo": 101}, "state:tempo-change")
	if p := seatOf(t, host, wg.You.ID); p.Presence != "connected" {
		t.Errorf("the live seat shows %+v", p)
	}
	// A later attempt (a reload) does take the seat over.
	reload := ts.Dial(t)
	if f := resume(reload, 21); f.Type != "session:joined" {
		t.Fatalf("the reload got %s %s", f.Type, f.Data)
	}
	if code := newer.ExpectClosed(); code != 4002 {
		t.Errorf("the replaced connection closed with %d, want 4002", code)
	}
}

func TestFullRoomGivesTheLongestAwaySeatToANewcomer(t *testing.T) {
	const grace = 100 * time.Millisecond
	ts := MustServer(t, appliance.Config{MaxParticipants: 3, ReconnectGrace: grace})
	host, guest, w, wg := MustRoom(t, ts)
	cy := ts.Dial(t)
	wc := cy.MustJoin(w.RoomCode, "Cy")
	guest.Conn.Close() // away first
	time.Sleep(grace / 2)
	cy.Conn.Close()
	for _, id := range []string{wg.You.ID, wc.You.ID} {
		host.Expect(func(f Frame) bool {
			var u struct{ User Participant }
			json.Unmarshal(f.Data, &u)
			return f.Type == "session:user-updated" && u.User.ID == id && u.User.Presence == "away"
		}, "away")
	}
	var wd Welcome
	ts.Dial(t).MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Di"}, "session:joined").Decode(t, &wd)
	var left struct{ UserID, Reason string }
	host.ExpectType("session:user-left").Decode(t, &left)
	if left.UserID != wg.You.ID || left.Reason != "replaced" {
		t.Errorf("user-left = %+v, want the guest (away longest) replaced", left)
	}
	if ps, _ := host.Sync(); len(ps) != 3 || ps[1].ID != wc.You.ID || ps[2].ID != wd.You.ID {
		t.Errorf("seats: %+v", ps)
	}
	ts.Dial(t).MustJoin(w.RoomCode, "Ed") // takes Cy's seat, the one away now
	host.ExpectType("session:user-left").Decode(t, &left)
	if left.UserID != wc.You.ID || left.Reason != "replaced" {
		t.Errorf("user-left = %+v, want Cy replaced", left)
	}
	// Nobody is away now, and every seat is held: the next newcomer is refused.
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Fay"}, "room_full")
}

func TestAwaySeatsAreFreedAfterTheSeatHold(t *testing.T) {
	ts := MustServer(t, appliance.Config{ReconnectGrace: 50 * time.Millisecond, SeatHold: 200 * time.Millisecond, SessionTTL: time.Hour})
	host, guest, _, wg := MustRoom(t, ts)
	guest.Conn.Close()
	var left struct{ UserID, Reason string }
	host.ExpectType("session:user-left").Decode(t, &left) // the sweeper runs every seat hold / 10
	if left.UserID != wg.You.ID || left.Reason != "away too long" {
		t.Errorf("user-left = %+v", left)
	}
}

// A phone that leaves the Wi-Fi does not close its socket: it just goes silent. It shows as
// reconnecting within seconds, not a minute.
func TestASilentPhoneShowsReconnectingWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the server's read deadline")
	}
	ts := MustServer(t, appliance.Config{})
	host := ts.Dial(t)
	w := host.MustCreate("Host")
	// A raw client that joins and then neither reads nor answers pings: it is silent.
	conn, err := (&churnSeat{}).dial(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f, err := churnRequest(conn, "session:join", "j", map[string]any{"roomCode": w.RoomCode, "userName": "Guest"})
	if err != nil || f.Type != "session:joined" {
		t.Fatalf("join: %s %s (%v)", f.Type, f.Data, err)
	}
	var wg Welcome
	f.Decode(t, &wg)
	start := time.Now()
	host.ExpectWithin(20*time.Second, func(f Frame) bool {
		var u struct{ User Participant }
		json.Unmarshal(f.Data, &u)
		return f.Type == "session:user-updated" && u.User.ID == wg.You.ID && u.User.Presence == "reconnecting"
	}, "the silent guest reconnecting")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
	t.Logf("a silent phone showed as reconnecting after %v", time.Since(start).Round(100*time.Millisecond))
}

// churnSeat is one musician in the churn test: a raw client that cannot call t.Fatal, on a
// device of its own (a loopback source address), or the default one when source is "".
type churnSeat struct {
	room, token, id string
	attempt         float64
	conn            *websocket.Conn
	source          string
}

func (s *churnSeat) dial(addr string) (*websocket.Conn, error) {
	c, _, err := dialerFrom(s.source).Dial("ws://"+addr+"/ws", nil)
	return c, err
}

// request sends one frame and reads until the frame that answers it.
func churnRequest(c *websocket.Conn, typ, id string, data any) (Frame, error) {
	if err := c.WriteJSON(map[string]any{"type": typ, "id": id, "data": data}); err != nil {
		return Frame{}, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		var f Frame
		if err := c.ReadJSON(&f); err != nil {
			return Frame{}, err
		}
		if f.Re == id {
			return f, nil
		}
	}
}

func (s *churnSeat) resume(c *websocket.Conn) (Frame, error) {
	s.attempt++
	return churnRequest(c, "session:join", "j", map[string]any{"roomCode": s.room, "userName": "x", "resumeToken": s.token, "attempt": s.attempt})
}

// Many seats drop abruptly (some in the middle of a frame) and come back at random, and stale
// resumes race newer ones, for tens of seconds. At the end every list holds exactly the seats
// held, all clients agree on the state, and no live seat was ever taken over.
func TestChurn(t *testing.T) {
	const rooms, seats = 10, 5
	run := 20 * time.Second
	if testing.Short() {
		run = 3 * time.Second
	}
	ts := MustServer(t, appliance.Config{ReconnectGrace: 300 * time.Millisecond})
	var all [][]*churnSeat
	for range rooms {
		var room []*churnSeat
		for i := range seats {
			s := &churnSeat{source: fmt.Sprintf("127.0.%d.%d", 1+len(all), 2+i)}
			c, err := s.dial(ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.conn.Close() })
			s.conn = c
			typ, data := "session:create", map[string]any{"userName": "Host"}
			if i > 0 {
				typ, data = "session:join", map[string]any{"roomCode": room[0].room, "userName": fmt.Sprintf("P%d", i)}
			}
			f, err := churnRequest(c, typ, "c", data)
			var w Welcome
			if err != nil || f.Type == "error" {
				t.Fatalf("seating: %s %s (%v)", f.Type, f.Data, err)
			}
			f.Decode(t, &w)
			s.room, s.token, s.id = w.RoomCode, w.ResumeToken, w.You.ID
			room = append(room, s)
		}
		all = append(all, room)
	}

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	for ri, room := range all {
		for si, s := range room {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(ri), uint64(si)))
				for n := 0; time.Now().Before(deadline) && n < 1000; n++ {
					// Play a little: a few steps on this seat's own track column.
					for k := range rng.IntN(4) {
						f, err := churnRequest(s.conn, "pattern:set-step", "s", map[string]any{"track": "kick", "step": (si*3 + k) % 16, "on": rng.IntN(2) == 0})
						if err != nil {
							break
						}
						if f.Type == "error" {
							report("room %d seat %d: set-step answered %s", ri, si, f.Data)
						}
					}
					// Drop abruptly, sometimes in the middle of a frame.
					if rng.IntN(3) == 0 {
						s.conn.UnderlyingConn().Write([]byte{0x81, 0xfe, 0x01})
					}
					s.conn.UnderlyingConn().Close()
					time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)

					// Come back; now and then a stale attempt from an older connection arrives late.
					next, err := s.dial(ts.Addr)
					if err != nil {
						report("dial: %v", err)
						return
					}
					var stale *websocket.Conn
					var staleAttempt float64
					if rng.IntN(4) == 0 {
						if stale, err = s.dial(ts.Addr); err != nil {
							report("dial: %v", err)
							return
						}
						s.attempt++
						staleAttempt = s.attempt
					}
					f, err := s.resume(next)
					if err != nil || f.Type != "session:joined" {
						report("room %d seat %d: resume got %s %s (%v)", ri, si, f.Type, f.Data, err)
						next.Close()
						return
					}
					if stale != nil {
						sf, err := churnRequest(stale, "session:join", "j", map[string]any{"roomCode": s.room, "userName": "x", "resumeToken": s.token, "attempt": staleAttempt})
						if err != nil || sf.Type != "error" || !json.Valid(sf.Data) || !containsCode(sf.Data, "seat_taken") {
							report("room %d seat %d: stale resume got %s %s (%v)", ri, si, sf.Type, sf.Data, err)
						}
						stale.Close()
					}
					s.conn = next
				}
			}()
		}
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}

	// Settle: every seat is connected on its latest connection, and nobody was taken over.
	for ri, room := range all {
		var lists [][]string
		var versions []int64
		var patterns []string
		for _, s := range room {
			f, err := churnRequest(s.conn, "state:request-sync", "sync", nil)
			if err != nil || f.Type != "state:sync" {
				t.Fatalf("room %d: sync got %s %s (%v): a live seat was taken over?", ri, f.Type, f.Data, err)
			}
			var d struct {
				Participants []Participant
				State        State
			}
			json.Unmarshal(f.Data, &d)
			var ids []string
			for _, p := range d.Participants {
				ids = append(ids, p.ID+"/"+p.Presence)
			}
			lists = append(lists, ids)
			versions = append(versions, d.State.Version)
			pat, _ := json.Marshal(d.State.Pattern)
			patterns = append(patterns, string(pat))
		}
		var want []string
		for _, s := range room {
			want = append(want, s.id+"/connected")
		}
		for i := range room {
			got := slices.Clone(lists[i])
			slices.Sort(got)
			w := slices.Clone(want)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("room %d: seat %d sees %v, want exactly %v", ri, i, lists[i], want)
			}
			if versions[i] != versions[0] || patterns[i] != patterns[0] {
				t.Errorf("room %d: seat %d disagrees: version %d vs %d", ri, i, versions[i], versions[0])
			}
		}
	}
}

func containsCode(data json.RawMessage, code string) bool {
	var e ErrorData
	return json.Unmarshal(data, &e) == nil && e.Code == code
}
