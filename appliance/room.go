package appliance

import (
	"slices"
	"sync"
	"time"
)

// Room is a live session: the stored Session plus who is connected to it right now.
// Every change of a room happens under mu, in this order: validate, commit, reply, broadcast.
type Room struct {
	hub *Hub

	mu       sync.Mutex
	s        *Session
	members  map[string]*Client     // participant id → their live connection
	grace    map[string]*time.Timer // participant id → the timer that shows their dropped seat as away
	attempts map[string]float64     // participant id → the connection attempt holding the seat (JoinData.Attempt)
	gone     bool                   // deleted: nobody may join or change it any more
	link     *roomLink              // the Ableton Link peer while the room is linked (see link.go)
}

func newRoom(h *Hub, s *Session) *Room {
	return &Room{hub: h, s: s, members: map[string]*Client{}, grace: map[string]*time.Timer{}, attempts: map[string]float64{}}
}

// commit makes next the room's session once the store has it on disk. Call with mu held.
func (r *Room) commit(next *Session) error {
	next.LastActive = r.hub.now()
	defer r.hub.metrics.commitDone(time.Now())
	if err := r.hub.store.PutSession(next); err != nil {
		r.hub.log.Error("cannot save session, the change was refused: check the disk (df -h, dmesg) and the data dir's permissions", "room", next.Code, "err", err)
		return errNotSaved()
	}
	r.s = next
	return nil
}

// commitState makes next the room's session once the store has its state on disk: next differs
// from r.s only in its State. Call with mu held.
func (r *Room) commitState(next *Session) error {
	next.LastActive = r.hub.now()
	defer r.hub.metrics.commitDone(time.Now())
	if err := r.hub.store.PutState(next.Code, next.LastActive, next.State); err != nil {
		r.hub.log.Error("cannot save session, the change was refused: check the disk (df -h, dmesg) and the data dir's permissions", "room", next.Code, "err", err)
		return errNotSaved()
	}
	r.s = next
	return nil
}

// broadcast queues frame for every connected member but skip. Call with mu held.
func (r *Room) broadcast(frame []byte, skip *Client) {
	f, now := textFrame(frame), time.Now() // framed once for everyone
	for _, m := range r.members {
		if m != skip {
			m.send(f, now)
		}
	}
}

// join seats c, or gives its seat back when d.ResumeToken matches one.
func (r *Room) join(c *Client, re string, d *JoinData) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return errRoomNotFound()
	}
	if d.ResumeToken != "" {
		if i := r.s.seatByToken(d.ResumeToken); i >= 0 {
			return r.resume(c, re, i, d)
		}
		if r.s.isRemoved(d.ResumeToken) {
			return Errorf(EREMOVED, "The host removed you from this session.")
		}
	}
	// A resumed seat keeps its name, so only a new seat needs a valid one.
	name, err := NormalizeName(d.UserName)
	if err != nil {
		return err
	}
	key := nameKey(name)
	if slices.ContainsFunc(r.s.Participants, func(p Participant) bool { return nameKey(p.Name) == key }) {
		return Errorf(ENAMETAKEN, "Someone in this session is already called %s. Add an initial or a nickname.", name)
	}
	if r.s.Settings.Locked && !r.s.keyMatches(d.JoinKey) {
		return Errorf(EROOMLOCKED, "This session is locked: open the link or scan the QR code someone in it shares, or ask the host to unlock it.")
	}
	next := r.s.clone()
	replaced := ""
	if len(next.Participants) >= r.hub.cfg.maxParticipants() {
		// A full room gives a newcomer the seat that has been away longest.
		i := next.longestAway()
		if i < 0 {
			return Errorf(EROOMFULL, "This session is full: all %d seats are taken.", r.hub.cfg.maxParticipants())
		}
		replaced = next.Participants[i].ID
		next.Participants = slices.Delete(next.Participants, i, i+1)
	}
	p, token := newParticipant(name, r.hub.now())
	next.Participants = append(next.Participants, p)
	hostFrame, err := r.commitSeats(next)
	if err != nil {
		return err
	}
	if replaced != "" {
		r.forgetSeat(replaced)
		r.broadcast(encode(TypeUserLeft, "", userLeft{UserID: replaced, Reason: "replaced"}), nil)
	}
	r.members[p.ID] = c
	r.attempts[p.ID] = d.Attempt
	c.seat(r, p.ID)
	c.enqueue(encode(TypeSessionJoined, re, r.welcome(p, token)))
	r.broadcast(encode(TypeUserJoined, "", userEvent{User: r.s.participantView(p)}), c)
	if hostFrame != nil {
		r.broadcast(hostFrame, c)
	}
	r.hub.log.Info("participant joined", "room", r.s.Code, "participant", p.ID, "participants", len(r.s.Participants))
	return nil
}

