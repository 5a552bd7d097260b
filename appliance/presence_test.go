package appliance_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"jamd/appliance"
)

func TestDropResumeAndGrace(t *testing.T) {
	const grace = 400 * time.Millisecond
	ts := MustServer(t, appliance.Config{ReconnectGrace: grace})
	host, guest, w, wg := MustRoom(t, ts)

	// The guest drops without leaving: the seat stays, dropped.
	guest.Conn.Close()
	var upd struct{ User Participant }
	host.ExpectType("session:user-updated").Decode(t, &upd)
	if upd.User.ID != wg.You.ID || upd.User.Connected {
		t.Fatalf("user-updated = %+v, want the guest dropped", upd.User)
	}

	// Back inside the grace with the token: same id, name and role; the room hears of it.
	back := ts.Dial(t)
	var wb Welcome
	back.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "ignored", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wb)
	if wb.You.ID != wg.You.ID || wb.You.Name != "Guest" || wb.You.IsHost || !wb.You.Connected || wb.ResumeToken != wg.ResumeToken {
		t.Errorf("resumed as %+v token %q", wb.You, wb.ResumeToken)
	}
	if len(wb.Participants) != 2 {
		t.Errorf("participants after resume: %+v", wb.Participants)
	}
	host.ExpectType("session:user-updated").Decode(t, &upd)
	if upd.User.ID != wg.You.ID || !upd.User.Connected {
		t.Errorf("user-updated after resume = %+v", upd.User)
	}
	host.ExpectNone("session:user-joined", 50*time.Millisecond)

	// The resumed seat works like before.
	back.MustRequest("state:tempo-change", map[string]any{"tempo": 100}, "state:tempo-change")

	// Dropped: reconnecting, since when; past the grace: away, and the seat stays.
	back.Conn.Close()
	host.ExpectType("session:user-updated").Decode(t, &upd)
	if upd.User.Presence != "reconnecting" || upd.User.AwaySince == "" {
		t.Errorf("dropped seat = %+v, want reconnecting since a time", upd.User)
	}
	host.ExpectType("session:user-updated").Decode(t, &upd)
	if upd.User.Presence != "away" || upd.User.Connected || upd.User.AwaySince == "" {
		t.Errorf("after the grace = %+v, want away", upd.User)
	}
	host.ExpectNone("session:user-left", 2*grace)
	// Its token still resumes it.
	again := ts.Dial(t)
	var wa Welcome
	again.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "ignored", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wa)
	if wa.You.ID != wg.You.ID || wa.You.Name != "Guest" || wa.You.Presence != "connected" || wa.You.AwaySince != "" {
		t.Errorf("resumed after a break as %+v", wa.You)
	}
	// A token that matches no seat, with a bad name, is a bad name.
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "", "resumeToken": "nope"}, "invalid_name")
}

func TestHostKeepsRoleThroughGraceThenSomeoneStandsIn(t *testing.T) {
	const grace = 400 * time.Millisecond
	ts := MustServer(t, appliance.Config{ReconnectGrace: grace})
	host, guest, w, wg := MustRoom(t, ts)
	third := ts.Dial(t)
	w3 := third.MustJoin(w.RoomCode, "Third")
	guest.ExpectType("session:user-joined")

	// The second-seated guest drops too: when the host's grace runs out, the connected Third
	// becomes host, not the longer-seated but dropped guest.
	guest.Conn.Close()
	third.ExpectType("session:user-updated")
	host.Conn.Close()
	var upd struct{ User Participant }
	third.ExpectType("session:user-updated").Decode(t, &upd)
	if !upd.User.IsHost || upd.User.Connected {
		t.Errorf("a dropped host must keep the role through the grace: %+v", upd.User)
	}
	third.MustError("state:playback-control", map[string]any{"isPlaying": true}, "forbidden")

	var hc struct{ HostID, HomeHostID string }
	third.ExpectType("session:user-updated") // the host is away
	third.ExpectType("session:host-changed").Decode(t, &hc)
	if hc.HostID != w3.You.ID || hc.HomeHostID != w.You.ID {
		t.Errorf("host-changed = %+v, want the connected Third %q standing in for %q (guest was %q)", hc, w3.You.ID, w.You.ID, wg.You.ID)
	}
	third.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control")

	// The host is back from the break: the role goes home.
	back := ts.Dial(t)
	var wb Welcome
	back.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": w.ResumeToken},
		"session:joined").Decode(t, &wb)
	if !wb.You.IsHost || wb.HomeHostID != "" {
		t.Errorf("the host came back as %+v (home %q), want the role back", wb.You, wb.HomeHostID)
	}
	third.ExpectType("session:user-updated")
	hc = struct{ HostID, HomeHostID string }{}
	third.ExpectType("session:host-changed").Decode(t, &hc)
	if hc.HostID != w.You.ID || hc.HomeHostID != "" {
		t.Errorf("host-changed on return = %+v", hc)
	}
	third.MustError("state:playback-control", map[string]any{"isPlaying": false}, "forbidden")
}

