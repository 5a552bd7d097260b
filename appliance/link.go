package appliance

import (
	"math"
	"time"
)

// Ableton Link: one room per jam box can share its tempo, its bar grid and its play/stop with the
// Link apps on the LAN (Ableton Live, phone apps, drum machines). docs/link.md says what a
// musician sees; this is how the room and the Link session are kept in step.
//
// The room stays the one timeline every phone plays from, and every change of it goes through
// the same rules as a phone's (validate, commit, reply, broadcast; a change of a running
// timeline lands ahead of time). The bridge only decides which side follows which:
//
//   - After every committed change of the room, the Link session is made to match it (toLink):
//     its tempo from the moment the room's change lands, its start/stop at that moment. The peer
//     never reports our own changes back, and tempos are compared as Link's wire carries them
//     (whole µs per beat), so nothing echoes back "by link".
//   - When other Link apps change the session, the room follows (fromLink) as by a participant
//     "link": a tempo change lands on the room's next beat at least ChangeLead away, where the
//     beat is also renumbered to Link's phase; a start plays beat 0 on the first Link bar line
//     at least ChangeLead away; a stop lands on the next step like a phone's.
//   - Phase: with a quantum of 4 (one bar) the room's beat count modulo 4 is Link's phase, so
//     beat 0 falls on a Link bar line. A room linked while playing first makes the new (still
//     empty) Link session take its beat; once an older running session is met, it wins (as in
//     Link itself) and the room is re-anchored on its phase at one beat: one hiccup, on the
//     room's side only, rather than every laptop's bar grid jumping.
//   - Tempo: Link allows 20–999 BPM, the room 20–300. A Link tempo outside the room's range is
//     clamped, and the clamped tempo is given back to the Link session, so that both keep one
//     tempo and one phase.
//
// Concurrency: a LinkPeer's methods never call back into the appliance, so the room calls them
// holding its lock. Its change callback runs on the peer's own goroutine and only wakes the
// room's follower goroutine (followLink), which takes the room's lock like any request.

// LinkBy is the `by` of a change that the Link session made.
const LinkBy = "link"

// LinkQuantum is the beats of one Link bar: the room's beat 0 falls on a Link bar line.
const LinkQuantum = 4

// linkPhaseTolerance is how far (ms) the room's beat may be from Link's phase before the room is
// re-anchored on it.
const linkPhaseTolerance = 0.5

// LinkState is the Link session as a peer sees it now. Times are server times (ms since the Unix
// epoch, as on the wire).
type LinkState struct {
	Tempo   float64 // BPM, in Link's range (20–999)
	Playing bool    // the session's start/stop state
	Peers   int     // other Link apps in the session
	Bar     float64 // the server time of a Link bar line (a beat ≡ 0 mod LinkQuantum) near now
}

// Linker starts Link peers; Config.Linker nil means Link is off. The appliance runs at most one
// peer at a time, for the one linked room.
type Linker interface {
	// Link starts a peer on the clock now that founds a Link session at tempo and joins any
	// running session it meets (the older session wins). It calls changed, from a goroutine of
	// its own and never from inside a LinkPeer method, whenever other peers change the session's
	// tempo, start/stop or number of peers; changed does not block. An error means no peer runs.
	Link(now func() time.Time, tempo float64, changed func()) (LinkPeer, error)
}

// LinkPeer is one running Link peer. Its methods never call back into the appliance. Times are
// server times in ms.
type LinkPeer interface {
	// State returns the session as it is now.
	State() LinkState
	// SetTempo changes the session's tempo from time at on, keeping the beat at at.
	SetTempo(bpm, at float64)
	// ForceBeat shifts the session's phase so that a beat of phase beat (mod LinkQuantum) falls
	// at time at. Every peer's bar grid moves: only for a session nobody else is in yet.
	ForceBeat(beat, at float64)
	// SetPlaying starts or stops the session's transport at time at.
	SetPlaying(playing bool, at float64)
	// Close says goodbye, so that the other peers drop this one at once, and stops the peer.
	Close()
}

// beatAt is Link's beat at server time t, numbered so that bar lines are multiples of LinkQuantum.
func (l LinkState) beatAt(t float64) float64 { return (t - l.Bar) * l.Tempo / 60000 }

