package appliance_test

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"jamd/appliance"
)

// fakeLinker stands in for an Ableton Link peer: the appliance's side of the bridge is tested
// here, and the real peer against Ableton's own in discovery/link and cmd/jamd. Its session is
// a bar grid (Bar, Tempo) that SetTempo and ForceBeat move as Link's would, with tempos rounded
// to whole µs per beat as Link's wire does.
type fakeLinker struct {
	mu      sync.Mutex
	st      appliance.LinkState
	changed func()
	links   int // peers started
	closes  int // peers closed
	calls   []string
	tempos  []float64 // tempos the room set
	playing []float64 // times of the room's starts and stops
}

func (f *fakeLinker) Link(now func() time.Time, tempo float64, changed func()) (appliance.LinkPeer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links++
	f.changed = changed
	f.st = appliance.LinkState{Tempo: tempo, Bar: float64(now().UnixMicro()) / 1000}
	return f, nil
}

func (f *fakeLinker) State() appliance.LinkState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeLinker) beatAt(t float64) float64 { return (t - f.st.Bar) * f.st.Tempo / 60000 }

func wire(bpm float64) float64 { return 60e6 / math.Round(60e6/bpm) }

func (f *fakeLinker) SetTempo(bpm, at float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.beatAt(at)
	f.st.Tempo = wire(bpm)
	f.st.Bar = at - b*60000/f.st.Tempo
	f.calls = append(f.calls, "tempo")
	f.tempos = append(f.tempos, bpm)
}

func (f *fakeLinker) ForceBeat(beat, at float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Bar = at - beat*60000/f.st.Tempo
	f.calls = append(f.calls, "force")
}

func (f *fakeLinker) SetPlaying(playing bool, at float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Playing = playing
	f.calls = append(f.calls, "playing")
	f.playing = append(f.playing, at)
}

func (f *fakeLinker) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	f.calls = append(f.calls, "close")
}

// others changes the session as another Link app would, and reports it.
func (f *fakeLinker) others(edit func(st *appliance.LinkState)) {
	f.mu.Lock()
	edit(&f.st)
	changed := f.changed
	f.mu.Unlock()
	changed()
}

func (f *fakeLinker) snapshot() (calls []string, tempos []float64, links, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]float64(nil), f.tempos...), f.links, f.closes
}

// linkedRoom is a room with a host and a guest, linked to a fake Link session.
func linkedRoom(t *testing.T) (*fakeLinker, *TestServer, *Client, *Client, Welcome) {
	t.Helper()
	f := &fakeLinker{}
	ts := MustServer(t, appliance.Config{Linker: f})
	host, guest := ts.Dial(t), ts.Dial(t)
	w := host.MustCreate("Ana")
	guest.MustJoin(w.RoomCode, "Ben")
	host.ExpectType("session:user-joined")
	var ev struct {
		Enabled bool   `json:"enabled"`
		Peers   int    `json:"peers"`
		Version int64  `json:"version"`
		By      string `json:"by"`
	}
	host.MustRequest("state:link-control", map[string]any{"enabled": true}, "state:link-control").Decode(t, &ev)
	if !ev.Enabled || ev.Peers != 0 || ev.Version != w.State.Version+1 || ev.By != w.You.ID {
		t.Fatalf("link-control reply %+v", ev)
	}
	guest.ExpectType("state:link-control").Decode(t, &ev)
	if !ev.Enabled || ev.By != w.You.ID {
		t.Fatalf("link-control event %+v", ev)
	}
	return f, ts, host, guest, w
}

type changeEvent struct {
	Tempo     float64 `json:"tempo"`
	IsPlaying bool    `json:"isPlaying"`
	Anchor    Anchor  `json:"anchor"`
	Version   int64   `json:"version"`
	By        string  `json:"by"`
}

func expectChange(t *testing.T, c *Client, typ string) changeEvent {
	t.Helper()
	var e changeEvent
	c.ExpectType(typ).Decode(t, &e)
	return e
}

