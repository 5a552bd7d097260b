package link

import (
	"math"
	"net/netip"
	"slices"
	"time"
)

// The measurement exchange, as Ableton's peers run it.
const (
	// measurePoints: a measurement ends once it has more than this many data points (two per
	// round trip after the first).
	measurePoints = 100
	// measureTimeout: with no pong for this long, ping again; after measureRetries such
	// timeouts the measurement fails.
	measureTimeout = 50 * time.Millisecond
	measureRetries = 5
)

// measurement is one running exchange of pings and pongs with a peer's measurement endpoint,
// estimating the offset from our host clock to the ghost clock of that peer's session.
type measurement struct {
	session  nodeID
	to       netip.AddrPort
	gw       *gateway
	points   []float64
	timeouts int
	timer    *time.Timer
}

// startMeasurement begins measuring req's session. Called with p.mu held.
func (p *Peer) startMeasurement(req measureRequest) {
	to := netip.AddrPortFrom(req.endpoint.Addr().Unmap(), req.endpoint.Port())
	gw := p.gateways[req.gateway]
	if _, busy := p.measurements[to]; busy || gw == nil || !to.Addr().Is4() || to.Port() == 0 || p.closed {
		// Failing forgets the session and its peers: their next announcement, within 250 ms,
		// makes them new and asks again. A peer still being measured for its old session
		// fails that measurement at its next pong, so it is free by then.
		p.s.measured(req.session, 0, false)
		return
	}
	m := &measurement{session: req.session, to: to, gw: gw}
	p.measurements[to] = m
	p.send(gw.ping, to, encodePing(p.now(), 0))
	m.timer = time.AfterFunc(measureTimeout, func() { p.measureTimedOut(m) })
}

func (p *Peer) measureTimedOut(m *measurement) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.measurements[m.to] != m {
		return
	}
	if m.timeouts < measureRetries {
		m.timeouts++
		p.send(m.gw.ping, m.to, encodePing(p.now(), 0))
		m.timer.Reset(measureTimeout)
		return
	}
	p.finishMeasurement(m, false)
	p.act()
}

// onPong takes a pong. Each gives a data point from the ghost time it carries against the
// midpoint of our round trip; the next ping echoes that ghost time back, so the next pong
// gives a second point from the midpoint of the responder's round trip. Called with p.mu held.
func (p *Peer) onPong(from netip.AddrPort, msg measureMsg) {
	m := p.measurements[from]
	if m == nil {
		return
	}
	if msg.session != m.session {
		p.finishMeasurement(m, false) // the peer moved on to another session
		return
	}
	now := p.now()
	p.send(m.gw.ping, m.to, encodePing(now, msg.ghostTime))
	if msg.ghostTime != 0 && msg.hostTime != 0 {
		m.points = append(m.points, float64(msg.ghostTime)-float64(now+msg.hostTime)/2)
		if msg.prevGhost != 0 {
			m.points = append(m.points, float64(msg.ghostTime+msg.prevGhost)/2-float64(msg.hostTime))
		}
	}
	if len(m.points) > measurePoints {
		p.finishMeasurement(m, true)
		return
	}
	m.timer.Reset(measureTimeout)
}

func (p *Peer) finishMeasurement(m *measurement, ok bool) {
	m.timer.Stop()
	delete(p.measurements, m.to)
	var offset int64
	if ok {
		offset = int64(math.Round(median(m.points)))
		p.log.Debug("link: measured session", "session", m.session, "offset_us", offset, "remote", m.to)
	} else {
		p.log.Debug("link: measuring failed", "session", m.session, "remote", m.to)
	}
	p.s.measured(m.session, offset, ok)
}

// median is the ghost-time filter: the median of the data points, which shrugs off the round
// trips a busy network or scheduler stretched. xs must not be empty; it is reordered.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// onPing answers a ping with our session, our ghost time now and the ping's payload. Called
// with p.mu held.
func (p *Peer) onPing(gw *gateway, from netip.AddrPort, msg measureMsg) {
	p.send(gw.ping, from, encodePong(p.s.id, p.now()+p.s.offset, msg.payload))
}