// resume gives seat i to c. A connection still holding the seat (a reload can beat the old
// socket's close) is closed with closeTakenOver, unless it came from a later attempt of the
// same device: then this resume is the stale one, delivered late over flaky Wi-Fi, and is
// refused. Call with mu held.
func (r *Room) resume(c *Client, re string, i int, d *JoinData) error {
	p := &r.s.Participants[i]
	old := r.members[p.ID]
	if old != nil && old != c {
		if d.Attempt > 0 && d.Attempt <= r.attempts[p.ID] {
			r.hub.log.Info("stale resume refused", "room", r.s.Code, "participant", p.ID)
			return Errorf(ESEATTAKEN, "A newer connection of yours holds this seat.")
		}
		old.kick(closeTakenOver, "seat taken over by a newer connection")
	}
	if t := r.grace[p.ID]; t != nil {
		t.Stop()
		delete(r.grace, p.ID)
	}
	p.Presence, p.AwaySince = Connected, time.Time{}
	r.s.LastActive = r.hub.now()
	r.members[p.ID] = c
	r.attempts[p.ID] = d.Attempt
	c.seat(r, p.ID)
	hostFrame := r.settleHost() // a host back from a break gets the role back
	c.enqueue(encode(TypeSessionJoined, re, r.welcome(*p, d.ResumeToken)))
	r.broadcast(encode(TypeUserUpdated, "", userEvent{User: r.s.participantView(*p)}), c)
	if hostFrame != nil {
		r.broadcast(hostFrame, c)
	}
	r.hub.log.Info("participant resumed", "room", r.s.Code, "participant", p.ID)
	return nil
}

func (r *Room) welcome(you Participant, token string) welcome {
	return welcome{syncData: r.syncData(), You: r.s.participantView(you), ResumeToken: token, JoinKey: r.s.JoinKey}
}

func (r *Room) syncData() syncData {
	st := r.s.stateView(serverMs(r.hub.now()))
	st.Link = r.linkView()
	return syncData{RoomCode: r.s.Code, Participants: r.s.participantsView(), HomeHostID: r.s.HomeHostID,
		Settings: r.s.Settings, State: st}
}

// lockSeat locks r for a request from c, or returns ENOTINSESSION without the lock when c does
// not hold a seat in it: r is nil (c never sat down), r is gone, c's seat was taken over (a
// request still in flight from a tab whose seat a reload resumed), or the host removed it.
func (r *Room) lockSeat(c *Client) error {
	if r == nil {
		return errNotInSession()
	}
	r.mu.Lock()
	if r.gone || r.members[c.pid] != c {
		r.mu.Unlock()
		return errNotInSession()
	}
	return nil
}

// holds reports whether c still holds its seat in r.
func (r *Room) holds(c *Client) bool {
	if err := r.lockSeat(c); err != nil {
		return false
	}
	r.mu.Unlock()
	return true
}

// leave removes c's seat at its request. The leaver hears only session:left, not its own
// user-left, so it is out of the broadcast before the seat goes.
func (r *Room) leave(c *Client, re string) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	defer r.mu.Unlock()
	delete(r.members, c.pid)
	if err := r.removeSeat(c.pid, "left", nil, "", nil); err != nil {
		r.members[c.pid] = c
		return err
	}
	c.seat(nil, "")
	c.enqueue(encode(TypeSessionLeft, re, sessionLeft{RoomCode: r.s.Code}))
	return nil
}

