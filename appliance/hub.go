package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hub owns every live room and connection.
type Hub struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	now     func() time.Time
	limiter *rateLimiter // session creations per device

	// The door (guard.go).
	hosts    *hostList
	door     doorCount
	buckets  tokenBuckets // request budgets per seat and per device (client.go)
	creates  *rateLimiter // session creations from everyone together
	misses   *rateLimiter // room codes that named no session, per device
	qrs      *rateLimiter // QR codes rendered, per device
	refusals *tally       // connections and requests refused at the door
	guesses  *tally       // room-code misses
	metrics  *metrics
	poller   *poller // reads every socket; nil: each connection reads with a goroutine (read.go)

	mu      sync.Mutex
	rooms   map[string]*Room
	clients map[*Client]struct{}
	closed  bool
	linked  *Room          // the room linked to Ableton Link, if any: one per box
	conns   sync.WaitGroup // one per registered connection, done when its goroutines end

	followers sync.WaitGroup // the linked room's goroutine that follows the Link session

	sessionsCreated  atomic.Int64
	connectionErrors atomic.Int64
	endedSessions    atomic.Int64
	endedSeconds     atomic.Int64 // summed lifetime of ended sessions
}

func newHub(cfg Config, store Store, log *slog.Logger) (*Hub, error) {
	h := &Hub{cfg: cfg, store: store, log: log, now: cfg.Now, rooms: map[string]*Room{}, clients: map[*Client]struct{}{},
		limiter:  newRateLimiter(cfg.CreateRateLimit, time.Minute),
		hosts:    newHostList(cfg.Hosts),
		creates:  newRateLimiter(cfg.createsPerMinute(), time.Minute),
		misses:   newRateLimiter(missesPerMinute, time.Minute),
		qrs:      newRateLimiter(qrsPerMinute, time.Minute),
		refusals: newTally("requests refused at the door", "if these are your own devices, see jamd serve --help for --allowed-hosts and the caps"),
		guesses:  newTally("room codes tried that name no session", "a device guessing codes is slowed down; lock rooms that should stay private"),
	}
	if h.now == nil {
		h.now = steadyClock()
	}
	h.metrics = newMetrics(h)
	sessions, err := store.Sessions()
	if err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	// Every seat comes back as it was left: one that was away is away, and one that was
	// connected (or had only just dropped) is reconnecting with a fresh grace period, so its
	// owner can resume it. The host role stays as it was.
	now := h.now()
	for _, s := range sessions {
		if s.JoinKey == "" { // stored before join keys: written with the next commit
			s.JoinKey = newJoinKey()
		}
		r := newRoom(h, s)
		r.mu.Lock()
		for i := range s.Participants {
			p := &s.Participants[i]
			if !p.AwaySince.IsZero() && now.Sub(p.AwaySince) >= cfg.reconnectGrace() {
				p.Presence = Away
				continue
			}
			if p.AwaySince.IsZero() {
				p.AwaySince = now
			}
			p.Presence = Reconnecting
			r.startGrace(p.ID, cfg.reconnectGrace())
		}
		r.mu.Unlock()
		h.rooms[s.Code] = r
	}
	log.Info("sessions loaded", "sessions", len(sessions))
	h.relink()
	if !goroutineReads {
		if h.poller, err = newPoller(); err != nil {
			log.Debug("no epoll here: a goroutine reads each connection", "err", err)
		}
	}
	return h, nil
}

// relink links the stored room that was linked when jamd stopped. With Link off, or when
// another room holds the link already, it stays unlinked (its stored wish is kept).
func (h *Hub) relink() {
	for _, r := range h.rooms {
		r.mu.Lock()
		if r.s.Link {
			switch {
			case h.cfg.Linker == nil:
				h.log.Info("session was linked to Ableton Link, which is off", "room", r.s.Code)
			default:
				if err := r.startLink(); err != nil {
					h.log.Warn("cannot link the session again", "room", r.s.Code, "err", err)
				}
			}
		}
		r.mu.Unlock()
	}
}

// handle answers one request from c: the one place a request is routed (DecodeRequest gave
// each message type its own payload type). It runs where c's messages are handled, one at a
// time and in order (read.go).
func (h *Hub) handle(c *Client, req Request) {
	var err error
	r := c.room // nil while c holds no seat: the room's methods then answer ENOTINSESSION
	switch d := req.Data.(type) {
	case *PingData:
		c.enqueue(pongFrame(req.ID, d.T0, serverMs(h.now())))
	case *CreateData:
		err = h.create(c, req.ID, d)
	case *JoinData:
		err = h.join(c, req.ID, d)
	case *LeaveData:
		err = r.leave(c, req.ID)
	case *RequestSyncData:
		err = r.sync(c, req.ID)
	case *RemoveData:
		err = r.removeParticipant(c, req.ID, d)
	case *SettingsData:
		err = r.changeSettings(c, req.ID, d)
	case *SetHostData:
		err = r.setHost(c, req.ID, d)
	case *LinkControlData:
		err = r.linkControl(c, req.ID, d)
	case change: // tempo, key, playback, set-step, clear
		err = r.change(c, req.Type, req.ID, d)
	default: // a decoder in the table without a case here: a bug, but the client still gets an answer
		err = Errorf(EUNKNOWNTYPE, "This jam box does not know the message type %q.", req.Type)
	}
	if err != nil {
		c.enqueue(errorFrame(req.ID, err))
	}
}

