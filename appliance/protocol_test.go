package appliance_test

import (
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"jamd/appliance"
)

var roomCodeRE = regexp.MustCompile(`^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$`)

func TestCreate(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	ana := ts.Dial(t)
	before := time.Now()
	w := ana.MustCreate("  Ana ")

	if !roomCodeRE.MatchString(w.RoomCode) {
		t.Errorf("room code %q is not 6 characters of the look-alike-free alphabet", w.RoomCode)
	}
	if w.You.Name != "Ana" || !w.You.IsHost || !w.You.Connected || w.You.ID == "" {
		t.Errorf("you = %+v, want connected host named Ana", w.You)
	}
	joined, err := time.Parse(time.RFC3339, w.You.JoinedAt)
	if err != nil || joined.Before(before.Add(-time.Second)) {
		t.Errorf("joinedAt %q is not a recent RFC 3339 time", w.You.JoinedAt)
	}
	if len(w.Participants) != 1 || w.Participants[0] != w.You {
		t.Errorf("participants = %+v, want just you", w.Participants)
	}
	st := w.State
	if st.Tempo != 120 || st.IsPlaying || st.Key != "C" || st.Scale != "major" || st.Version != 1 || st.CurrentStep != 0 {
		t.Errorf("new state = %+v", st)
	}
	for _, track := range []string{"kick", "snare", "hihat", "clap"} {
		if len(st.Pattern[track]) != 16 {
			t.Errorf("pattern %s has %d steps, want 16", track, len(st.Pattern[track]))
		}
	}
	if len(w.ResumeToken) < 32 {
		t.Errorf("resume token %q is too short to be unguessable", w.ResumeToken)
	}
	if w2 := ts.Dial(t).MustCreate("Bo"); w2.RoomCode == w.RoomCode || w2.ResumeToken == w.ResumeToken {
		t.Error("two sessions share a room code or a resume token")
	}
}

