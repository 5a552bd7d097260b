package link

import (
	"log/slog"
	"net/netip"
	"time"
)

// Session rules, from Ableton's implementation (and checked against it, see link_test.go).
const (
	// sessionEps: a session whose ghost clock is ahead of ours by more than this is older and
	// wins; within it, the smaller session ID wins, so both sides pick the same one.
	sessionEps = 500_000 // µs
	// remeasurePeriod: how often the offset to the current session's ghost clock is refreshed.
	remeasurePeriod = 30 * time.Second
)

// remotePeer is what we know of another peer: its last announced state, the gateway it was
// heard on (measurements go out through that gateway) and when the state goes stale.
type remotePeer struct {
	state   nodeState
	gateway string
	expires time.Time
}

// otherSession is a session we have seen but are not in: its newest timeline and, once
// measured, the offset from our host clock to its ghost clock.
type otherSession struct {
	timeline timeline
	offset   int64
	measured bool
}

// measureRequest asks the transport to measure session through peer's endpoint.
type measureRequest struct {
	session  nodeID
	endpoint netip.AddrPort
	gateway  string
}

// session is the protocol's state and rules, with no sockets and no goroutines: the Peer feeds it
// what arrives and what its user commits, under its lock, and carries out what it asks for (the
// fields at the end). Host times are µs from the Peer's clock.
type session struct {
	now  func() int64 // host clock, µs
	wall func() time.Time
	log  *slog.Logger

	node      nodeID    // our ID, which changes when we found a new session
	id        nodeID    // the session we are in
	timeline  timeline  // the session's timeline, ghost time
	offset    int64     // ghost = host + offset
	startStop startStop // the session's transport, ghost time
	client    Timeline  // the same, on our host clock, as Timeline() hands out

	peers     map[nodeID]*remotePeer
	others    map[nodeID]*otherSession
	count     int // peers in our session
	remeasure time.Time

	// Filled for the Peer to act on, and reset by it.
	changedByOthers bool             // tempo, transport or peer count moved: tell the user
	stateChanged    bool             // what we announce changed: announce it soon
	toMeasure       []measureRequest // sessions to measure
}

func newSession(now func() int64, wall func() time.Time, log *slog.Logger, bpm float64) *session {
	s := &session{now: now, wall: wall, log: log, peers: map[nodeID]*remotePeer{}, others: map[nodeID]*otherSession{}}
	s.client.tl = timeline{tempo: tempo(bpm).clamp()}
	s.found()
	return s
}

// found starts a new session of our own, with a new node ID, continuing the client's beats at
// the tempo it had. Its ghost clock starts at 0 now.
func (s *session) found() {
	s.node = newNodeID()
	s.id = s.node
	now := s.now()
	s.offset = -now
	s.timeline = timeline{tempo: s.client.tl.tempo, beatOrigin: s.client.tl.toBeats(now), timeOrigin: 0}
	s.startStop = startStop{}
	s.client.tl = clientFromSession(s.client.tl, s.timeline, now, s.offset)
	clear(s.peers)
	clear(s.others)
	s.stateChanged = true
	s.log.Debug("link: founded a session", "session", s.id)
}

// state is what we announce.
func (s *session) state() nodeState {
	return nodeState{session: s.id, timeline: s.timeline, startStop: s.startStop}
}

// snapshot returns the client's view, ready to be changed and committed.
func (s *session) snapshot() Timeline {
	t := s.client
	t.connected = s.count > 0
	t.orig.tl, t.orig.playing, t.orig.playingAt = t.tl, t.playing, t.playingAt
	return t
}

// sawPeer takes in an alive or a response.
func (s *session) sawPeer(id nodeID, st nodeState, gateway string, ttl time.Duration) {
	if id == s.node {
		return
	}
	st.timeline = st.timeline.clamped()
	old, known := s.peers[id]
	s.peers[id] = &remotePeer{state: st, gateway: gateway, expires: s.wall().Add(ttl)}
	// Timeline first: the start/stop state is read against the session it belongs to.
	s.sawTimeline(st.session, st.timeline)
	if st.session == s.id {
		s.sawStartStop(st.startStop)
	}
	if !known || old.state.session != st.session {
		s.recount()
	}
}

// sawTimeline applies the rule for timelines: within a session, the one with the later beat
// origin wins. A session not seen before is measured, to decide whether to join it.
func (s *session) sawTimeline(sid nodeID, tl timeline) {
	if sid == s.id {
		if tl.beatOrigin > s.timeline.beatOrigin {
			s.setTiming(tl, s.offset)
		}
		return
	}
	o, seen := s.others[sid]
	if !seen {
		s.others[sid] = &otherSession{timeline: tl}
		s.measure(sid)
		return
	}
	if tl.beatOrigin > o.timeline.beatOrigin {
		o.timeline = tl
	}
}

// measure queues a measurement of session sid through its founder if we hear it, else through
// the member with the smallest ID.
func (s *session) measure(sid nodeID) {
	var via *remotePeer
	var viaID nodeID
	for id, p := range s.peers {
		if p.state.session != sid {
			continue
		}
		if id == sid || via == nil || (viaID != sid && id.less(viaID)) {
			via, viaID = p, id
		}
	}
	if via != nil {
		s.toMeasure = append(s.toMeasure, measureRequest{session: sid, endpoint: via.state.endpoint, gateway: via.gateway})
	}
}