// create starts a session with c as its host.
func (h *Hub) create(c *Client, re string, d *CreateData) error {
	if c.inSession() {
		return errAlreadyInSession()
	}
	name, err := NormalizeName(d.UserName)
	if err != nil {
		return err
	}
	if !h.limiter.allow(c.device, h.now()) {
		return Errorf(ERATELIMITED, "Too many sessions were started from this device just now. Wait a minute and try again.")
	}
	if !h.creates.allow("", h.now()) {
		h.refusals.add(c.device)
		return Errorf(ERATELIMITED, "Too many sessions were started on this jam box just now. Wait a minute and try again.")
	}
	h.mu.Lock()
	full := len(h.rooms) >= h.cfg.maxSessions()
	h.mu.Unlock()
	if full {
		h.refusals.add(c.device)
		return Errorf(EBOXFULL, "This jam box holds as many sessions as it can. Join one of them, or try again later.")
	}
	now := h.now()
	host, token := newParticipant(name, now)
	s := &Session{CreatedAt: now, HostID: host.ID, JoinKey: newJoinKey(), Participants: []Participant{host}, State: newState(now)}
	r := newRoom(h, s)

	// Hold the new room while it is committed, so nobody joins a session that is not on disk yet.
	r.mu.Lock()
	defer r.mu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return Errorf(EINTERNAL, "The jam box is restarting. Try again in a moment.")
	}
	for s.Code = newRoomCode(); h.rooms[s.Code] != nil; s.Code = newRoomCode() {
	}
	h.rooms[s.Code] = r
	h.mu.Unlock()
	if err := r.commit(s); err != nil {
		r.gone = true
		h.forget(s.Code)
		return err
	}
	h.sessionsCreated.Add(1)
	r.members[host.ID] = c
	c.seat(r, host.ID)
	c.enqueue(encode(TypeSessionCreated, re, r.welcome(host, token)))
	h.log.Info("session created", "room", s.Code, "participant", host.ID, "remote", c.remoteIP)
	return nil
}

// join seats c in the session named by d.RoomCode.
func (h *Hub) join(c *Client, re string, d *JoinData) error {
	if c.inSession() {
		return errAlreadyInSession()
	}
	r, err := h.lookUp(c.device, d.RoomCode)
	if err != nil {
		return err
	}
	return r.join(c, re, d)
}

// lookUp finds the live room a device names by its code. A device that has named too many codes
// that name no session lately, over HTTP and WebSocket together, is slowed down: guessing the
// code of a room must take far longer than any rehearsal.
func (h *Hub) lookUp(device, rawCode string) (*Room, error) {
	now := h.now()
	if h.misses.full(device, now) {
		return nil, Errorf(ERATELIMITED, "Too many room codes that name no session were tried from this device. Wait a minute, then check the code.")
	}
	code, err := NormalizeRoomCode(rawCode)
	if err == nil {
		if r := h.room(code); r != nil {
			return r, nil
		}
		err = errRoomNotFound()
	}
	h.misses.allow(device, now)
	h.guesses.add(device)
	return nil, err
}

// room returns the live room with code, or nil.
func (h *Hub) room(code string) *Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[code]
}