func TestJoinAndLeave(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	ana, bo, cy := ts.Dial(t), ts.Dial(t), ts.Dial(t)
	w := ana.MustCreate("Ana")

	// Any case and surrounding space are accepted.
	wb := bo.MustJoin(" "+lower(w.RoomCode)+"\n", "Bo")
	if wb.RoomCode != w.RoomCode || wb.You.IsHost || wb.You.Name != "Bo" || len(wb.Participants) != 2 {
		t.Fatalf("Bo's welcome = %+v", wb)
	}
	if wb.Participants[0].ID != w.You.ID || wb.Participants[1].ID != wb.You.ID {
		t.Errorf("participants are not in seating order: %+v", wb.Participants)
	}
	var ev struct{ User Participant }
	ana.ExpectType("session:user-joined").Decode(t, &ev)
	if ev.User != wb.You {
		t.Errorf("user-joined = %+v, want %+v", ev.User, wb.You)
	}
	bo.ExpectNone("session:user-joined", 50*time.Millisecond)

	wc := cy.MustJoin(w.RoomCode, "Cy")
	ana.ExpectType("session:user-joined")
	bo.ExpectType("session:user-joined")

	// A guest leaves: the others hear of it; the host stays.
	var left struct{ RoomCode string }
	bo.MustRequest("session:leave", map[string]any{}, "session:left").Decode(t, &left)
	if left.RoomCode != w.RoomCode {
		t.Errorf("left = %+v", left)
	}
	for _, c := range []*Client{ana, cy} {
		var ul struct{ UserID string }
		c.ExpectType("session:user-left").Decode(t, &ul)
		if ul.UserID != wb.You.ID {
			t.Errorf("user-left names %q, want Bo %q", ul.UserID, wb.You.ID)
		}
	}
	ana.ExpectNone("session:host-changed", 50*time.Millisecond)
	bo.ExpectNone("session:user-left", 0) // the leaver hears only session:left

	// The host leaves: the longest-seated connected participant (Cy) becomes host.
	ana.MustRequest("session:leave", nil, "session:left")
	ana.ExpectNone("session:host-changed", 50*time.Millisecond)
	cy.ExpectType("session:user-left")
	var hc struct{ HostID string }
	cy.ExpectType("session:host-changed").Decode(t, &hc)
	if hc.HostID != wc.You.ID {
		t.Errorf("host-changed to %q, want Cy %q", hc.HostID, wc.You.ID)
	}
	ps, _ := cy.Sync()
	if len(ps) != 1 || !ps[0].IsHost {
		t.Errorf("after the host left: %+v", ps)
	}

	// A connection that left can create or join again.
	bo.MustJoin(w.RoomCode, "Bo again")

	// The last one out leaves the session as it was: its code still works, and whoever joins
	// next runs it.
	bo.MustRequest("session:leave", nil, "session:left")
	cy.MustRequest("session:leave", nil, "session:left")
	var wa Welcome
	ana.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Ana"}, "session:joined").Decode(t, &wa)
	if len(wa.Participants) != 1 || !wa.You.IsHost {
		t.Errorf("joining the empty session: %+v", wa)
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// MustRoom creates a session with a host and one guest.
func MustRoom(t *testing.T, ts *TestServer) (host, guest *Client, w Welcome, wg Welcome) {
	t.Helper()
	host, guest = ts.Dial(t), ts.Dial(t)
	w = host.MustCreate("Host")
	wg = guest.MustJoin(w.RoomCode, "Guest")
	host.ExpectType("session:user-joined")
	return host, guest, w, wg
}

func TestTempoChange(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, _, wg := MustRoom(t, ts)

	type tempoEvent struct {
		Tempo   float64
		Anchor  Anchor
		Version int64
		By      string
	}
	var reply, event tempoEvent
	f := guest.MustRequest("state:tempo-change", map[string]any{"tempo": 96.5}, "state:tempo-change")
	f.Decode(t, &reply)
	if reply.Tempo != 96.5 || reply.Version != 2 || reply.By != wg.You.ID {
		t.Errorf("reply = %+v", reply)
	}
	ev := host.ExpectType("state:tempo-change")
	ev.Decode(t, &event)
	if ev.Re != "" || event != reply {
		t.Errorf("event to the room = %+v re=%q, want %+v without re", event, ev.Re, reply)
	}
	guest.ExpectNone("state:tempo-change", 50*time.Millisecond) // the sender gets the reply only

	for _, bad := range []any{19.9, 300.1, -1, 0, 1e308} {
		guest.MustError("state:tempo-change", map[string]any{"tempo": bad}, "invalid_tempo")
	}
	guest.MustError("state:tempo-change", map[string]any{}, "invalid_tempo")
	guest.MustError("state:tempo-change", map[string]any{"tempo": "fast"}, "invalid_message")
	if _, st := guest.Sync(); st.Tempo != 96.5 || st.Version != 2 {
		t.Errorf("bad tempos changed the state: %+v", st)
	}
	for _, ok := range []float64{20, 300} {
		guest.MustRequest("state:tempo-change", map[string]any{"tempo": ok}, "state:tempo-change")
	}
}

func TestKeyChange(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, _ := MustRoom(t, ts)
	var reply struct {
		Key, Scale string
		Version    int64
		By         string
	}
	host.MustRequest("state:key-change", map[string]any{"key": "F#", "scale": "minor"}, "state:key-change").Decode(t, &reply)
	if reply.Key != "F#" || reply.Scale != "minor" || reply.Version != 2 || reply.By != w.You.ID {
		t.Errorf("reply = %+v", reply)
	}
	guest.ExpectType("state:key-change")
	for _, bad := range []map[string]any{
		{"key": "H", "scale": "major"}, {"key": "C", "scale": "klingon"}, {"key": "c", "scale": "major"}, {"key": "C"}, {},
	} {
		guest.MustError("state:key-change", bad, "invalid_key")
	}
	if _, st := guest.Sync(); st.Key != "F#" || st.Scale != "minor" || st.Version != 2 {
		t.Errorf("state after bad keys: %+v", st)
	}
}

func TestPlaybackControl(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, _, _ := MustRoom(t, ts)

	guest.MustError("state:playback-control", map[string]any{"isPlaying": true}, "forbidden")
	host.MustError("state:playback-control", map[string]any{}, "invalid_message")

	type playEvent struct {
		IsPlaying bool
		Anchor    Anchor
		Version   int64
		By        string
	}
	sent := serverNow()
	var play playEvent
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control").Decode(t, &play)
	if !play.IsPlaying || play.Anchor.Beat != 0 || play.Anchor.ServerTime < sent+300 || play.Version != 2 {
		t.Errorf("play = %+v (sent at %v): want beat 0 at least 300 ms ahead", play, sent)
	}
	var heard playEvent
	guest.ExpectType("state:playback-control").Decode(t, &heard)
	if heard != play {
		t.Errorf("guest heard %+v, want %+v", heard, play)
	}

	// A tempo change while playing lands on the first whole beat at least 300 ms ahead, where
	// the old tempo's count reaches it: the count never jumps.
	time.Sleep(time.Until(time.UnixMicro(int64(play.Anchor.ServerTime*1000) + 300_000)))
	var tc struct {
		Tempo  float64
		Anchor Anchor
	}
	sent = serverNow()
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 60}, "state:tempo-change").Decode(t, &tc)
	oldBeat := play.Anchor.Beat + (tc.Anchor.ServerTime-play.Anchor.ServerTime)*120/60000
	if diff := tc.Anchor.Beat - oldBeat; diff < -1e-6 || diff > 1e-6 || tc.Anchor.Beat < 1 ||
		tc.Anchor.Beat != math.Round(tc.Anchor.Beat) || tc.Anchor.ServerTime < sent+300 || tc.Anchor.TempoBefore != 120 {
		t.Errorf("re-anchored at %+v (sent at %v), the old tempo gives beat %v there", tc.Anchor, sent, oldBeat)
	}
	_, st := guest.Sync()
	if !st.IsPlaying || st.CurrentStep < 0 || st.CurrentStep > 15 {
		t.Errorf("synced state while playing: %+v", st)
	}

	// Play while playing is accepted and changes only the version.
	var again playEvent
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control").Decode(t, &again)
	if again.Anchor != tc.Anchor || again.Version != 4 || !again.IsPlaying {
		t.Errorf("play while playing = %+v, want the anchor %+v kept", again, tc.Anchor)
	}

	var stop playEvent
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": false}, "state:playback-control").Decode(t, &stop)
	if stop.IsPlaying || stop.Version != 5 {
		t.Errorf("stop = %+v", stop)
	}
	// Stop lands on a step at least 300 ms ahead, on the running count: the old anchor's count
	// at stop.Anchor.ServerTime (at 120 BPM before the tempo change lands, 60 after).
	tempo := 60.0
	if stop.Anchor.ServerTime < tc.Anchor.ServerTime {
		tempo = 120
	}
	wantBeat := tc.Anchor.Beat + (stop.Anchor.ServerTime-tc.Anchor.ServerTime)*tempo/60000
	if stop.Anchor.TempoBefore != tempo {
		t.Errorf("stop's tempoBefore = %v, want %v", stop.Anchor.TempoBefore, tempo)
	}
	if d := stop.Anchor.Beat - wantBeat; d < -1e-6 || d > 1e-6 || stop.Anchor.Beat*4 != math.Round(stop.Anchor.Beat*4) {
		t.Errorf("stopped at beat %v, want %v on a step", stop.Anchor.Beat, wantBeat)
	}
	time.Sleep(time.Until(time.UnixMicro(int64(stop.Anchor.ServerTime * 1000))))
	if _, st := guest.Sync(); st.IsPlaying || st.CurrentStep != 0 {
		t.Errorf("stopped state: %+v", st)
	}
}