func TestHostGoesToDroppedSeatWhenNobodyIsConnected(t *testing.T) {
	ts := MustServer(t, appliance.Config{ReconnectGrace: time.Hour})
	host, guest, w, wg := MustRoom(t, ts)
	guest.Conn.Close()
	host.ExpectType("session:user-updated")
	host.MustRequest("session:leave", nil, "session:left")
	back := ts.Dial(t)
	var wb Welcome
	back.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wb)
	if !wb.You.IsHost {
		t.Errorf("the only (dropped) seat did not become host: %+v", wb.You)
	}
}

func TestResumeTakesOverALiveSeat(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	// A reload can beat the old socket's close: the new connection wins, the old one is closed.
	tab := ts.Dial(t)
	var wb Welcome
	tab.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken},
		"session:joined").Decode(t, &wb)
	if wb.You.ID != wg.You.ID {
		t.Fatalf("resumed %q, want %q", wb.You.ID, wg.You.ID)
	}
	if code := guest.ExpectClosed(); code != 4002 {
		t.Errorf("old connection closed with %d, want 4002", code)
	}
	// The old socket's close does not mark the resumed seat as dropped.
	host.ExpectNone("session:user-left", 100*time.Millisecond)
	ps, _ := host.Sync()
	if len(ps) != 2 || !ps[1].Connected {
		t.Errorf("participants after takeover: %+v", ps)
	}
	tab.MustRequest("state:tempo-change", map[string]any{"tempo": 140}, "state:tempo-change")
	host.ExpectType("state:tempo-change")
}

func TestStaleLeaveAfterTakeoverKeepsTheSeat(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	tab := ts.Dial(t)
	tab.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": wg.ResumeToken}, "session:joined")
	// The old tab's leave, already on its way, must not take the seat from the new tab.
	guest.Conn.WriteJSON(map[string]any{"type": "session:leave", "id": "late"})
	guest.ExpectClosed()
	host.ExpectNone("session:user-left", 100*time.Millisecond)
	tab.MustRequest("pattern:set-step", map[string]any{"track": "kick", "step": 0, "on": true}, "pattern:set-step")
	tab.MustRequest("session:leave", nil, "session:left")
	host.ExpectType("session:user-left")
}

func TestRacingJoinsRespectMaxParticipants(t *testing.T) {
	const seats, racers = 5, 30
	ts := MustServer(t, appliance.Config{MaxParticipants: seats})
	host := ts.Dial(t)
	w := host.MustCreate("Host")

	clients := make([]*Client, racers)
	for i := range clients {
		clients[i] = ts.Dial(t)
	}
	var wg sync.WaitGroup
	results := make([]string, racers)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Send("session:join", "j", map[string]any{"roomCode": w.RoomCode, "userName": fmt.Sprintf("Racer %d", i)})
			f := c.Expect(func(f Frame) bool { return f.Re == "j" }, "join answer")
			results[i] = f.Type
			if f.Type == "error" {
				var e ErrorData
				f.Decode(t, &e)
				results[i] = e.Code
			}
		}()
	}
	wg.Wait()
	joined, full := 0, 0
	for _, r := range results {
		switch r {
		case "session:joined":
			joined++
		case "room_full":
			full++
		}
	}
	if joined != seats-1 || full != racers-seats+1 {
		t.Errorf("%d joined and %d were refused; want exactly %d seats filled", joined, full, seats)
	}
	if ps, _ := host.Sync(); len(ps) != seats {
		t.Errorf("%d seated, want %d", len(ps), seats)
	}
}

func TestIdleSessionsExpire(t *testing.T) {
	ts := MustServer(t, appliance.Config{SessionTTL: 300 * time.Millisecond, ReconnectGrace: time.Hour})
	c := ts.Dial(t)
	w := c.MustCreate("Ana")
	live := ts.Dial(t)
	wl := live.MustCreate("Bo")

	c.Conn.Close() // nobody connected to Ana's session any more
	deadline := time.Now().Add(wait)
	for GetJSON(t, ts.URL+"/api/sessions/"+w.RoomCode, nil, nil) != 404 {
		if time.Now().After(deadline) {
			t.Fatal("idle session was not deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A session with someone connected is not idle, however long it has been quiet.
	if status := GetJSON(t, ts.URL+"/api/sessions/"+wl.RoomCode, nil, nil); status != 200 {
		t.Errorf("a connected session was deleted: %d", status)
	}
}
