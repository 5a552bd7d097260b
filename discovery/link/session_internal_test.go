package link

// Internal tests of the pure parts: the session rules and the beat arithmetic, driven with a
// fake clock and no sockets.

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct {
	host int64 // µs
	wall time.Time
}

func newTestSession(t *testing.T) (*session, *fakeClock) {
	t.Helper()
	c := &fakeClock{host: 1_000_000_000, wall: time.Unix(1_700_000_000, 0)}
	s := newSession(func() int64 { return c.host }, func() time.Time { return c.wall }, slog.New(slog.DiscardHandler), 120)
	s.stateChanged = false
	return s, c
}

func peerIn(sid nodeID, tl timeline) nodeState {
	return nodeState{session: sid, timeline: tl, endpoint: netip.MustParseAddrPort("10.0.0.2:9999")}
}

func TestJoinOlderSession(t *testing.T) {
	s, c := newTestSession(t)
	other := nodeID{'z', 'z', 'z', 'z', 'z', 'z', 'z', 'z'} // larger than any printable ID
	tl := timeline{tempo: 90, beatOrigin: 0, timeOrigin: 0}
	s.sawPeer(other, peerIn(other, tl), "eth0", 5*time.Second)
	if len(s.toMeasure) != 1 || s.toMeasure[0].session != other {
		t.Fatalf("a new session is not measured: %+v", s.toMeasure)
	}
	if s.count != 0 {
		t.Fatalf("a peer in another session counted: %d", s.count)
	}
	before := s.client.tl.toBeats(c.host)
	// Its ghost clock is 2 s ahead of ours: older, so we join, despite its larger ID.
	s.measured(other, s.offset+2_000_000, true)
	if s.id != other || s.count != 1 || s.timeline.tempo != 90 || !s.changedByOthers {
		t.Fatalf("did not join the older session: id %v count %d tempo %v", s.id, s.count, s.timeline.tempo)
	}
	// Our beats stay continuous across the join.
	if after := s.snapshot().tl.toBeats(c.host); after != before {
		t.Errorf("beat jumped from %v to %v", before, after)
	}
}

func TestStayInOlderSession(t *testing.T) {
	for _, c := range []struct {
		name   string
		ahead  int64
		id     nodeID
		joined bool
	}{
		{"younger", -2_000_000, nodeID{0}, false},
		{"as old, larger ID", 100_000, nodeID{'~', '~', '~', '~', '~', '~', '~', '~'}, false},
		{"as old, smaller ID", -100_000, nodeID{0}, true},
	} {
		s, _ := newTestSession(t)
		s.sawPeer(c.id, peerIn(c.id, timeline{tempo: 90}), "eth0", 5*time.Second)
		s.measured(c.id, s.offset+c.ahead, true)
		if joined := s.id == c.id; joined != c.joined {
			t.Errorf("%s: joined = %v, want %v", c.name, joined, c.joined)
		}
	}
}

func TestFailedMeasurementForgetsSession(t *testing.T) {
	s, _ := newTestSession(t)
	other := nodeID{1}
	s.sawPeer(other, peerIn(other, timeline{tempo: 90}), "eth0", 5*time.Second)
	s.measured(other, 0, false)
	if len(s.others) != 0 || len(s.peers) != 0 {
		t.Fatalf("a session that did not answer is remembered: %v %v", s.others, s.peers)
	}
}

func TestTimelineNeedsLaterBeatOrigin(t *testing.T) {
	s, _ := newTestSession(t)
	peer := nodeID{1}
	s.sawPeer(peer, peerIn(peer, timeline{tempo: 90}), "eth0", 5*time.Second)
	s.measured(peer, s.offset, true) // same age, smaller ID: join
	s.changedByOthers = false
	cur := s.timeline
	s.sawPeer(peer, peerIn(peer, timeline{tempo: 150, beatOrigin: cur.beatOrigin - 1}), "eth0", 5*time.Second)
	if s.timeline != cur || s.changedByOthers {
		t.Fatalf("an earlier beat origin was adopted: %+v", s.timeline)
	}
	s.sawPeer(peer, peerIn(peer, timeline{tempo: 150, beatOrigin: cur.beatOrigin + 1}), "eth0", 5*time.Second)
	if s.timeline.tempo != 150 || !s.changedByOthers {
		t.Fatalf("a later beat origin was not adopted: %+v", s.timeline)
	}
}