// roomBeat is the room's beat at server time t by the anchor, as a phone computes it.
func roomBeat(tempo float64, a Anchor, t float64) float64 {
	before := tempo
	if a.TempoBefore > 0 && t < a.ServerTime {
		before = a.TempoBefore
	}
	if t < a.ServerTime {
		return a.Beat + (t-a.ServerTime)*before/60000
	}
	return a.Beat + (t-a.ServerTime)*tempo/60000
}

func phaseOff(a, b float64) float64 {
	d := math.Mod(a-b, 4)
	if d >= 2 {
		d -= 4
	} else if d < -2 {
		d += 4
	}
	return d
}

func TestLinkControlIsTheHosts(t *testing.T) {
	f, ts, host, guest, w := linkedRoom(t)
	_, st := guest.Sync()
	if !st.Link.Enabled || st.Link.Peers != 0 {
		t.Fatalf("guest sees link %+v, want enabled", st.Link)
	}
	guest.MustError("state:link-control", map[string]any{"enabled": false}, "forbidden")
	guest.MustError("state:link-control", map[string]any{}, "invalid_message")

	// A second room cannot link while this one is, and is not told which room is.
	other := ts.Dial(t)
	ow := other.MustCreate("Cleo")
	e := other.MustError("state:link-control", map[string]any{"enabled": true}, "link_in_use")
	if strings.Contains(e.Message, w.RoomCode) {
		t.Errorf("link_in_use names the other room: %q", e.Message)
	}
	if _, _, links, _ := f.snapshot(); links != 1 {
		t.Errorf("%d peers started, want 1", links)
	}

	// Unlinking says goodbye; then the other room may link.
	host.MustRequest("state:link-control", map[string]any{"enabled": false}, "state:link-control")
	guest.ExpectType("state:link-control")
	if _, _, _, closes := f.snapshot(); closes != 1 {
		t.Fatalf("%d peers closed after unlinking, want 1", closes)
	}
	other.MustRequest("state:link-control", map[string]any{"enabled": true}, "state:link-control")
	if _, st := other.Sync(); !st.Link.Enabled || st.Version != ow.State.Version+1 {
		t.Fatalf("other room after linking: %+v", st)
	}
}

func TestLinkOff(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host := ts.Dial(t)
	host.MustCreate("Ana")
	host.MustError("state:link-control", map[string]any{"enabled": true}, "link_off")
	if _, st := host.Sync(); st.Link.Enabled {
		t.Fatal("a room shows linked with Link off")
	}
}