// next returns the first multiple of unit Link beats at or after server time t, and its time.
func (l LinkState) next(t, unit float64) (beat, at float64) {
	beat = math.Ceil(l.beatAt(t)/unit-1e-9) * unit
	return beat, l.Bar + beat*60000/l.Tempo
}

// valid reports whether l can be followed at all: a peer reports nothing else, but the room
// must not take a NaN from anywhere.
func (l LinkState) valid() bool {
	return l.Tempo > 0 && !math.IsInf(l.Tempo, 0) && !math.IsNaN(l.Bar) && !math.IsInf(l.Bar, 0)
}

// sameTempo reports whether two tempos are one on Link's wire, which carries whole µs per beat:
// 88 comes back from Link as 88.000023 and is still 88.
func sameTempo(a, b float64) bool {
	return math.Round(60e6/a) == math.Round(60e6/b)
}

// clampTempo brings a Link tempo into the room's range.
func clampTempo(t float64) float64 { return min(max(t, MinTempo), MaxTempo) }

// linkPhaseError is how far (ms) the room's beat is from Link's phase once the room's pending
// change (if any) has landed.
func (st *State) linkPhaseError(l LinkState, now float64) float64 {
	t := max(now+leadMs, st.Anchor.ServerTime)
	return math.Abs(phaseDiff(st.beatAt(t), l.beatAt(t))) * 60000 / st.Tempo
}

// phaseDiff is a-b modulo LinkQuantum, in [-LinkQuantum/2, LinkQuantum/2).
func phaseDiff(a, b float64) float64 {
	d := math.Mod(a-b, LinkQuantum)
	switch {
	case d >= LinkQuantum/2:
		d -= LinkQuantum
	case d < -LinkQuantum/2:
		d += LinkQuantum
	}
	return d
}

// roomLink is a linked room's peer and its follower goroutine.
type roomLink struct {
	peer  LinkPeer
	peers int           // the count the room was last told
	kick  chan struct{} // the session changed: follow it
	done  chan struct{} // closed when the room is unlinked
}

// linkView is the room's link as the wire shows it in the state.
type linkView struct {
	Enabled bool `json:"enabled"`
	Peers   int  `json:"peers"`
}

// linkView is the room's link now. Call with mu held.
func (r *Room) linkView() linkView {
	if r.link == nil {
		return linkView{}
	}
	return linkView{Enabled: true, Peers: r.link.peers}
}

// linkState is the Link session when the room is linked, else nil. Call with mu held.
func (r *Room) linkState() *LinkState {
	if r.link == nil {
		return nil
	}
	ls := r.link.peer.State()
	if !ls.valid() {
		return nil
	}
	return &ls
}

// linkControl links or unlinks the room at the host's request (state:link-control).
func (r *Room) linkControl(c *Client, re string, d *LinkControlData) error {
	if err := r.hostAction(c, "link the room to Ableton Link"); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if r.hub.cfg.Linker == nil {
		return errLinkOff()
	}
	started := false
	if d.Enabled && r.link == nil {
		if err := r.startLink(); err != nil {
			return err
		}
		started = true
	}
	next := r.s.clone()
	next.Link = d.Enabled
	next.State.Version++
	if err := r.commit(next); err != nil {
		if started {
			r.stopLink()
		}
		return err
	}
	if !d.Enabled && r.link != nil {
		r.stopLink()
	}
	lv := r.linkView()
	event := map[string]any{"enabled": lv.Enabled, "peers": lv.Peers, "version": next.State.Version, "by": c.pid}
	c.enqueue(encode(TypeLinkControl, re, event))
	r.broadcast(encode(TypeLinkControl, "", event), c)
	r.hub.log.Info("Ableton Link", "room", r.s.Code, "enabled", lv.Enabled, "participant", c.pid)
	return nil
}