// drop marks c's seat as reconnecting and starts its grace period; c's connection is gone.
func (r *Room) drop(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone || r.members[c.pid] != c {
		return // the seat was taken over, removed or left already, or jamd is stopping
	}
	delete(r.members, c.pid)
	i := r.s.seat(c.pid)
	if i < 0 {
		return
	}
	now := r.hub.now()
	p := &r.s.Participants[i]
	p.Presence, p.AwaySince = Reconnecting, now
	r.s.LastActive = now
	r.broadcast(encode(TypeUserUpdated, "", userEvent{User: r.s.participantView(*p)}), nil)
	r.startGrace(c.pid, r.hub.cfg.reconnectGrace())
	r.hub.log.Info("participant dropped", "room", r.s.Code, "participant", c.pid)
}

// stopGraceTimers stops every grace timer. Call with mu held.
func (r *Room) stopGraceTimers() {
	for pid, t := range r.grace {
		t.Stop()
		delete(r.grace, pid)
	}
}

// startGrace shows a dropped seat as away after d unless it is resumed first; the host role
// may then move to someone who is here. Call with mu held.
func (r *Room) startGrace(pid string, d time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gone || r.grace[pid] != t {
			return // resumed, replaced by a later drop, or the room is gone
		}
		delete(r.grace, pid)
		i := r.s.seat(pid)
		if i < 0 {
			return
		}
		r.s.Participants[i].Presence = Away
		r.broadcast(encode(TypeUserUpdated, "", userEvent{User: r.s.participantView(r.s.Participants[i])}), nil)
		if hostFrame := r.settleHost(); hostFrame != nil {
			r.broadcast(hostFrame, nil)
		}
	})
	r.grace[pid] = t
}

// forgetSeat drops what the room keeps live about a seat that is gone. Call with mu held.
func (r *Room) forgetSeat(pid string) {
	if t := r.grace[pid]; t != nil {
		t.Stop()
	}
	delete(r.grace, pid)
	delete(r.members, pid)
	delete(r.attempts, pid)
}

// removeSeat takes seat pid out of the session, after edit (if any) has changed the copy that
// is committed, and hands the host role on if it goes with the seat. Everyone still seated
// hears session:user-left with why; by, the participant who asked for it, hears it as the reply
// to re. The session lives on even with no seat left, until it is idle for the TTL.
// Call with mu held.
func (r *Room) removeSeat(pid, why string, by *Client, re string, edit func(*Session)) error {
	i := r.s.seat(pid)
	if r.gone || i < 0 {
		return errNotInSession()
	}
	next := r.s.clone()
	next.Participants = slices.Delete(next.Participants, i, i+1)
	if edit != nil {
		edit(next)
	}
	hostFrame, err := r.commitSeats(next)
	if err != nil {
		return err
	}
	r.forgetSeat(pid)
	event := userLeft{UserID: pid, Reason: why}
	if by != nil {
		event.By = by.pid
		by.enqueue(encode(TypeUserLeft, re, event))
	}
	r.broadcast(encode(TypeUserLeft, "", event), by)
	if hostFrame != nil {
		r.broadcast(hostFrame, nil)
	}
	r.hub.log.Info("participant left", "room", r.s.Code, "participant", pid, "why", why, "participants", len(next.Participants))
	return nil
}

// sync answers state:request-sync with the whole session as it is. It changes nothing, so it
// commits nothing.
func (r *Room) sync(c *Client, re string) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c.enqueue(encode(TypeSync, re, r.syncData()))
	return nil
}

// A change is the payload of a request that edits the shared state or pattern.
type change interface {
	// apply validates the change from participant by at w and makes it on next, a copy of the
	// session; it returns the event to reply and broadcast.
	apply(next *Session, by string, w when) (event stamped, err error)
}

// stamped is the data of a change's event: a struct that ends with a stamp, which changeBy fills.
type stamped interface {
	setStamp(version int64, by string)
}

// stamp ends the data of every change's event: the state's new version and who made the change.
type stamp struct {
	Version int64  `json:"version"`
	By      string `json:"by"`
}