func TestStartStopNeedsLaterTimestamp(t *testing.T) {
	s, _ := newTestSession(t)
	peer := nodeID{1}
	st := peerIn(s.id, s.timeline)
	st.startStop = startStop{playing: true, timestamp: 10}
	s.sawPeer(peer, st, "eth0", 5*time.Second)
	if !s.client.playing || s.count != 1 {
		t.Fatalf("start not adopted: playing %v, count %d", s.client.playing, s.count)
	}
	st.startStop = startStop{playing: false, timestamp: 9}
	s.sawPeer(peer, st, "eth0", 5*time.Second)
	if !s.client.playing {
		t.Fatal("an older stop was adopted")
	}
}

func TestLastPeerGoneFoundsNewSession(t *testing.T) {
	s, c := newTestSession(t)
	peer := nodeID{1}
	s.sawPeer(peer, peerIn(s.id, s.timeline), "eth0", 5*time.Second)
	old := s.id
	c.wall = c.wall.Add(6 * time.Second)
	s.tick()
	if s.count != 0 || s.id == old || s.node != s.id {
		t.Fatalf("after the TTL: count %d, session %v (was %v)", s.count, s.id, old)
	}
	s.sawPeer(peer, peerIn(s.id, s.timeline), "eth0", 5*time.Second)
	s.peerLeft(peer)
	if s.count != 0 {
		t.Fatalf("bye-bye did not drop the peer")
	}
}

func TestCommitMovesBeatOriginForward(t *testing.T) {
	s, c := newTestSession(t)
	c.host += 10_000_000
	old := s.timeline
	tl := s.snapshot()
	tl.SetTempo(88, duration(c.host))
	s.commit(tl)
	if s.timeline.beatOrigin <= old.beatOrigin || s.timeline.tempo != 88 || !s.stateChanged || s.changedByOthers {
		t.Fatalf("commit gave %+v from %+v", s.timeline, old)
	}
	// The beat at the moment of the change is the same before and after.
	if d := s.snapshot().BeatAt(duration(c.host), 4) - tl.BeatAt(duration(c.host), 4); math.Abs(d) > 1e-6 {
		t.Errorf("beat moved by %v at the change", d)
	}
}

// TestBeatAtTimeAt: TimeAt inverts BeatAt, and the phase is the session's.
func TestBeatAtTimeAt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		tl := Timeline{tl: timeline{
			tempo:      tempo(20 + r.Float64()*280),
			beatOrigin: beats(r.Int64N(2e9) - 1e9),
			timeOrigin: r.Int64N(2e12) - 1e12,
		}}
		q := float64(1 + r.IntN(8))
		at := duration(r.Int64N(2e12) - 1e12)
		b := tl.BeatAt(at, q)
		if back := tl.TimeAt(b, q); (back - at).Abs() > 2*time.Microsecond {
			t.Fatalf("TimeAt(BeatAt(%v)) = %v (tl %+v, q %v)", at, back, tl.tl, q)
		}
		session := tl.tl.toBeats(micros(at)) - tl.tl.beatOrigin
		if d := phase(beatsOf(b), beatsOf(q)) - phase(session, beatsOf(q)); d != 0 {
			t.Fatalf("phase differs from the session's by %v µbeats", d)
		}
		next := tl.NextBar(at, q)
		if next < at-time.Microsecond || next > at+duration(int64(q*6e7/float64(tl.tl.tempo)))+time.Microsecond {
			t.Fatalf("NextBar(%v) = %v", at, next)
		}
		if p := tl.PhaseAt(next, q); p > 1e-5 && q-p > 1e-5 {
			t.Fatalf("phase at the next bar is %v", p)
		}
	}
}

func TestForceAndRequestBeatAtTime(t *testing.T) {
	tl := Timeline{tl: timeline{tempo: 120}}
	at := 10 * time.Second
	tl.ForceBeatAtTime(0, at, 4)
	if b := tl.BeatAt(at, 4); math.Abs(b) > 1e-6 {
		t.Fatalf("forced beat 0, got %v", b)
	}
	// With peers, a request keeps the phase: beat 0 lands on the next bar line instead.
	tl.connected = true
	tl.RequestBeatAtTime(0, at+500*time.Millisecond, 4) // a beat past a bar line at 120 BPM
	if b := tl.BeatAt(at+2*time.Second, 4); math.Abs(b) > 1e-6 {
		t.Fatalf("requested beat 0 a beat after a bar: beat at the next bar is %v", b)
	}
	if p := tl.PhaseAt(at, 4); p > 1e-6 {
		t.Fatalf("a request moved the phase: %v", p)
	}
}
