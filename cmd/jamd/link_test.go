package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/discovery/link/linktest"
)

// linkState is what the test client knows of the room's timeline, from the events it got.
type linkState struct {
	Tempo     float64 `json:"tempo"`
	IsPlaying bool    `json:"isPlaying"`
	Anchor    struct {
		ServerTime  float64 `json:"serverTime"`
		Beat        float64 `json:"beat"`
		TempoBefore float64 `json:"tempoBefore"`
	} `json:"anchor"`
	Version int64  `json:"version"`
	By      string `json:"by"`
	Peers   int    `json:"peers"`
	Enabled bool   `json:"enabled"`
}

// beatAt is the room's beat at server time t (ms), as a phone computes it (docs/protocol.md).
func (s linkState) beatAt(t float64) float64 {
	a := s.Anchor
	switch {
	case t < a.ServerTime && a.TempoBefore > 0:
		return a.Beat + (t-a.ServerTime)*a.TempoBefore/60000
	case t < a.ServerTime || s.IsPlaying:
		return a.Beat + (t-a.ServerTime)*s.Tempo/60000
	}
	return a.Beat
}

// rawClock maps the test client's frame timestamps (time.Time) onto CLOCK_MONOTONIC_RAW, and
// jamd's server clock (ms since the epoch) onto it too, from clock:ping.
type rawClock struct {
	at0  time.Time
	raw0 time.Duration
	// serverMs - rawMs: the server time of raw time 0.
	offset float64
}

func (rc rawClock) raw(t time.Time) time.Duration { return rc.raw0 + t.Sub(rc.at0) }

func (rc rawClock) server(raw time.Duration) float64 {
	return float64(raw.Microseconds())/1000 + rc.offset
}

// syncClock measures jamd's server clock against CLOCK_MONOTONIC_RAW with clock:ping as a phone
// does, keeping the sample with the shortest round trip.
func syncClock(t *testing.T, c *benchClient) rawClock {
	rc := rawClock{at0: time.Now(), raw0: linktest.Clock()}
	best := time.Hour
	for i := range 50 {
		sent := linktest.Clock()
		f := c.request("clock:ping", fmt.Sprintf(`{"t0":%d}`, i))
		var d struct {
			ServerTime float64 `json:"serverTime"`
		}
		_ = json.Unmarshal(f.Data, &d)
		got := rc.raw(f.at)
		if rtt := got - sent; rtt < best {
			best = rtt
			rc.offset = d.ServerTime - float64((sent+got)/2)/1e6
		}
	}
	t.Logf("clock mapping: jamd server ms = CLOCK_MONOTONIC_RAW µs / 1000 + %.3f (best round trip %v of 50 clock:pings)", rc.offset, best)
	return rc
}

// phaseGap samples the room's beat (from its anchor, on the mapped clock) and the reference
// peer's at the same instants and returns the largest difference of phase (quantum 4), in ms.
func phaseGap(t *testing.T, ref *linktest.Proc, rc rawClock, st linkState, from time.Duration, samples int) time.Duration {
	var worst float64
	for i := range samples {
		at := from + time.Duration(i)*97*time.Millisecond
		s := ref.Status(at.Microseconds())
		d := math.Mod(st.beatAt(rc.server(at))-s.Beat, 4)
		if d >= 2 {
			d -= 4
		} else if d < -2 {
			d += 4
		}
		worst = max(worst, math.Abs(d)*60000/st.Tempo)
	}
	return time.Duration(worst * float64(time.Millisecond))
}

