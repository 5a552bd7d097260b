package appliance

import (
	"sync"
	"time"
)

// Room is a live session: the stored Session plus who is connected to it right now.
// Every change of a room happens under mu, in this order: validate, commit, reply, broadcast.
type Room struct {
	hub *Hub

	mu      sync.Mutex
	s       *Session
	members map[string]*Client     // participant id → their live connection
	grace   map[string]*time.Timer // participant id → the timer that ends their dropped seat
	gone    bool                   // deleted: nobody may join or change it any more
}

func newRoom(h *Hub, s *Session) *Room {
	return &Room{hub: h, s: s, members: map[string]*Client{}, grace: map[string]*time.Timer{}}
}

// commit makes next the room's session once the store has it on disk. Call with mu held.
func (r *Room) commit(next *Session) error {
	next.LastActive = r.hub.now()
	if err := r.hub.store.PutSession(next); err != nil {
		r.hub.log.Error("cannot save session", "room", next.Code, "err", err)
		return errNotSaved()
	}
	r.s = next
	return nil
}

// broadcast queues frame for every connected member but skip. Call with mu held.
func (r *Room) broadcast(frame []byte, skip *Client) {
	for _, m := range r.members {
		if m != skip {
			m.enqueue(frame)
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
			r.resume(c, re, i, d.ResumeToken)
			return nil
		}
	}
	// A resumed seat keeps its name, so only a new seat needs a valid one.
	name, err := NormalizeName(d.UserName)
	if err != nil {
		return err
	}
	if len(r.s.Participants) >= r.hub.cfg.maxParticipants() {
		return Errorf(EROOMFULL, "This session is full: all %d seats are taken.", r.hub.cfg.maxParticipants())
	}
	p, token := newParticipant(name, r.hub.now())
	next := r.s.clone()
	next.Participants = append(next.Participants, p)
	if err := r.commit(next); err != nil {
		return err
	}
	r.members[p.ID] = c
	c.seat(r, p.ID)
	c.enqueue(encode(TypeSessionJoined, re, r.welcome(p, token)))
	r.broadcast(encode(TypeUserJoined, "", map[string]any{"user": r.s.participantView(p)}), c)
	r.hub.log.Info("participant joined", "room", r.s.Code, "participant", p.ID, "participants", len(r.s.Participants))
	return nil
}

// resume gives seat i to c. A connection still holding the seat (a reload can beat the old
// socket's close) is closed with closeTakenOver. Call with mu held.
func (r *Room) resume(c *Client, re string, i int, token string) {
	p := &r.s.Participants[i]
	if old := r.members[p.ID]; old != nil && old != c {
		old.kick(closeTakenOver, "seat taken over by a newer connection")
	}
	if t := r.grace[p.ID]; t != nil {
		t.Stop()
		delete(r.grace, p.ID)
	}
	p.Connected = true
	r.s.LastActive = r.hub.now()
	r.members[p.ID] = c
	c.seat(r, p.ID)
	c.enqueue(encode(TypeSessionJoined, re, r.welcome(*p, token)))
	r.broadcast(encode(TypeUserUpdated, "", map[string]any{"user": r.s.participantView(*p)}), c)
	r.hub.log.Info("participant resumed", "room", r.s.Code, "participant", p.ID)
}

func (r *Room) welcome(you Participant, token string) welcome {
	return welcome{RoomCode: r.s.Code, You: r.s.participantView(you), Participants: r.s.participantsView(),
		State: r.s.stateView(serverMs(r.hub.now())), ResumeToken: token}
}

// lockSeat locks r for a request from c, or returns ENOTINSESSION without the lock when c does
// not hold a seat in it: r is nil (c never sat down), r is gone, or c's seat was taken over
// (a request still in flight from a tab whose seat a reload resumed).
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

// leave removes c's seat at its request. The leaver hears only session:left, not its own
// user-left, so it is out of the broadcast before the seat goes.
func (r *Room) leave(c *Client, re string) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	defer r.mu.Unlock()
	delete(r.members, c.pid)
	if err := r.removeSeat(c.pid, "left"); err != nil {
		r.members[c.pid] = c
		return err
	}
	c.seat(nil, "")
	c.enqueue(encode(TypeSessionLeft, re, map[string]string{"roomCode": r.s.Code}))
	return nil
}

// drop marks c's seat as disconnected and starts its grace period; c's connection is gone.
func (r *Room) drop(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone || r.members[c.pid] != c {
		return // the seat was taken over or left already, or jamd is stopping
	}
	delete(r.members, c.pid)
	i := r.s.seat(c.pid)
	if i < 0 {
		return
	}
	r.s.Participants[i].Connected = false
	r.s.LastActive = r.hub.now()
	r.broadcast(encode(TypeUserUpdated, "", map[string]any{"user": r.s.participantView(r.s.Participants[i])}), nil)
	r.startGrace(c.pid)
	r.hub.log.Info("participant dropped", "room", r.s.Code, "participant", c.pid)
}

