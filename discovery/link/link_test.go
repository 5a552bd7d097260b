package link_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"jamd/discovery/lantest"
	"jamd/discovery/link"
	"jamd/discovery/link/linktest"
)

// TestMain lets the test binary double as the programs the LAN tests run inside their
// namespaces: JAMD_LINK_HELPER=peer (our peer, driven like testdata/refpeer.cpp) or garbage.
func TestMain(m *testing.M) {
	switch os.Getenv("JAMD_LINK_HELPER") {
	case "":
		code := m.Run()
		linktest.Cleanup()
		os.Exit(code)
	case "peer":
		os.Exit(peerHelper())
	case "garbage":
		os.Exit(garbageHelper())
	default:
		os.Exit(2)
	}
}

// peerHelper runs our Peer with refpeer.cpp's line protocol on stdin/stdout.
func peerHelper() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu, out sync.Mutex // mu guards last, out stdout
	print := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	var last struct {
		tempo   float64
		playing bool
		peers   int
	}
	last.tempo = 120
	p, err := link.New(link.Config{
		Now: linktest.Clock,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange: func(tl link.Timeline, peers int) {
			now := linktest.Clock().Microseconds()
			mu.Lock()
			defer mu.Unlock()
			if peers != last.peers {
				last.peers = peers
				print("event peers %d %d", peers, now)
			}
			if tl.Tempo() != last.tempo {
				last.tempo = tl.Tempo()
				print("event tempo %.10g %d", tl.Tempo(), now)
			}
			if tl.Playing() != last.playing {
				last.playing = tl.Playing()
				print("event playing %d %d", b2i(tl.Playing()), now)
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	print("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		now := linktest.Clock()
		switch f[0] {
		case "quit":
			cancel()
			if err := <-served; err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			print("bye")
			return 0
		case "tempo":
			bpm, _ := strconv.ParseFloat(f[1], 64)
			p.SetTempo(bpm, now)
			mu.Lock()
			last.tempo = p.Timeline().Tempo() // our own change is no event
			mu.Unlock()
			print("set %d", now.Microseconds())
		case "play", "stop":
			p.SetPlaying(f[0] == "play", now)
			mu.Lock()
			last.playing = f[0] == "play"
			mu.Unlock()
			print("set %d", now.Microseconds())
		case "status":
			at := now
			if len(f) > 1 {
				us, _ := strconv.ParseInt(f[1], 10, 64)
				at = time.Duration(us) * time.Microsecond
			}
			tl := p.Timeline()
			print("status %d %.12g %d %d %.12g", p.Peers(), tl.Tempo(), b2i(tl.Playing()), at.Microseconds(), tl.BeatAt(at, 4))
		}
	}
	cancel()
	<-served
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func startOurs(t *testing.T, lan *lantest.LAN, ns string) *linktest.Proc {
	self, _ := os.Executable()
	return linktest.Start(t, lan, ns, "ours", "env", "JAMD_LINK_HELPER=peer", self, "-test.run=^$")
}

// phaseError samples both peers' beat at the same host times and returns the largest
// difference of phase (quantum 4), in ms at the tempo.
func phaseError(t *testing.T, a, b *linktest.Proc, samples int) time.Duration {
	t.Helper()
	var worst float64
	for range samples {
		at := linktest.Clock().Microseconds()
		sa, sb := a.Status(at), b.Status(at)
		d := math.Mod(sa.Beat-sb.Beat, 4)
		if d > 2 {
			d -= 4
		} else if d < -2 {
			d += 4
		}
		worst = max(worst, math.Abs(d)*60000/sa.Tempo)
		time.Sleep(20 * time.Millisecond)
	}
	return time.Duration(worst * float64(time.Millisecond))
}

// TestAgainstReference runs our peer in namespace A and Ableton's in B and checks that they
// find each other, share tempo, phase and transport both ways, and part at once.
func TestAgainstReference(t *testing.T) {
	lan := linktest.NewLAN(t)
	ref := linktest.StartRef(t, lan, lan.NSB, "ref")
	ours := startOurs(t, lan, lan.NSA)

	start := time.Now()
	if _, ok := ref.EventAt(0, 10*time.Second, "peers", "1"); !ok {
		t.Fatal("the reference peer never saw ours")
	}
	ours.WaitPeers(1, 5*time.Second)
	t.Logf("joined: both see one peer %v after start", time.Since(start).Round(time.Millisecond))

	// The session is the older one: wait for the measurement to settle our clock offset.
	time.Sleep(300 * time.Millisecond)
	if e := phaseError(t, ours, ref, 20); e > time.Millisecond {
		t.Errorf("phase error %v, want within 1 ms", e)
	} else {
		t.Logf("phase error vs the reference peer: %v (20 samples, quantum 4)", e)
	}

	// Tempo, ours to theirs.
	n := ref.Mark()
	setAt := ours.SetAt("tempo 133")
	at, ok := ref.EventAt(n, time.Second, "tempo")
	if !ok {
		t.Fatalf("tempo 133 never reached the reference peer: %+v", ref.Status(0))
	}
	t.Logf("tempo change, ours -> reference: %v", time.Duration(at-setAt)*time.Microsecond)
	if s := ref.Status(0); math.Abs(s.Tempo-133) > 0.001 {
		t.Errorf("reference tempo %v, want 133", s.Tempo)
	}
	// Tempo, theirs to ours.
	n = ours.Mark()
	setAt = ref.SetAt("tempo 88")
	at, ok = ours.EventAt(n, time.Second, "tempo")
	if !ok {
		t.Fatalf("tempo 88 never reached our peer: %+v", ours.Status(0))
	}
	t.Logf("tempo change, reference -> ours: %v", time.Duration(at-setAt)*time.Microsecond)
	if s := ours.Status(0); math.Abs(s.Tempo-88) > 0.001 {
		t.Errorf("our tempo %v, want 88", s.Tempo)
	}
	if e := phaseError(t, ours, ref, 10); e > time.Millisecond {
		t.Errorf("phase error after the tempo changes %v, want within 1 ms", e)
	}

	// Start/stop both ways.
	n = ref.Mark()
	setAt = ours.SetAt("play")
	if at, ok = ref.EventAt(n, time.Second, "playing", "1"); !ok {
		t.Fatal("start never reached the reference peer")
	}
	t.Logf("start, ours -> reference: %v", time.Duration(at-setAt)*time.Microsecond)
	n = ours.Mark()
	setAt = ref.SetAt("stop")
	if at, ok = ours.EventAt(n, time.Second, "playing", "0"); !ok {
		t.Fatal("stop never reached our peer")
	}
	t.Logf("stop, reference -> ours: %v", time.Duration(at-setAt)*time.Microsecond)

	// Bye-bye: the reference drops us at once, not after the 5 s TTL.
	n = ref.Mark()
	quitAt := linktest.Clock().Microseconds()
	ours.Send("quit")
	if _, ok := ours.Wait(0, 5*time.Second, "bye"); !ok {
		t.Fatal("our peer did not stop")
	}
	at, ok = ref.EventAt(n, time.Second, "peers", "0")
	if !ok {
		t.Fatal("the reference peer did not drop ours within 1 s of its goodbye")
	}
	t.Logf("goodbye: the reference dropped our peer %v after quit", time.Duration(at-quitAt)*time.Microsecond)
}

// TestLoopback: Link apps on one machine (here, one namespace) meet over loopback, as Ableton
// Live on the laptop running jamd would.
func TestLoopback(t *testing.T) {
	lan := linktest.NewLAN(t)
	ref := linktest.StartRef(t, lan, lan.NSA, "ref")
	ours := startOurs(t, lan, lan.NSA)
	ours.WaitPeers(1, 10*time.Second)
	ref.WaitPeers(1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if e := phaseError(t, ours, ref, 10); e > time.Millisecond {
		t.Errorf("phase error over loopback %v, want within 1 ms", e)
	}
}

// TestThreePeersOneSession: two reference peers in B (they meet over loopback and the link)
// and ours in A end up in one session, agreeing on tempo and phase.
func TestThreePeersOneSession(t *testing.T) {
	lan := linktest.NewLAN(t)
	ref1 := linktest.StartRef(t, lan, lan.NSB, "ref1")
	ref2 := linktest.StartRef(t, lan, lan.NSB, "ref2")
	ours := startOurs(t, lan, lan.NSA)
	// A Link peer that moves to another session and finds itself alone there founds a new
	// session under a new node ID; the old ID lingers in everyone's table until its TTL (5 s,
	// plus 1 s of grace) runs out. So a count can read one too many for a few seconds.
	start := time.Now()
	for _, p := range []*linktest.Proc{ours, ref1, ref2} {
		p.WaitPeers(2, 15*time.Second)
	}
	t.Logf("three peers in one session after %v", time.Since(start).Round(time.Millisecond))
	ours.SetAt("tempo 101")
	if !linktest.Until(2*time.Second, func() bool {
		return math.Abs(ref1.Status(0).Tempo-101) < 0.001 && math.Abs(ref2.Status(0).Tempo-101) < 0.001
	}) {
		t.Fatalf("tempo 101 did not reach both reference peers: %+v %+v", ref1.Status(0), ref2.Status(0))
	}
	time.Sleep(300 * time.Millisecond)
	if e := max(phaseError(t, ours, ref1, 5), phaseError(t, ours, ref2, 5)); e > time.Millisecond {
		t.Errorf("phase error %v, want within 1 ms", e)
	}
}

// TestGarbage sends malformed datagrams at both peers' discovery, response and measurement
// ports: nothing changes.
func TestGarbage(t *testing.T) {
	lan := linktest.NewLAN(t)
	ref := linktest.StartRef(t, lan, lan.NSB, "ref")
	ours := startOurs(t, lan, lan.NSA)
	ours.WaitPeers(1, 10*time.Second)
	ref.WaitPeers(1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	before := ours.Status(0)
	nOurs, nRef := ours.Mark(), ref.Mark()

	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := lan.Command(ctx, lan.NSB, "env", "JAMD_LINK_HELPER=garbage", "IFACE="+lan.IfB, self, "-test.run=^$")
	cmd.Stderr = &linktest.LogWriter{T: t, Prefix: "garbage: "}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("garbage sender: %v", err)
	}
	t.Logf("garbage sender: %s", strings.TrimSpace(string(out)))
	time.Sleep(500 * time.Millisecond)

	after := ours.Status(0)
	if after.Peers != 1 || after.Tempo != before.Tempo || after.Playing != before.Playing {
		t.Errorf("our peer changed: %+v, was %+v", after, before)
	}
	if s := ref.Status(0); s.Peers != 1 || math.Abs(s.Tempo-before.Tempo) > 0.001 {
		t.Errorf("the reference peer changed: %+v", s)
	}
	for _, p := range []struct {
		p *linktest.Proc
		n int
	}{{ours, nOurs}, {ref, nRef}} {
		if f, ok := p.p.Wait(p.n, 0, "event"); ok {
			t.Errorf("%s reported %v after the garbage", p.p.Name, f)
		}
	}
	if e := phaseError(t, ours, ref, 5); e > time.Millisecond {
		t.Errorf("phase error after the garbage %v", e)
	}
}

// garbageHelper listens for announcements on IFACE for a second, then throws malformed
// datagrams at the discovery group and at every response and measurement endpoint it heard.
func garbageHelper() int {
	ifi, err := net.InterfaceByName(os.Getenv("IFACE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	group := &net.UDPAddr{IP: net.IPv4(224, 76, 78, 75), Port: 20808}
	l, err := net.ListenMulticastUDP("udp4", ifi, group)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	targets := map[netip.AddrPort]bool{}
	var sample []byte
	_ = l.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 2048)
	for {
		n, from, err := l.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		typ, _, _, _, st, err := link.DecodeDiscovery(buf[:n])
		if err != nil || typ != link.MsgAlive {
			continue
		}
		targets[netip.AddrPortFrom(from.Addr().Unmap(), from.Port())] = true
		targets[st.Endpoint] = true
		sample = append([]byte(nil), buf[:n]...)
	}
	_ = l.Close()
	if sample == nil {
		fmt.Fprintln(os.Stderr, "heard no announcement")
		return 1
	}
	var junk [][]byte
	// Every truncation that breaks an entry. One at an entry boundary is a valid, shorter
	// state, and Ableton's peer takes it (see decodeDiscovery): it is no garbage to it.
	bounds := map[int]bool{}
	for i := 20; i+8 <= len(sample); {
		bounds[i] = true
		i += 8 + int(binary.BigEndian.Uint32(sample[i+4:]))
	}
	for i := range len(sample) {
		if !bounds[i] {
			junk = append(junk, sample[:i])
		}
	}
	big := append(append([]byte(nil), sample...), make([]byte, link.MaxMessageSize)...)
	junk = append(junk, big) // oversized
	bad := append([]byte(nil), sample...)
	bad[len(bad)-1-6-4] = 0xff // the last entry's size runs past the end
	junk = append(junk, bad)
	for i := range 50 {
		r := make([]byte, 1+i*11%600)
		for j := range r {
			r[j] = byte(j*7 + i*13)
		}
		junk = append(junk, r)
	}
	ping := link.EncodePing(123, 0)
	for i := range len(ping) {
		junk = append(junk, ping[:i])
	}
	junk = append(junk, append(ping, make([]byte, 64)...)) // a ping too large to answer
	junk = append(junk, link.EncodePong([8]byte{'x'}, 5, ping[9:]))

	c, err := net.ListenUDP("udp4", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	sent := 0
	for _, j := range junk {
		to := []netip.AddrPort{netip.MustParseAddrPort("224.76.78.75:20808")}
		for t := range targets {
			to = append(to, t)
		}
		for _, addr := range to {
			if _, err := c.WriteToUDPAddrPort(j, addr); err == nil {
				sent++
			}
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("sent %d datagrams to the group and %d endpoints\n", sent, len(targets))
	return 0
}