func (s *stamp) setStamp(version int64, by string) { s.Version, s.By = version, by }

// The data of the change events (docs/protocol.md), typed so they encode without reflection on
// maps; the field order is the contract's.
type (
	tempoEvent struct {
		Tempo  float64 `json:"tempo"`
		Anchor Anchor  `json:"anchor"`
		stamp
	}
	keyEvent struct {
		Key   string `json:"key"`
		Scale string `json:"scale"`
		stamp
	}
	playbackEvent struct {
		IsPlaying bool   `json:"isPlaying"`
		Anchor    Anchor `json:"anchor"`
		stamp
	}
	stepEvent struct {
		Track string `json:"track"`
		Step  int    `json:"step"`
		On    bool   `json:"on"`
		stamp
	}
	clearEvent struct{ stamp }
	userEvent  struct {
		User ParticipantView `json:"user"`
	}
)

// when is the moment a change is made: the server time (ms) and, while the room is linked, the
// Link session then.
type when struct {
	now  float64
	link *LinkState
}

// change makes one state or pattern change from c: validate, commit, reply, broadcast.
func (r *Room) change(c *Client, typ, re string, ch change) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	defer r.mu.Unlock()
	return r.changeBy(c.pid, c, typ, re, func(next *Session, w when) (stamped, error) {
		return ch.apply(next, c.pid, w)
	})
}

// changeBy makes a change of the state by participant by (or LinkBy): edit validates it and
// makes it on a copy of the session, then the version goes up and the copy is committed; the
// Link session follows the room, if it is linked; then c (nil for Link's changes) hears the event
// as the reply to re, everyone else as an event. Call with mu held.
func (r *Room) changeBy(by string, c *Client, typ, re string, edit func(*Session, when) (stamped, error)) error {
	next := r.s.clone()
	event, err := edit(next, when{now: serverMs(r.hub.now()), link: r.linkState()})
	if err != nil {
		return err
	}
	next.State.Version++
	event.setStamp(next.State.Version, by)
	if err := r.commitState(next); err != nil {
		return err
	}
	r.hub.metrics.changed(typ)
	r.toLink()
	data := encodeData(typ, event) // once, for the reply and the broadcast
	if c != nil {
		c.enqueue(frameData(typ, re, data))
	}
	r.broadcast(frameData(typ, "", data), c)
	return nil
}

func (d *TempoData) apply(next *Session, _ string, w when) (stamped, error) {
	if err := validTempo(d.Tempo); err != nil {
		return nil, err
	}
	st := &next.State
	st.setTempo(d.Tempo, w.now)
	return &tempoEvent{Tempo: st.Tempo, Anchor: st.Anchor}, nil
}

func (d *KeyData) apply(next *Session, _ string, _ when) (stamped, error) {
	if err := validKey(d.Key, d.Scale); err != nil {
		return nil, err
	}
	st := &next.State
	st.Key, st.Scale = d.Key, d.Scale
	return &keyEvent{Key: st.Key, Scale: st.Scale}, nil
}

func (d *PlaybackData) apply(next *Session, by string, w when) (stamped, error) {
	if next.HostID != by && !next.Settings.OpenPlayback {
		return nil, Errorf(EFORBIDDEN, "Only the host can start and stop playback.")
	}
	st := &next.State
	if d.IsPlaying && !st.IsPlaying && w.link != nil {
		st.playOnBar(*w.link, w.now) // a linked room starts on a Link bar line
	} else {
		st.setPlaying(d.IsPlaying, w.now)
	}
	return &playbackEvent{IsPlaying: st.IsPlaying, Anchor: st.Anchor}, nil
}

func (d *SetStepData) apply(next *Session, _ string, _ when) (stamped, error) {
	row := next.State.Pattern.track(d.Track)
	if row == nil {
		return nil, errInvalidStep()
	}
	row[d.Step] = d.On
	return &stepEvent{Track: d.Track, Step: d.Step, On: d.On}, nil
}

func (d *ClearPatternData) apply(next *Session, _ string, _ when) (stamped, error) {
	next.State.Pattern = Pattern{}
	return &clearEvent{}, nil
}
