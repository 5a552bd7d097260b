package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Discovery timing, as Ableton's peers do it.
const (
	// announceTTL is how long, in seconds, peers keep our state without hearing from us.
	announceTTL = 5
	// announcePeriod is how often we announce: TTL/20, so a few lost datagrams lose nothing.
	announcePeriod = announceTTL * time.Second / 20
	// minSendGap is the least time between two announcements, however fast the state changes.
	minSendGap = 50 * time.Millisecond
	// ttlGrace pads a peer's TTL before it is dropped, against over-eager timeouts.
	ttlGrace = time.Second
	// rescanPeriod is how often the interfaces are listed again, to follow Wi-Fi coming and going.
	rescanPeriod = 5 * time.Second
	// tickPeriod paces dropping silent peers and re-measuring.
	tickPeriod = 250 * time.Millisecond
)

// Config configures a Peer. The zero value is a peer at 120 BPM on every interface, on a
// monotonic clock, logging nothing.
type Config struct {
	// Interfaces names the network interfaces to speak Link on. Empty means every interface
	// that is up, has an IPv4 address and can multicast, plus loopback: Link apps on this
	// machine (Ableton Live on the laptop running jamd) are heard only over loopback.
	Interfaces []string
	// Now is the host clock that every time in the API is on: any clock that never jumps.
	// The appliance passes its server clock, so Link times are server times. Nil means the
	// time since New, from the monotonic clock.
	Now func() time.Duration
	// Tempo is the tempo of the session this peer founds before it meets others, in BPM,
	// within [MinTempo, MaxTempo]. Zero means 120.
	Tempo float64
	// Log receives the peer's log lines. Nil means none.
	Log *slog.Logger
	// OnChange, if set, is called when the session's tempo, its start/stop state or the number
	// of peers changed because of others (never for this peer's own commits). Calls come from
	// one goroutine, one at a time, with the state at the time of the call; quick changes may
	// be reported once. It must not block for long.
	OnChange func(tl Timeline, peers int)
}

// Peer is one Ableton Link peer. Create it with New, run it with Serve; every other method may
// be called at any time from any goroutine, before, during and after Serve.
type Peer struct {
	cfg Config
	log *slog.Logger

	mu           sync.Mutex // guards everything below
	s            *session
	mc           *ipv4.PacketConn
	gateways     map[string]*gateway
	measurements map[netip.AddrPort]*measurement
	serving      bool
	closed       bool
	lastRescan   time.Time

	wg     sync.WaitGroup // reader goroutines
	kick   chan struct{}  // our state changed: announce it
	notify chan struct{}  // others changed the session: call OnChange
}

// New returns a Peer founding a session of its own, not yet on the network.
func New(cfg Config) (*Peer, error) {
	if cfg.Tempo == 0 {
		cfg.Tempo = 120
	}
	if !(cfg.Tempo >= MinTempo && cfg.Tempo <= MaxTempo) {
		return nil, fmt.Errorf("link: Config.Tempo %v is outside [%v, %v]", cfg.Tempo, MinTempo, MaxTempo)
	}
	if cfg.Now == nil {
		start := time.Now()
		cfg.Now = func() time.Duration { return time.Since(start) }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Peer{
		cfg: cfg, log: cfg.Log,
		gateways:     map[string]*gateway{},
		measurements: map[netip.AddrPort]*measurement{},
		kick:         make(chan struct{}, 1),
		notify:       make(chan struct{}, 1),
	}
	p.s = newSession(p.now, time.Now, cfg.Log, cfg.Tempo)
	p.s.stateChanged = false
	return p, nil
}

// now reads the host clock in µs.
func (p *Peer) now() int64 { return micros(p.cfg.Now()) }

// Now returns the host clock's current time, the clock every Timeline time is on.
func (p *Peer) Now() time.Duration { return p.cfg.Now() }

// Peers returns how many other peers are in our session.
func (p *Peer) Peers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s.count
}

// Timeline returns the session's state now, to read or to change and Commit.
func (p *Peer) Timeline() Timeline {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s.snapshot()
}

// Commit publishes what the caller changed on tl, a Timeline from p.Timeline: a new tempo or
// beat position and a start or stop. A start/stop older than the session's current one is
// dropped, as Link drops it.
func (p *Peer) Commit(tl Timeline) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.commit(tl)
	p.act()
}