// roomList copies the live rooms out of the map, so they can be visited without holding mu
// (lock order: room, then hub). Call with mu held.
func (h *Hub) roomList() []*Room {
	rooms := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// forget drops a room from the map. The caller holds the room's lock (lock order: room, hub).
func (h *Hub) forget(code string) {
	h.mu.Lock()
	delete(h.rooms, code)
	h.mu.Unlock()
}

// deleteRoom deletes r's session from the store and the map. Call with r.mu held.
func (h *Hub) deleteRoom(r *Room, why string) error {
	if err := h.store.DeleteSession(r.s.Code); err != nil {
		h.log.Error("cannot delete session, it stays for now: check the disk (df -h, dmesg)", "room", r.s.Code, "err", err)
		return errNotSaved()
	}
	r.gone = true
	r.stopGraceTimers()
	if r.link != nil {
		r.stopLink()
	}
	h.forget(r.s.Code)
	h.endedSessions.Add(1)
	h.endedSeconds.Add(int64(h.now().Sub(r.s.CreatedAt).Seconds()))
	h.metrics.sessionEnded(why)
	h.log.Info("session deleted", "room", r.s.Code, "why", why)
	return nil
}

// sweep frees the seats that have been away longer than the seat hold, and deletes sessions
// that nobody is connected to and that have been idle for the TTL.
func (h *Hub) sweep() {
	h.mu.Lock()
	rooms := h.roomList()
	h.mu.Unlock()
	now := h.now()
	for _, r := range rooms {
		r.mu.Lock()
		for _, p := range slices.Clone(r.s.Participants) {
			if !r.gone && p.Presence == Away && now.Sub(p.AwaySince) > h.cfg.seatHold() {
				r.removeSeat(p.ID, "away too long", nil, "", nil) // a refusing disk: try again next sweep
			}
		}
		if !r.gone && len(r.members) == 0 && r.s.LastActive.Before(now.Add(-h.cfg.sessionTTL())) {
			h.deleteRoom(r, "idle")
		}
		r.mu.Unlock()
	}
	for _, l := range []*rateLimiter{h.limiter, h.creates, h.misses, h.qrs} {
		l.forget(now)
	}
	h.buckets.forget(now, time.Minute)
	h.refusals.flush(h.log)
	h.guesses.flush(h.log)
}

// runSweeper sweeps until ctx is done.
func (h *Hub) runSweeper(ctx context.Context) {
	// At least once a minute: the door's tallies are reported as they are flushed.
	t := time.NewTicker(min(h.cfg.sessionTTL()/10, h.cfg.seatHold()/10, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.sweep()
		}
	}
}

// runPinger pings every connection that has been quiet for its pingGap, until ctx is done: one
// goroutine and one ticker for the box rather than one per connection.
func (h *Hub) runPinger(ctx context.Context) {
	t := time.NewTicker(pingSpread / 4)
	defer t.Stop()
	var clients []*Client
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			clients = clients[:0]
			for c := range h.clients {
				clients = append(clients, c)
			}
			h.mu.Unlock()
			for _, c := range clients {
				c.ping(now)
			}
			clear(clients)
		}
	}
}

// register adds a live connection; it returns false once the hub is closing.
func (h *Hub) register(c *Client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	h.conns.Add(1)
	return true
}

// unregister forgets a connection whose goroutines have ended.
func (h *Hub) unregister(c *Client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.conns.Done()
}

// close closes every connection with 1001 and stops every grace timer: the seats stay on disk.
func (h *Hub) close() {
	h.mu.Lock()
	h.closed = true
	clients := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	rooms := h.roomList()
	h.mu.Unlock()
	for _, c := range clients {
		c.kick(closeGoingAway, "jamd is shutting down")
	}
	if h.poller != nil {
		h.poller.close()
	}
	for _, r := range rooms {
		r.mu.Lock()
		r.gone = true // no more changes: the process is stopping, and seats stay as they are on disk
		r.stopGraceTimers()
		if r.link != nil {
			r.stopLink() // goodbye to the Link session; the room stays linked on disk
		}
		r.mu.Unlock()
	}
	h.followers.Wait()
}

// Stats is what /api/stats reports.
type Stats struct {
	ActiveSessions        int     `json:"activeSessions"`
	Participants          int     `json:"participants"`
	Connections           int     `json:"connections"`
	SessionsCreated       int64   `json:"sessionsCreated"`
	AverageSessionSeconds float64 `json:"averageSessionSeconds"` // of sessions ended since start
	ConnectionErrors      int64   `json:"connectionErrors"`
}

func (h *Hub) stats() Stats {
	h.mu.Lock()
	st := Stats{ActiveSessions: len(h.rooms), Connections: len(h.clients)}
	rooms := h.roomList()
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		st.Participants += len(r.s.Participants)
		r.mu.Unlock()
	}
	st.SessionsCreated = h.sessionsCreated.Load()
	st.ConnectionErrors = h.connectionErrors.Load()
	if n := h.endedSessions.Load(); n > 0 {
		st.AverageSessionSeconds = float64(h.endedSeconds.Load()) / float64(n)
	}
	return st
}

// sessionInfo is what GET /api/sessions/{code} tells anyone: whether the session exists (or
// the answer is 404) and whether they could take a seat in it. The rest is for its members.
type sessionInfo struct {
	RoomCode string `json:"roomCode"`
	Joinable bool   `json:"joinable"`
	keyOK    bool   // the request carried the session's join key
}

// sessionInfo looks up a session for device, counting a miss against it like a join would.
func (h *Hub) sessionInfo(device, rawCode, joinKey string) (sessionInfo, error) {
	r, err := h.lookUp(device, rawCode)
	if err != nil {
		return sessionInfo{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return sessionInfo{}, errRoomNotFound()
	}
	keyOK := r.s.keyMatches(joinKey)
	return sessionInfo{RoomCode: r.s.Code, Joinable: keyOK || !r.s.Settings.Locked, keyOK: keyOK}, nil
}