func TestTempoDuringCountInKeepsAnchor(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, _, _, _ := MustRoom(t, ts)
	var play, tc struct{ Anchor Anchor }
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control").Decode(t, &play)
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 90}, "state:tempo-change").Decode(t, &tc)
	if serverNow()+300 < play.Anchor.ServerTime && tc.Anchor != play.Anchor {
		t.Errorf("a tempo change in the count-in moved the anchor from %+v to %+v", play.Anchor, tc.Anchor)
	}
}

func TestPattern(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, _, wg := MustRoom(t, ts)
	var set struct {
		Track   string
		Step    int
		On      bool
		Version int64
		By      string
	}
	guest.MustRequest("pattern:set-step", map[string]any{"track": "snare", "step": 4, "on": true}, "pattern:set-step").Decode(t, &set)
	if set.Track != "snare" || set.Step != 4 || !set.On || set.Version != 2 || set.By != wg.You.ID {
		t.Errorf("set-step reply = %+v", set)
	}
	host.ExpectType("pattern:set-step")
	host.MustRequest("pattern:set-step", map[string]any{"track": "kick", "step": 15, "on": true}, "pattern:set-step")
	guest.ExpectType("pattern:set-step")
	_, st := guest.Sync()
	if !st.Pattern["snare"][4] || !st.Pattern["kick"][15] || st.Pattern["kick"][0] || st.Version != 3 {
		t.Errorf("pattern after two steps: %+v", st)
	}
	for _, bad := range []map[string]any{
		{"track": "cowbell", "step": 1, "on": true}, {"track": "kick", "step": 16, "on": true},
		{"track": "kick", "step": -1, "on": true}, {"track": "kick", "step": 1.5, "on": true}, {"track": "kick", "on": true},
	} {
		guest.MustError("pattern:set-step", bad, "invalid_pattern")
	}
	guest.MustError("pattern:set-step", map[string]any{"track": "kick", "step": 1}, "invalid_message")

	var clr struct {
		Version int64
		By      string
	}
	host.MustRequest("pattern:clear", nil, "pattern:clear").Decode(t, &clr)
	guest.ExpectType("pattern:clear")
	if _, st := guest.Sync(); st.Pattern["snare"][4] || st.Pattern["kick"][15] || st.Version != 4 || clr.Version != 4 {
		t.Errorf("after clear: %+v", st)
	}
}