// SetTempo sets the session's tempo from host time at on (see Timeline.SetTempo).
func (p *Peer) SetTempo(bpm float64, at time.Duration) {
	p.change(func(tl *Timeline) { tl.SetTempo(bpm, at) })
}

// SetPlaying starts or stops the session's transport at host time at.
func (p *Peer) SetPlaying(playing bool, at time.Duration) {
	p.change(func(tl *Timeline) { tl.SetPlaying(playing, at) })
}

func (p *Peer) change(fn func(*Timeline)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tl := p.s.snapshot()
	fn(&tl)
	p.s.commit(tl)
	p.act()
}

// act carries out what the session asked for. Called with p.mu held, after every change.
func (p *Peer) act() {
	for len(p.s.toMeasure) > 0 {
		reqs := p.s.toMeasure
		p.s.toMeasure = nil
		for _, r := range reqs {
			p.startMeasurement(r)
		}
	}
	if p.s.stateChanged {
		p.s.stateChanged = false
		signal(p.kick)
	}
	if p.s.changedByOthers {
		p.s.changedByOthers = false
		signal(p.notify)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Serve runs the peer on the network until ctx is done, then says goodbye so that peers drop
// it at once, and returns nil. It fails at once if the discovery port cannot be opened. A Peer
// serves once.
func (p *Peer) Serve(ctx context.Context) error {
	p.mu.Lock()
	if p.serving {
		p.mu.Unlock()
		return errors.New("link: Serve called twice")
	}
	p.serving = true
	p.mu.Unlock()

	mc, err := listenDiscovery(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.mc = mc
	p.rescan()
	p.mu.Unlock()
	p.wg.Go(p.readDiscovery)

	done := make(chan struct{})
	notified := make(chan struct{})
	go func() { defer close(notified); p.notifyLoop(done) }()

	announce := time.NewTimer(0)
	defer announce.Stop()
	tick := time.NewTicker(tickPeriod)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			p.shutdown()
			close(done)
			<-notified
			return nil
		case <-p.kick:
			if wait := minSendGap - time.Since(last); wait > 0 {
				announce.Reset(wait)
				continue
			}
			p.announce()
			last = time.Now()
			announce.Reset(announcePeriod)
		case <-announce.C:
			p.announce()
			last = time.Now()
			announce.Reset(announcePeriod)
		case <-tick.C:
			p.mu.Lock()
			p.s.tick()
			if time.Since(p.lastRescan) >= rescanPeriod {
				p.rescan()
			}
			p.act()
			p.mu.Unlock()
		}
	}
}

func (p *Peer) notifyLoop(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-p.notify:
			if p.cfg.OnChange != nil {
				p.mu.Lock()
				tl, n := p.s.snapshot(), p.s.count
				p.mu.Unlock()
				p.cfg.OnChange(tl, n)
			}
		}
	}
}

// announce multicasts our state on every gateway.
func (p *Peer) announce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, gw := range p.gateways {
		p.sendState(gw, msgAlive, groupAddr)
	}
}

func (p *Peer) sendState(gw *gateway, typ byte, to netip.AddrPort) {
	st := p.s.state()
	st.endpoint = gw.endpoint()
	p.send(gw.conn, to, encodeDiscovery(typ, announceTTL, p.s.node, st))
}

// send writes one datagram. A failure is logged and otherwise ignored: the next announcement or
// ping is never far off. Called with p.mu held.
func (p *Peer) send(c *net.UDPConn, to netip.AddrPort, b []byte) {
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil && !p.closed {
		p.log.Debug("link: send failed", "remote", to, "err", err)
	}
}

// shutdown says goodbye on every gateway and closes everything.
func (p *Peer) shutdown() {
	p.mu.Lock()
	p.closed = true
	for _, gw := range p.gateways {
		p.send(gw.conn, groupAddr, encodeDiscovery(msgByeBye, 0, p.s.node, nodeState{}))
		gw.close()
	}
	clear(p.gateways)
	for _, m := range p.measurements {
		m.timer.Stop()
	}
	clear(p.measurements)
	_ = p.mc.Close()
	p.mu.Unlock()
	p.wg.Wait()
}