func TestLinkPeersAndTempoByLink(t *testing.T) {
	f, _, host, guest, w := linkedRoom(t)
	version := w.State.Version + 1

	// The count of Link apps is an event, not a change of state.
	f.others(func(st *appliance.LinkState) { st.Peers = 2 })
	for _, c := range []*Client{host, guest} {
		var d struct{ Peers int }
		c.ExpectType("state:link-peers").Decode(t, &d)
		if d.Peers != 2 {
			t.Fatalf("link-peers %d, want 2", d.Peers)
		}
	}
	if _, st := guest.Sync(); st.Link.Peers != 2 || st.Version != version {
		t.Fatalf("after link-peers: link %+v, version %d (want %d)", st.Link, st.Version, version)
	}

	// Another app sets the tempo: the room follows, committed and versioned, by "link".
	f.others(func(st *appliance.LinkState) { st.Tempo = wire(96) })
	for _, c := range []*Client{host, guest} {
		e := expectChange(t, c, "state:tempo-change")
		if e.By != "link" || e.Version != version+1 || math.Abs(e.Tempo-96) > 1e-3 {
			t.Fatalf("tempo-change by link: %+v", e)
		}
	}
	version++
	if _, st := host.Sync(); math.Abs(st.Tempo-96) > 1e-3 || st.Version != version {
		t.Fatalf("state after Link's tempo: %+v", st)
	}

	// A phone sets 88: Link gets it and comes back with 88.000023, which is no change by link.
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 88}, "state:tempo-change")
	guest.ExpectType("state:tempo-change")
	version++
	f.others(func(st *appliance.LinkState) { st.Peers = 3 }) // any report makes the room look
	guest.ExpectType("state:link-peers")
	if got := f.State().Tempo; got == 88 || math.Abs(got-88) > 1e-4 {
		t.Fatalf("Link's tempo %v, want 88 as the wire carries it", got)
	}
	if _, tempos, _, _ := f.snapshot(); len(tempos) == 0 || tempos[len(tempos)-1] != 88 {
		t.Fatalf("the room set Link's tempo to %v, want 88 last", tempos)
	}
	guest.ExpectNone("state:tempo-change", 200*time.Millisecond)
	if _, st := guest.Sync(); st.Tempo != 88 || st.Version != version {
		t.Fatalf("after the echo: tempo %v version %d, want 88 and %d", st.Tempo, st.Version, version)
	}

	// Beyond the room's 300 BPM: clamped, and the clamped tempo goes back to Link.
	f.others(func(st *appliance.LinkState) { st.Tempo = 400 })
	if e := expectChange(t, guest, "state:tempo-change"); e.Tempo != 300 || e.By != "link" {
		t.Fatalf("tempo-change for Link's 400: %+v", e)
	}
	if got := f.State().Tempo; math.Abs(got-300) > 1e-3 {
		t.Fatalf("Link's tempo %v after clamping, want 300", got)
	}
	guest.ExpectNone("state:tempo-change", 200*time.Millisecond)

	// Garbage from the session changes nothing but what is valid.
	f.others(func(st *appliance.LinkState) { st.Tempo, st.Peers = math.NaN(), 1 })
	guest.ExpectType("state:link-peers")
	guest.ExpectNone("state:tempo-change", 200*time.Millisecond)
}

func TestLinkStartStopAndPhase(t *testing.T) {
	f, _, host, guest, _ := linkedRoom(t)
	f.others(func(st *appliance.LinkState) { st.Peers = 1; st.Bar += 123.4 }) // a session with its own phase
	guest.ExpectType("state:link-peers")

	// Link starts: the room plays beat 0 on a Link bar line at least ChangeLead away, though
	// only the host may press Play in this room.
	startedAt := serverNow()
	f.others(func(st *appliance.LinkState) { st.Playing = true })
	e := expectChange(t, guest, "state:playback-control")
	if !e.IsPlaying || e.By != "link" || e.Anchor.Beat != 0 {
		t.Fatalf("playback by link: %+v", e)
	}
	ls := f.State()
	if lead := e.Anchor.ServerTime - startedAt; lead < float64(appliance.ChangeLead.Milliseconds()) || lead > 300+60000*4/ls.Tempo+50 {
		t.Errorf("start lands %v ms ahead", lead)
	}
	if d := phaseOff(0, (e.Anchor.ServerTime-ls.Bar)*ls.Tempo/60000); math.Abs(d) > 1e-6 {
		t.Errorf("beat 0 is %v beats off a Link bar line", d)
	}
	host.ExpectType("state:playback-control")

	// Link changes tempo while playing: the room lands it on a beat, then agrees with Link's
	// phase from there on.
	f.others(func(st *appliance.LinkState) {
		at := serverNow()
		b := (at - st.Bar) * st.Tempo / 60000
		st.Tempo = wire(133)
		st.Bar = at - b*60000/st.Tempo
	})
	e = expectChange(t, guest, "state:tempo-change")
	ls = f.State()
	for _, dt := range []float64{0, 777, 5000} {
		tt := e.Anchor.ServerTime + dt
		if d := phaseOff(roomBeat(e.Tempo, e.Anchor, tt), (tt-ls.Bar)*ls.Tempo/60000); math.Abs(d)*60000/ls.Tempo > 0.01 {
			t.Errorf("%v ms after the change, the room is %v ms off Link's phase", dt, d*60000/ls.Tempo)
		}
	}

	// A phone's tempo change while playing lands on the room's beat; Link's phase agrees after it.
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 100}, "state:tempo-change").Decode(t, &e)
	guest.ExpectType("state:tempo-change")
	ls = f.State()
	for _, dt := range []float64{0, 1234, 9000} {
		tt := e.Anchor.ServerTime + dt
		if d := phaseOff(roomBeat(e.Tempo, e.Anchor, tt), (tt-ls.Bar)*ls.Tempo/60000); math.Abs(d)*60000/ls.Tempo > 0.01 {
			t.Errorf("%v ms after the phone's change, Link is %v ms off the room's phase", dt, d*60000/ls.Tempo)
		}
	}

	// Link stops: the room stops on a step, by link. Every Link app leaving changes nothing.
	f.others(func(st *appliance.LinkState) { st.Playing = false })
	if e := expectChange(t, guest, "state:playback-control"); e.IsPlaying || e.By != "link" {
		t.Fatalf("stop by link: %+v", e)
	}
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control").Decode(t, &e)
	guest.ExpectType("state:playback-control")
	ls = f.State()
	if !ls.Playing || math.Abs(phaseOff(0, (e.Anchor.ServerTime-ls.Bar)*ls.Tempo/60000)) > 1e-6 {
		t.Fatalf("the host's Play: Link playing %v, beat 0 at %v, bar %v", ls.Playing, e.Anchor.ServerTime, ls.Bar)
	}
	f.others(func(st *appliance.LinkState) { st.Peers = 0 })
	guest.ExpectType("state:link-peers")
	guest.ExpectNone("state:playback-control", 200*time.Millisecond)
	if _, st := guest.Sync(); !st.IsPlaying {
		t.Fatal("the room stopped when the Link apps left")
	}
}