func TestRequestSync(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host, guest, w, wg := MustRoom(t, ts)
	host.MustRequest("state:key-change", map[string]any{"key": "Bb", "scale": "blues"}, "state:key-change")
	var d struct {
		RoomCode     string
		Participants []Participant
		State        State
	}
	guest.MustRequest("state:request-sync", nil, "state:sync").Decode(t, &d)
	if d.RoomCode != w.RoomCode || len(d.Participants) != 2 || d.Participants[1].ID != wg.You.ID ||
		d.State.Key != "Bb" || d.State.Scale != "blues" || d.State.Version != 2 {
		t.Errorf("sync = %+v", d)
	}
}

func TestClockPing(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	c := ts.Dial(t) // works outside a session too
	for _, t0 := range []string{`1732583000123.25`, `"abc"`, `-1e3`, `"<a&b>"`, `"\udc00 lone"`} {
		c.SendRaw(`{"type":"clock:ping","id":"p","data":{"t0":` + t0 + `}}`)
		f := c.ExpectType("clock:pong")
		var d struct {
			T0         jsonRaw `json:"t0"`
			ServerTime float64 `json:"serverTime"`
		}
		f.Decode(t, &d)
		if string(d.T0) != t0 || f.Re != "p" {
			t.Errorf("pong t0 = %s, want %s echoed as sent", d.T0, t0)
		}
		if now := serverNow(); d.ServerTime < now-float64(wait.Milliseconds()) || d.ServerTime > now {
			t.Errorf("serverTime %v is not now (%v)", d.ServerTime, now)
		}
	}
	c.MustError("clock:ping", map[string]any{}, "invalid_message")
	// t0 is echoed, so it must be a short number or string: nothing to reflect at others.
	for _, t0 := range []string{`{"x": [1, 2]}`, `[1]`, `true`, `null`, `"` + strings.Repeat("a", 64) + `"`} {
		c.SendRaw(`{"type":"clock:ping","id":"bad","data":{"t0":` + t0 + `}}`)
		var e ErrorData
		c.Expect(func(f Frame) bool { return f.Re == "bad" }, "the answer to a bad t0").Decode(t, &e)
		if e.Code != "invalid_message" && !(t0 == "null" && e.Code == "invalid_message") {
			t.Errorf("t0 %s: %+v, want invalid_message", t0, e)
		}
	}

	// A request without an id is answered without "re"; ids count characters, not bytes.
	c.SendRaw(`{"type":"clock:ping","data":{"t0":1}}`)
	if f := c.ExpectType("clock:pong"); f.Re != "" {
		t.Errorf("answer to a request without id has re %q", f.Re)
	}
	id := strings.Repeat("é", 64)
	c.SendRaw(`{"type":"clock:ping","id":"` + id + `","data":{"t0":1}}`)
	if f := c.ExpectType("clock:pong"); f.Re != id {
		t.Errorf("a 64-character id came back as %q", f.Re)
	}
	c.SendRaw(`{"type":"clock:ping","id":"` + id + `x","data":{"t0":1}}`)
	var e ErrorData
	c.ExpectType("error").Decode(t, &e)
	if e.Code != "invalid_message" {
		t.Errorf("a 65-character id: %s", e.Code)
	}
}

func TestRequestRateLimit(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxConnectionsPerDevice: appliance.DefaultMaxConnectionsPerDevice})
	c := ts.Dial(t)
	for range 250 { // past the device's burst of 200
		c.SendRaw(`{"type":"clock:ping","data":{"t0":1}}`)
	}
	var e ErrorData
	c.ExpectType("error").Decode(t, &e)
	if e.Code != "rate_limited" {
		t.Errorf("a flood of requests: %s, want rate_limited", e.Code)
	}
	time.Sleep(200 * time.Millisecond) // the budget refills
	c.MustRequest("clock:ping", map[string]any{"t0": 2}, "clock:pong")
}