// rescan opens gateways on new interfaces and closes those whose interface went away or
// changed address. Called with p.mu held.
func (p *Peer) rescan() {
	p.lastRescan = time.Now()
	want, err := wantedInterfaces(p.cfg.Interfaces)
	if err != nil {
		p.log.Warn("link: cannot list interfaces", "err", err)
		return
	}
	for name, gw := range p.gateways {
		if w, ok := want[name]; !ok || w.addr != gw.addr || w.ifi.Index != gw.index {
			p.log.Info("link: interface gone", "interface", name, "addr", gw.addr)
			ifi := net.Interface{Index: gw.index, Name: gw.name}
			_ = p.mc.LeaveGroup(&ifi, &net.UDPAddr{IP: groupIP})
			gw.close()
			delete(p.gateways, name)
		}
	}
	for name, w := range want {
		if p.gateways[name] != nil {
			continue
		}
		gw, err := openGateway(p.mc, w)
		if err != nil {
			p.log.Warn("link: cannot use interface", "interface", name, "err", err)
			continue
		}
		p.log.Info("link: speaking Link", "interface", name, "addr", w.addr, "measurement", gw.endpoint())
		p.gateways[name] = gw
		p.wg.Go(func() { p.readResponses(gw) })
		p.wg.Go(func() { p.readMeasurements(gw) })
		signal(p.kick)
	}
}

// gatewayByIndex finds the gateway of an interface index. Called with p.mu held.
func (p *Peer) gatewayByIndex(index int) *gateway {
	for _, gw := range p.gateways {
		if gw.index == index {
			return gw
		}
	}
	return nil
}

// readDiscovery reads the multicast announcements and bye-byes of every interface.
func (p *Peer) readDiscovery() {
	buf := make([]byte, maxMessageSize+1)
	for {
		n, cm, from, err := p.mc.ReadFrom(buf)
		if err != nil {
			if p.isClosed() {
				return
			}
			p.log.Debug("link: read discovery", "err", err)
			continue
		}
		if cm == nil {
			continue
		}
		udp, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		p.mu.Lock()
		if gw := p.gatewayByIndex(cm.IfIndex); gw != nil {
			p.onDiscovery(gw, udp.AddrPort(), buf[:n])
		}
		p.mu.Unlock()
	}
}

// readResponses reads the unicast answers to our announcements on one gateway.
func (p *Peer) readResponses(gw *gateway) {
	buf := make([]byte, maxMessageSize+1)
	for {
		n, from, err := gw.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed: the gateway went away or Serve ended
		}
		p.mu.Lock()
		p.onDiscovery(gw, from, buf[:n])
		p.mu.Unlock()
	}
}

// readMeasurements reads pings from peers measuring us and pongs for our measurements.
func (p *Peer) readMeasurements(gw *gateway) {
	buf := make([]byte, maxMessageSize+1)
	for {
		n, from, err := gw.ping.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		msg, err := decodeMeasure(buf[:n])
		if err != nil {
			p.log.Debug("link: dropped measurement datagram", "remote", from, "err", err)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		p.mu.Lock()
		if !p.closed {
			if msg.typ == msgPing {
				p.onPing(gw, from, msg)
			} else {
				p.onPong(from, msg)
			}
			p.act()
		}
		p.mu.Unlock()
	}
}

// onDiscovery takes one discovery datagram. Called with p.mu held.
func (p *Peer) onDiscovery(gw *gateway, from netip.AddrPort, b []byte) {
	m, err := decodeDiscovery(b)
	if err != nil {
		p.log.Debug("link: dropped discovery datagram", "remote", from, "err", err)
		return
	}
	if p.closed || m.group != 0 || m.from == p.s.node {
		return
	}
	switch m.typ {
	case msgAlive:
		p.sendState(gw, msgResponse, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		p.s.sawPeer(m.from, m.state, gw.name, time.Duration(m.ttl)*time.Second+ttlGrace)
	case msgResponse:
		p.s.sawPeer(m.from, m.state, gw.name, time.Duration(m.ttl)*time.Second+ttlGrace)
	case msgByeBye:
		p.s.peerLeft(m.from)
	}
	p.act()
}

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