// sawStartStop applies the rule for the transport: the newest timestamp wins.
func (s *session) sawStartStop(ss startStop) {
	if ss.timestamp <= s.startStop.timestamp {
		return
	}
	s.startStop = ss
	s.stateChanged = true // relay it, as every Link peer does
	was := s.client.playing
	s.clientStartStop()
	if s.client.playing != was {
		s.changedByOthers = true
	}
}

// clientStartStop maps the session's transport onto the host clock.
func (s *session) clientStartStop() {
	s.client.playing = s.startStop.playing
	s.client.playingAt = s.timeline.fromBeats(s.startStop.beats) - s.offset
}

// setTiming installs a session timeline and ghost offset, keeping the client's beats continuous.
func (s *session) setTiming(tl timeline, offset int64) {
	tl = tl.clamped()
	if tl == s.timeline && offset == s.offset {
		return
	}
	oldTempo := s.timeline.tempo.microsPerBeat()
	s.timeline, s.offset = tl, offset
	s.client.tl = clientFromSession(s.client.tl, tl, s.now(), offset)
	if s.startStop != (startStop{}) {
		s.clientStartStop()
	}
	if tl.tempo.microsPerBeat() != oldTempo {
		s.changedByOthers = true
	}
	s.stateChanged = true
}

// peerLeft handles a bye-bye.
func (s *session) peerLeft(id nodeID) {
	if _, ok := s.peers[id]; ok {
		delete(s.peers, id)
		s.recount()
	}
}

// tick drops peers whose announcements stopped and asks to re-measure the session when due.
func (s *session) tick() {
	now := s.wall()
	gone := false
	for id, p := range s.peers {
		if now.After(p.expires) {
			delete(s.peers, id)
			gone = true
		}
	}
	if gone {
		s.recount()
	}
	if s.count > 0 && !s.remeasure.IsZero() && now.After(s.remeasure) {
		s.remeasure = time.Time{}
		s.measure(s.id)
	}
}

// recount counts the peers in our session. When the last one leaves we found a new session, as
// Ableton's peers do, so that the next one to come along does not inherit a stale one.
func (s *session) recount() {
	n := 0
	for _, p := range s.peers {
		if p.state.session == s.id {
			n++
		}
	}
	if n == s.count {
		return
	}
	was := s.count
	s.count = n
	s.log.Debug("link: peers in session", "session", s.id, "peers", n)
	s.changedByOthers = true
	if n == 0 && was > 0 {
		s.found()
	}
}

// measured takes the result of measuring session sid: offset maps our host clock onto its ghost
// clock (ghost = host + offset); ok is false when the peer did not answer.
func (s *session) measured(sid nodeID, offset int64, ok bool) {
	if sid == s.id {
		if ok {
			s.setTiming(s.timeline, offset)
		}
		s.remeasure = s.wall().Add(remeasurePeriod)
		return
	}
	o, seen := s.others[sid]
	if !seen {
		return
	}
	if !ok {
		// Forget the session and its peers: if they are still there, their next announcement
		// makes them new again and they are measured again.
		delete(s.others, sid)
		for id, p := range s.peers {
			if p.state.session == sid {
				delete(s.peers, id)
			}
		}
		return
	}
	o.offset, o.measured = offset, true
	// Both offsets map the same host instant: the difference is how much older the other is.
	older := offset - s.offset
	if older > sessionEps || (abs(older) < sessionEps && sid.less(s.id)) {
		s.join(sid, o)
	}
}

// join moves us into session sid, keeping the one we leave as known and measured.
func (s *session) join(sid nodeID, o *otherSession) {
	s.log.Info("link: joined a session", "session", sid, "left", s.id, "tempo", float64(o.timeline.tempo))
	delete(s.others, sid)
	s.others[s.id] = &otherSession{timeline: s.timeline, offset: s.offset, measured: true}
	s.id = sid
	s.startStop = startStop{} // the old session's transport means nothing in the new one
	s.setTiming(o.timeline, o.offset)
	s.stateChanged = true
	s.remeasure = s.wall().Add(remeasurePeriod)
	// Peers already heard in the new session announce its transport again within 250 ms.
	s.recount()
	s.changedByOthers = true
}

// commit applies a Timeline the user changed, at host time now.
func (s *session) commit(t Timeline) {
	now := s.now()
	if t.tl != t.orig.tl {
		client := t.tl.clamped()
		s.timeline = sessionFromClient(s.timeline, client, now, s.offset)
		s.client.tl = clientFromSession(client, s.timeline, now, s.offset)
		s.stateChanged = true
	}
	if t.playing != t.orig.playing || t.playingAt != t.orig.playingAt {
		stamp := now + s.offset
		if stamp > s.startStop.timestamp {
			s.startStop = startStop{
				playing:   t.playing,
				beats:     s.timeline.toBeats(t.playingAt + s.offset),
				timestamp: stamp,
			}
			s.client.playing, s.client.playingAt = t.playing, t.playingAt
			s.stateChanged = true
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