type jsonRaw []byte

func (j *jsonRaw) UnmarshalJSON(b []byte) error { *j = append((*j)[:0], b...); return nil }

func TestErrorsLeaveConnectionUsable(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxParticipants: 2})
	c := ts.Dial(t)

	// Garbage and malformed frames: each answered, connection still open (a valid request now
	// and then: ten invalid frames in a row close it).
	for i, frame := range []string{`not json`, `[]`, `"x"`, `{}`, `{"type": 7}`, `{"type": ""}`, `{"type":"session:create","data":[1]}`,
		`{"type":"session:create","data":{"userName":5}}`, `{"type":"session:create","id":5,"data":{"userName":"x"}}`, `{"type":"x"`} {
		c.SendRaw(frame)
		var e ErrorData
		c.ExpectType("error").Decode(t, &e)
		if e.Code != "invalid_message" {
			t.Errorf("%s: code %s, want invalid_message", frame, e.Code)
		}
		if i%4 == 3 {
			c.MustRequest("clock:ping", map[string]any{"t0": i}, "clock:pong")
		}
	}
	if err := c.Conn.WriteMessage(2 /* binary */, []byte(`{"type":"clock:ping"}`)); err != nil {
		t.Fatal(err)
	}
	var e ErrorData
	c.ExpectType("error").Decode(t, &e)
	if e.Code != "invalid_message" {
		t.Errorf("binary frame: %s", e.Code)
	}
	c.MustError("session:dance", nil, "unknown_type")

	for _, typ := range []string{"session:leave", "state:tempo-change", "state:key-change", "state:playback-control", "state:request-sync", "pattern:set-step", "pattern:clear"} {
		data := map[string]any{"tempo": 100, "key": "C", "scale": "major", "isPlaying": true, "track": "kick", "step": 0, "on": true}
		c.MustError(typ, data, "not_in_session")
	}
	for _, name := range []string{"", "   ", "tab\there", "a\u0000b", "123456789012345678901234567890123", "\u200b\u200b", "Ana\u202eevil"} {
		c.MustError("session:create", map[string]any{"userName": name}, "invalid_name")
	}
	ts.Dial(t).MustCreate("Zoë 🥁👨‍👩‍👧")
	c.MustRequest("session:create", map[string]any{"userName": "12345678901234567890123456789012"}, "session:created")
	c.MustError("session:create", map[string]any{"userName": "Ana"}, "already_in_session")
	c.MustError("session:join", map[string]any{"roomCode": "ABCDEF", "userName": "Ana"}, "already_in_session")

	d := ts.Dial(t)
	for _, code := range []string{"", "ABCDE", "ABCDEFG", "ABC-EF", "ÄBCDEF"} {
		d.MustError("session:join", map[string]any{"roomCode": code, "userName": "Bo"}, "invalid_room_code")
	}
	d.MustError("session:join", map[string]any{"roomCode": "ZZZZZZ", "userName": "Bo"}, "room_not_found")
	_, st := c.Sync()
	code := c.Request("state:request-sync", nil)
	var sync struct{ RoomCode string }
	code.Decode(t, &sync)
	d.MustError("session:join", map[string]any{"roomCode": sync.RoomCode, "userName": ""}, "invalid_name")
	d.MustJoin(sync.RoomCode, "Bo")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": sync.RoomCode, "userName": "Cy"}, "room_full")

	// None of it changed the session.
	ps, st2 := c.Sync()
	if st2.Version != st.Version || len(ps) != 2 {
		t.Errorf("errors changed the session: %+v %+v", ps, st2)
	}
}

func TestCreateRateLimit(t *testing.T) {
	ts := MustServer(t, appliance.Config{CreateRateLimit: 3, AdminToken: "s3cret"})
	for i := range 3 {
		c := ts.Dial(t)
		c.MustCreate("Ana")
		_ = i
	}
	c := ts.Dial(t)
	c.MustError("session:create", map[string]any{"userName": "Ana"}, "rate_limited")
	var s appliance.Stats
	GetJSON(t, ts.URL+"/api/stats", http.Header{"Authorization": {"Bearer s3cret"}}, &s)
	if s.SessionsCreated != 3 || s.ActiveSessions != 3 {
		t.Errorf("stats after the limit: %+v", s)
	}
}