// TestLinkAgainstReference: `jamd serve` in namespace A links a room, Ableton's own Link peer
// runs in B. Each sees the other; tempo and start/stop travel both ways; the room's beat (as a
// phone computes it from the anchor) and the reference peer's agree in phase; unlinking says
// goodbye at once.
func TestLinkAgainstReference(t *testing.T) {
	lan := linktest.NewLAN(t)
	ref := linktest.StartRef(t, lan, lan.NSB, "ref")
	bin := buildJamd(t)
	const port = 18090
	_, _, logs, _ := startServeIn(t, lan, lan.NSA, bin, t.TempDir(), "--addr", fmt.Sprintf(":%d", port), "--no-mdns")
	if _, ok := logs.wait("jamd listening", 20*time.Second); !ok {
		t.Fatal("jamd serve did not start")
	}
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
		return lan.Dial(lan.NSA, network, addr)
	}}
	c := benchDialWith(t, d, "http://127.0.0.1:"+strconv.Itoa(port))
	defer c.conn.Close()
	c.request("session:create", `{"userName":"Ana"}`)
	rc := syncClock(t, c)

	start := time.Now()
	var st linkState
	decode := func(f timedFrame) linkState {
		var s linkState
		if err := json.Unmarshal(f.Data, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if l := decode(c.request("state:link-control", `{"enabled":true}`)); !l.Enabled {
		t.Fatalf("link-control answered %+v", l)
	}
	if _, ok := ref.EventAt(0, 10*time.Second, "peers", "1"); !ok {
		t.Fatal("the reference peer never saw jamd")
	}
	if p := decode(c.waitType("state:link-peers")); p.Peers != 1 {
		t.Fatalf("state:link-peers %+v, want 1", p)
	}
	t.Logf("linked: the reference peer and the room see one peer %v after link-control", time.Since(start).Round(time.Millisecond))
	st.Tempo = 120

	// Tempo, room to Link.
	n := ref.Mark()
	sent := linktest.Clock()
	st = decode(c.request("state:tempo-change", `{"tempo":133}`))
	at, ok := ref.EventAt(n, time.Second, "tempo")
	if !ok {
		t.Fatalf("tempo 133 never reached the reference peer: %+v", ref.Status(0))
	}
	t.Logf("tempo change, room -> reference peer: %v", time.Duration(at)*time.Microsecond-sent)
	if s := ref.Status(0); math.Abs(s.Tempo-133) > 0.001 {
		t.Errorf("reference tempo %v, want 133", s.Tempo)
	}

	// Tempo, Link to room, by "link".
	setAt := time.Duration(ref.SetAt("tempo 88")) * time.Microsecond
	f := c.waitType("state:tempo-change")
	if st = decode(f); st.By != "link" || math.Abs(st.Tempo-88) > 0.001 {
		t.Fatalf("tempo-change from Link: %+v", st)
	}
	t.Logf("tempo change, reference peer -> room: %v", rc.raw(f.at)-setAt)

	// Start/stop: the room's Play reaches Link; Link's stop and start reach the room.
	n = ref.Mark()
	sent = linktest.Clock()
	st2 := decode(c.request("state:playback-control", `{"isPlaying":true}`))
	st.IsPlaying, st.Anchor = st2.IsPlaying, st2.Anchor
	if at, ok = ref.EventAt(n, time.Second, "playing", "1"); !ok {
		t.Fatal("the room's Play never reached the reference peer")
	}
	t.Logf("start, room -> reference peer: %v", time.Duration(at)*time.Microsecond-sent)
	anchorRaw := time.Duration((st.Anchor.ServerTime - rc.offset) * 1e3 * float64(time.Microsecond))
	gap := phaseGap(t, ref, rc, st, max(anchorRaw, linktest.Clock()), 20)
	t.Logf("phase, room (as a phone computes it) vs reference peer, after the room's Play: %v (20 samples, quantum 4)", gap)
	if gap > time.Millisecond {
		t.Errorf("phase error %v, want within 1 ms", gap)
	}

	setAt = time.Duration(ref.SetAt("stop")) * time.Microsecond
	f = c.waitType("state:playback-control")
	if s := decode(f); s.IsPlaying || s.By != "link" {
		t.Fatalf("stop from Link: %+v", s)
	}
	t.Logf("stop, reference peer -> room: %v", rc.raw(f.at)-setAt)
	setAt = time.Duration(ref.SetAt("play")) * time.Microsecond
	f = c.waitType("state:playback-control")
	s := decode(f)
	if !s.IsPlaying || s.By != "link" || s.Anchor.Beat != 0 {
		t.Fatalf("start from Link: %+v", s)
	}
	st.IsPlaying, st.Anchor = true, s.Anchor
	t.Logf("start, reference peer -> room: %v; beat 0 lands %.0f ms later", rc.raw(f.at)-setAt, s.Anchor.ServerTime-rc.server(rc.raw(f.at)))
	anchorRaw = time.Duration((st.Anchor.ServerTime - rc.offset) * 1e3 * float64(time.Microsecond))
	if gap = phaseGap(t, ref, rc, st, max(anchorRaw, linktest.Clock()), 20); gap > time.Millisecond {
		t.Errorf("phase error after Link's start %v, want within 1 ms", gap)
	} else {
		t.Logf("phase, room vs reference peer, after Link's start: %v", gap)
	}

	// A tempo change from Link while playing: the room lands it on a beat in Link's phase.
	ref.SetAt("tempo 101")
	if s = decode(c.waitType("state:tempo-change")); s.By != "link" {
		t.Fatalf("tempo-change from Link: %+v", s)
	}
	st.Tempo, st.Anchor = s.Tempo, s.Anchor
	anchorRaw = time.Duration((st.Anchor.ServerTime - rc.offset) * 1e3 * float64(time.Microsecond))
	if gap = phaseGap(t, ref, rc, st, max(anchorRaw, linktest.Clock()), 20); gap > time.Millisecond {
		t.Errorf("phase error after Link's tempo change while playing %v, want within 1 ms", gap)
	} else {
		t.Logf("phase, room vs reference peer, after Link's tempo change while playing: %v", gap)
	}

	// Unlinking says goodbye: the reference drops jamd at once, not after Link's 5 s TTL.
	n = ref.Mark()
	sent = linktest.Clock()
	c.request("state:link-control", `{"enabled":false}`)
	if at, ok = ref.EventAt(n, time.Second, "peers", "0"); !ok {
		t.Fatal("the reference peer did not drop jamd within 1 s of unlinking")
	}
	t.Logf("unlink: the reference peer dropped jamd %v later", time.Duration(at)*time.Microsecond-sent)
}