// startLink claims the box's one link for r and starts its peer: ELINKINUSE when another room
// holds it. The new peer is alone in a session of its own, so it takes the room's tempo, beat
// and transport; a running session it meets later wins, and the room follows it. Call with mu
// held.
func (r *Room) startLink() error {
	if err := r.hub.claimLink(r); err != nil {
		return err
	}
	l := &roomLink{kick: make(chan struct{}, 1), done: make(chan struct{})}
	peer, err := r.hub.cfg.Linker.Link(r.hub.now, r.s.State.Tempo, func() {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		r.hub.releaseLink(r)
		r.hub.log.Error("cannot start Ableton Link", "room", r.s.Code, "err", err)
		return Errorf(EINTERNAL, "The jam box could not start Ableton Link. Please try again.")
	}
	l.peer = peer
	r.link = l
	if st := r.s.State; st.IsPlaying {
		now := serverMs(r.hub.now())
		peer.ForceBeat(st.beatAt(now), now)
	}
	r.toLink()
	r.hub.followers.Go(func() { r.followLink(l) })
	return nil
}

// stopLink says goodbye to the Link session and releases the box's link. Call with mu held: the
// peer's Close waits only for its own goroutines, never for this room.
func (r *Room) stopLink() {
	l := r.link
	r.link = nil
	close(l.done)
	l.peer.Close()
	r.hub.releaseLink(r)
}

// toLink makes the Link session match the room's committed state: the tempo and start/stop
// from the moment the room's last change lands. It changes nothing that already matches. Call
// with mu held.
func (r *Room) toLink() {
	if r.link == nil {
		return
	}
	ls, st := r.link.peer.State(), r.s.State
	at := max(serverMs(r.hub.now()), st.Anchor.ServerTime)
	if !sameTempo(ls.Tempo, st.Tempo) {
		r.link.peer.SetTempo(st.Tempo, at)
	}
	if ls.Playing != r.s.State.IsPlaying { // r.s is the session the tempo change committed
		r.link.peer.SetPlaying(st.IsPlaying, at)
	}
}

// followLink makes the room follow the Link session each time the peer reports a change, until
// the room is unlinked.
func (r *Room) followLink(l *roomLink) {
	for {
		select {
		case <-l.done:
			return
		case <-l.kick:
		}
		r.mu.Lock()
		if !r.gone && r.link == l {
			r.fromLink(l)
		}
		r.mu.Unlock()
	}
}

// fromLink makes the room follow what others changed in the Link session: the count of peers
// (an event, not a change of state), the tempo and phase, then start/stop, each committed as a
// change by LinkBy. A change the disk refused is logged, and the next report tries again. Call
// with mu held.
func (r *Room) fromLink(l *roomLink) {
	ls := l.peer.State()
	if ls.Peers != l.peers {
		l.peers = ls.Peers
		r.broadcast(encode(TypeLinkPeers, "", map[string]any{"peers": ls.Peers}), nil)
		r.hub.log.Info("Ableton Link peers", "room", r.s.Code, "peers", ls.Peers)
	}
	if !ls.valid() {
		return
	}
	now := serverMs(r.hub.now())
	if st := r.s.State; !sameTempo(clampTempo(ls.Tempo), st.Tempo) || st.IsPlaying && st.linkPhaseError(ls, now) > linkPhaseTolerance {
		_ = r.changeBy(LinkBy, nil, TypeTempoChange, "", func(next *Session, w when) (stamped, error) {
			next.State.followLink(ls, w.now)
			return &tempoEvent{Tempo: next.State.Tempo, Anchor: next.State.Anchor}, nil
		})
		ls = l.peer.State() // the clamped tempo may have gone back to Link
	}
	if ls.Playing != r.s.State.IsPlaying { // r.s is the session the tempo change committed
		_ = r.changeBy(LinkBy, nil, TypePlaybackControl, "", func(next *Session, w when) (stamped, error) {
			if ls.Playing {
				next.State.playOnBar(ls, w.now)
			} else {
				next.State.setPlaying(false, w.now)
			}
			return &playbackEvent{IsPlaying: next.State.IsPlaying, Anchor: next.State.Anchor}, nil
		})
	}
}

// claimLink makes r the box's linked room: ELINKINUSE when another room is. Call with r.mu held
// (lock order: room, then hub).
func (h *Hub) claimLink(r *Room) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.linked != nil && h.linked != r {
		return Errorf(ELINKINUSE, "Another session on this jam box is linked to Ableton Link. Only one can be at a time.")
	}
	h.linked = r
	return nil
}

// releaseLink forgets that r is the linked room. Call with r.mu held.
func (h *Hub) releaseLink(r *Room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.linked == r {
		h.linked = nil
	}
}