// stopGraceTimers stops every grace timer. Call with mu held.
func (r *Room) stopGraceTimers() {
	for pid, t := range r.grace {
		t.Stop()
		delete(r.grace, pid)
	}
}

// startGrace ends a dropped seat after the reconnect grace unless it is resumed first.
// Call with mu held.
func (r *Room) startGrace(pid string) {
	var t *time.Timer
	t = time.AfterFunc(r.hub.cfg.reconnectGrace(), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gone || r.grace[pid] != t {
			return // resumed, replaced by a later drop, or the room is gone
		}
		delete(r.grace, pid)
		if err := r.removeSeat(pid, "grace expired"); ErrorCode(err) == EINTERNAL {
			// The disk refused: the seat stays, dropped; try again after another grace period.
			r.startGrace(pid)
		}
	})
	r.grace[pid] = t
}

// removeSeat takes seat pid out of the session, hands the host role on, and deletes the
// session when it was the last seat. Call with mu held.
func (r *Room) removeSeat(pid, why string) error {
	i := r.s.seat(pid)
	if r.gone || i < 0 {
		return errNotInSession()
	}
	if len(r.s.Participants) == 1 {
		if err := r.hub.deleteRoom(r, "last participant "+why); err != nil {
			return err
		}
		return nil
	}
	next := r.s.clone()
	next.Participants = append(next.Participants[:i:i], next.Participants[i+1:]...)
	hostLeft := next.HostID == pid
	if hostLeft {
		next.HostID = next.nextHost()
	}
	if err := r.commit(next); err != nil {
		return err
	}
	r.broadcast(encode(TypeUserLeft, "", map[string]string{"userId": pid}), nil)
	if hostLeft {
		r.broadcast(encode(TypeHostChanged, "", map[string]string{"hostId": next.HostID}), nil)
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
	now := serverMs(r.hub.now())
	c.enqueue(encode(TypeSync, re, syncData{RoomCode: r.s.Code, Participants: r.s.participantsView(), State: r.s.stateView(now)}))
	return nil
}

// A change is the payload of a request that edits the shared state or pattern.
type change interface {
	// apply validates the change from participant by at server time now (ms) and makes it on
	// next, a copy of the session; it returns the event to reply and broadcast.
	apply(next *Session, by string, now float64) (event map[string]any, err error)
}

// change makes one state or pattern change from c: validate, commit, reply, broadcast.
func (r *Room) change(c *Client, typ, re string, ch change) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	defer r.mu.Unlock()
	next := r.s.clone()
	event, err := ch.apply(next, c.pid, serverMs(r.hub.now()))
	if err != nil {
		return err
	}
	next.State.Version++
	event["version"] = next.State.Version
	event["by"] = c.pid
	if err := r.commit(next); err != nil {
		return err
	}
	c.enqueue(encode(typ, re, event))
	r.broadcast(encode(typ, "", event), c)
	return nil
}

func (d *TempoData) apply(next *Session, _ string, now float64) (map[string]any, error) {
	if err := validTempo(d.Tempo); err != nil {
		return nil, err
	}
	st := &next.State
	st.setTempo(d.Tempo, now)
	return map[string]any{"tempo": st.Tempo, "anchor": st.Anchor}, nil
}

func (d *KeyData) apply(next *Session, _ string, _ float64) (map[string]any, error) {
	if err := validKey(d.Key, d.Scale); err != nil {
		return nil, err
	}
	st := &next.State
	st.Key, st.Scale = d.Key, d.Scale
	return map[string]any{"key": st.Key, "scale": st.Scale}, nil
}

func (d *PlaybackData) apply(next *Session, by string, now float64) (map[string]any, error) {
	if next.HostID != by {
		return nil, Errorf(EFORBIDDEN, "Only the host can start and stop playback.")
	}
	st := &next.State
	st.setPlaying(d.IsPlaying, now)
	return map[string]any{"isPlaying": st.IsPlaying, "anchor": st.Anchor}, nil
}

func (d *SetStepData) apply(next *Session, _ string, _ float64) (map[string]any, error) {
	row := next.State.Pattern.track(d.Track)
	if row == nil {
		return nil, errInvalidStep()
	}
	row[d.Step] = d.On
	return map[string]any{"track": d.Track, "step": d.Step, "on": d.On}, nil
}

func (d *ClearPatternData) apply(next *Session, _ string, _ float64) (map[string]any, error) {
	next.State.Pattern = Pattern{}
	return map[string]any{}, nil
}