// A room linked while playing gives its beat to the new, empty Link session.
func TestLinkWhilePlaying(t *testing.T) {
	f := &fakeLinker{}
	ts := MustServer(t, appliance.Config{Linker: f})
	host := ts.Dial(t)
	host.MustCreate("Ana")
	var e changeEvent
	host.MustRequest("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control").Decode(t, &e)
	host.MustRequest("state:link-control", map[string]any{"enabled": true}, "state:link-control")
	ls := f.State()
	if !ls.Playing {
		t.Fatal("Link is not playing with the room")
	}
	for _, tt := range []float64{e.Anchor.ServerTime, serverNow() + 3000} {
		if d := phaseOff(roomBeat(120, e.Anchor, tt), (tt-ls.Bar)*ls.Tempo/60000); math.Abs(d) > 1e-5 {
			t.Errorf("Link is %v beats off the room's phase", d)
		}
	}
}

// A restart keeps the room linked.
func TestLinkSurvivesARestart(t *testing.T) {
	f := &fakeLinker{}
	dir := t.TempDir()
	ts := MustServerAt(t, appliance.Config{Linker: f}, dir, nil)
	host := ts.Dial(t)
	w := host.MustCreate("Ana")
	host.MustRequest("state:link-control", map[string]any{"enabled": true}, "state:link-control")
	ts.Close(t)
	if _, _, links, closes := f.snapshot(); links != 1 || closes != 1 {
		t.Fatalf("before the restart: %d peers started, %d closed; want 1 and 1", links, closes)
	}
	ts = MustServerAt(t, appliance.Config{Linker: f}, dir, nil)
	if _, _, links, _ := f.snapshot(); links != 2 {
		t.Fatalf("after the restart: %d peers started, want 2", links)
	}
	c := ts.Dial(t)
	var joined Welcome
	c.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Ana", "resumeToken": w.ResumeToken}, "session:joined").Decode(t, &joined)
	if !joined.State.Link.Enabled {
		t.Fatal("the room is not linked after a restart")
	}
}
