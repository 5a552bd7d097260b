package appliance

// The host role, and what the host may do.
//
// The band must never be stuck without someone who can press Play, and a host who steps out for a
// coffee must not lose the room for good. So:
//
//   - While the host is connected or reconnecting (within the reconnect grace), the role stays.
//   - Once the host is away, the longest-seated connected participant stands in: they are the
//     host (HostID) until the host comes back, and HomeHostID remembers whom to give it back to.
//     A stand-in who goes away too is replaced the same way. With nobody connected the role stays.
//   - When the home host's seat is connected again, the role goes back to them.
//   - A host who hands the role on (session:set-host) or leaves gives it away for good; a
//     stand-in who hands it on only passes the stand-in's part: it still goes home.
//
// settleHost applies the first three rules after every change of presence.

// settledHost returns who should run the room and whom the role returns to, by the rules above.
func (s *Session) settledHost() (host, home string) {
	host, home = s.HostID, s.HomeHostID
	if home != "" {
		switch i := s.seat(home); {
		case i < 0:
			home = "" // the home host's seat is gone: the stand-in keeps the role
		case s.Participants[i].Presence == Connected:
			return home, ""
		}
	}
	i := s.seat(host)
	if i < 0 {
		host = s.firstConnected()
		if host == "" && len(s.Participants) > 0 {
			host = s.Participants[0].ID
		}
		return host, home
	}
	if s.Participants[i].Presence == Away {
		if next := s.firstConnected(); next != "" {
			if home == "" {
				home = host
			}
			host = next
		}
	}
	return host, home
}

// commitSeats settles who runs the room on next (see host.go) and commits it. It returns the
// session:host-changed frame to send after the seat's own events when the role moved, or nil.
// Call with mu held.
func (r *Room) commitSeats(next *Session) ([]byte, error) {
	host, home := r.s.HostID, r.s.HomeHostID
	next.HostID, next.HomeHostID = next.settledHost()
	if err := r.commit(next); err != nil {
		return nil, err
	}
	if next.HostID == host && next.HomeHostID == home {
		return nil, nil
	}
	r.hub.log.Info("host changed", "room", r.s.Code, "host", next.HostID, "home", next.HomeHostID)
	return encode(TypeHostChanged, "", hostChanged{HostID: next.HostID, HomeHostID: next.HomeHostID}), nil
}

// settleHost commits a change of host that the seats' presence calls for, and returns the
// frame that announces it, or nil when nothing moved (or the disk refused: then the role stays
// until the next change of presence). Call with mu held.
func (r *Room) settleHost() []byte {
	if host, home := r.s.settledHost(); host == r.s.HostID && home == r.s.HomeHostID {
		return nil
	}
	frame, err := r.commitSeats(r.s.clone())
	if err != nil {
		return nil
	}
	return frame
}

// hostChanged is the data of session:host-changed.
type hostChanged struct {
	HostID     string `json:"hostId"`
	HomeHostID string `json:"homeHostId,omitempty"`
	By         string `json:"by,omitempty"` // who handed the role on; absent when presence moved it
}

// hostAction locks r for a host-only request from c: ENOTINSESSION as lockSeat, EFORBIDDEN
// (without the lock) when c is not the host.
func (r *Room) hostAction(c *Client, what string) error {
	if err := r.lockSeat(c); err != nil {
		return err
	}
	if r.s.HostID != c.pid {
		r.mu.Unlock()
		return Errorf(EFORBIDDEN, "Only the host can %s.", what)
	}
	return nil
}

// removeParticipant takes a seat out at the host's request; its token no longer works here.
func (r *Room) removeParticipant(c *Client, re string, d *RemoveData) error {
	if err := r.hostAction(c, "remove someone"); err != nil {
		return err
	}
	defer r.mu.Unlock()
	i := r.s.seat(d.UserID)
	switch {
	case i < 0:
		return errNoSuchParticipant()
	case d.UserID == c.pid:
		return Errorf(EINVALIDPARTICIPANT, "You cannot remove yourself: use Leave instead.")
	case d.UserID == r.s.HomeHostID:
		return Errorf(EINVALIDPARTICIPANT, "You are standing in for the host: only they can be asked to leave, not removed.")
	}
	removed := r.members[d.UserID]
	hash := r.s.Participants[i].TokenHash
	if err := r.removeSeat(d.UserID, "removed", c, re, func(next *Session) {
		next.Removed = append(next.Removed, hash)
		if len(next.Removed) > maxRemoved {
			next.Removed = next.Removed[len(next.Removed)-maxRemoved:]
		}
	}); err != nil {
		return err
	}
	if removed != nil {
		// Its connection stays open but holds no seat any more (Room.holds); the web app shows why.
		removed.enqueue(encode(TypeSessionLeft, "", sessionLeft{RoomCode: r.s.Code, Reason: "removed"}))
	}
	return nil
}

// changeSettings locks or unlocks the room, or opens or closes playback to everyone.
func (r *Room) changeSettings(c *Client, re string, d *SettingsData) error {
	if err := r.hostAction(c, "change the room's settings"); err != nil {
		return err
	}
	defer r.mu.Unlock()
	next := r.s.clone()
	if d.Locked != nil {
		next.Settings.Locked = *d.Locked
	}
	if d.OpenPlayback != nil {
		next.Settings.OpenPlayback = *d.OpenPlayback
	}
	if err := r.commit(next); err != nil {
		return err
	}
	event := settingsEvent{Settings: r.s.Settings, By: c.pid}
	c.enqueue(encode(TypeSettings, re, event))
	r.broadcast(encode(TypeSettings, "", event), c)
	return nil
}

// settingsEvent is the data of the session:settings reply and event.
type settingsEvent struct {
	Settings
	By string `json:"by"`
}

// setHost hands the host role to another participant.
func (r *Room) setHost(c *Client, re string, d *SetHostData) error {
	if err := r.hostAction(c, "hand the host role on"); err != nil {
		return err
	}
	defer r.mu.Unlock()
	i := r.s.seat(d.UserID)
	if i < 0 {
		return errNoSuchParticipant()
	}
	if p := r.s.Participants[i]; p.Presence == Away {
		return Errorf(EINVALIDPARTICIPANT, "%s is away: hand the role to someone who is here.", p.Name)
	}
	next := r.s.clone()
	next.HostID = d.UserID
	if next.HomeHostID == d.UserID {
		next.HomeHostID = "" // handed back home
	}
	if err := r.commit(next); err != nil {
		return err
	}
	event := hostChanged{HostID: r.s.HostID, HomeHostID: r.s.HomeHostID, By: c.pid}
	c.enqueue(encode(TypeHostChanged, re, event))
	r.broadcast(encode(TypeHostChanged, "", event), c)
	r.hub.log.Info("host handed on", "room", r.s.Code, "host", r.s.HostID, "by", c.pid)
	return nil
}
