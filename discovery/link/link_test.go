package link_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"jamd/discovery/lantest"
	"jamd/discovery/link"
)

// TestMain lets the test binary double as the programs the LAN tests run inside their
// namespaces: JAMD_LINK_HELPER=peer (our peer, driven like testdata/refpeer.cpp) or garbage.
func TestMain(m *testing.M) {
	switch os.Getenv("JAMD_LINK_HELPER") {
	case "":
		code := m.Run()
		if refDir != "" {
			_ = os.RemoveAll(refDir)
		}
		os.Exit(code)
	case "peer":
		os.Exit(peerHelper())
	case "garbage":
		os.Exit(garbageHelper())
	default:
		os.Exit(2)
	}
}

// linkClock is the host clock of Ableton's Link on Linux, CLOCK_MONOTONIC_RAW in µs
// (platforms/Config.hpp in Link 3.0.6): our peer uses it too in these tests, so that one host
// time means the same instant to both peers.
func linkClock() time.Duration {
	const clockMonotonicRaw = 4
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonicRaw, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		panic(errno)
	}
	return time.Duration(ts.Nano()).Truncate(time.Microsecond)
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
		Now: linkClock,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnChange: func(tl link.Timeline, peers int) {
			now := linkClock().Microseconds()
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
		now := linkClock()
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

// refDir holds the reference peer, built once per test binary.
var (
	refOnce sync.Once
	refDir  string
	refBin  string
	refErr  error
)

// refPeer builds testdata/refpeer.cpp against Debian's ableton-link-dev.
func refPeer(t *testing.T) string {
	t.Helper()
	const header = "/usr/include/ableton/Link.hpp"
	_, gxxErr := exec.LookPath("g++")
	_, hdrErr := os.Stat(header)
	if gxxErr != nil || hdrErr != nil {
		if os.Geteuid() != 0 {
			t.Skip("skipping: the reference peer needs g++ and Debian's ableton-link-dev (apt-get install ableton-link-dev g++, or make test-tools as root)")
		}
		t.Fatal("g++ or ableton-link-dev is missing: run make test-tools (it installs ableton-link-dev g++)")
	}
	refOnce.Do(func() {
		refDir, refErr = os.MkdirTemp("", "jamd-refpeer-")
		if refErr != nil {
			return
		}
		refBin = filepath.Join(refDir, "refpeer")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "g++", "-std=c++14", "-O1", "-DLINK_PLATFORM_LINUX=1",
			"-I/usr/include/ableton", "-o", refBin, "testdata/refpeer.cpp", "-lpthread").CombinedOutput()
		if err != nil {
			refErr = fmt.Errorf("build the reference peer: %v\n%s", err, out)
		}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refBin
}

// proc is a peer process, ours or the reference, speaking the line protocol.
type proc struct {
	t     *testing.T
	name  string
	in    io.WriteCloser
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func startProc(t *testing.T, lan *lantest.LAN, ns, name string, argv ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := lan.Command(ctx, ns, argv[0], argv[1:]...)
	cmd.Stderr = &logWriter{t: t, prefix: name + ": "}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, in: in, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		cancel()
		<-p.done
	})
	if _, ok := p.wait(0, 30*time.Second, "ready"); !ok {
		t.Fatalf("%s never got ready", name)
	}
	return p
}

func startOurs(t *testing.T, lan *lantest.LAN, ns string) *proc {
	self, _ := os.Executable()
	return startProc(t, lan, ns, "ours", "env", "JAMD_LINK_HELPER=peer", self, "-test.run=^$")
}

func startRef(t *testing.T, lan *lantest.LAN, ns, name string) *proc {
	return startProc(t, lan, ns, name, refPeer(t))
}

func (p *proc) send(line string) int {
	p.mu.Lock()
	n := len(p.lines)
	p.mu.Unlock()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("%s: write %q: %v", p.name, line, err)
	}
	return n
}

// wait returns the fields of the first line from index from on whose first fields are want.
func (p *proc) wait(from int, timeout time.Duration, want ...string) ([]string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			f := strings.Fields(p.lines[i])
			if len(f) >= len(want) && strings.Join(f[:len(want)], " ") == strings.Join(want, " ") {
				p.mu.Unlock()
				return f, true
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// status is one status line.
type status struct {
	peers   int
	tempo   float64
	playing bool
	at      int64
	beat    float64
}

func (p *proc) status(at int64) status {
	p.t.Helper()
	n := p.send(fmt.Sprintf("status %d", at))
	f, ok := p.wait(n, 5*time.Second, "status")
	if !ok || len(f) != 6 {
		p.t.Fatalf("%s: no status (%v)", p.name, f)
	}
	var s status
	s.peers, _ = strconv.Atoi(f[1])
	s.tempo, _ = strconv.ParseFloat(f[2], 64)
	s.playing = f[3] == "1"
	s.at, _ = strconv.ParseInt(f[4], 10, 64)
	s.beat, _ = strconv.ParseFloat(f[5], 64)
	return s
}

// until polls fn every 5 ms until it is true or timeout passes.
func until(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// eventAt waits for an event line and returns the host time it carries, in µs.
func (p *proc) eventAt(from int, timeout time.Duration, want ...string) (int64, bool) {
	f, ok := p.wait(from, timeout, append([]string{"event"}, want...)...)
	if !ok {
		return 0, false
	}
	us, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	return us, true
}

// setAt sends a command and returns the host time at which it was committed.
func (p *proc) setAt(cmd string) int64 {
	p.t.Helper()
	n := p.send(cmd)
	f, ok := p.wait(n, 5*time.Second, "set")
	if !ok {
		p.t.Fatalf("%s: %q not acknowledged", p.name, cmd)
	}
	us, _ := strconv.ParseInt(f[1], 10, 64)
	return us
}

// phaseError samples both peers' beat at the same host times and returns the largest
// difference of phase (quantum 4), in ms at the tempo.
func phaseError(t *testing.T, a, b *proc, samples int) time.Duration {
	t.Helper()
	var worst float64
	for range samples {
		at := linkClock().Microseconds()
		sa, sb := a.status(at), b.status(at)
		d := math.Mod(sa.beat-sb.beat, 4)
		if d > 2 {
			d -= 4
		} else if d < -2 {
			d += 4
		}
		worst = max(worst, math.Abs(d)*60000/sa.tempo)
		time.Sleep(20 * time.Millisecond)
	}
	return time.Duration(worst * float64(time.Millisecond))
}

func newLinkLAN(t *testing.T) *lantest.LAN {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the Link LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	lan.IP(t, "-n", lan.NSA, "route", "add", "224.0.0.0/4", "dev", lan.IfA)
	lan.IP(t, "-n", lan.NSB, "route", "add", "224.0.0.0/4", "dev", lan.IfB)
	return lan
}

// waitPeers waits until p reports n peers in its status.
func waitPeers(t *testing.T, p *proc, n int, timeout time.Duration) {
	t.Helper()
	if !until(timeout, func() bool { return p.status(0).peers == n }) {
		t.Fatalf("%s: peers = %d, want %d", p.name, p.status(0).peers, n)
	}
}

// TestAgainstReference runs our peer in namespace A and Ableton's in B and checks that they
// find each other, share tempo, phase and transport both ways, and part at once.
func TestAgainstReference(t *testing.T) {
	lan := newLinkLAN(t)
	ref := startRef(t, lan, lan.NSB, "ref")
	ours := startOurs(t, lan, lan.NSA)

	start := time.Now()
	if _, ok := ref.eventAt(0, 10*time.Second, "peers", "1"); !ok {
		t.Fatal("the reference peer never saw ours")
	}
	waitPeers(t, ours, 1, 5*time.Second)
	t.Logf("joined: both see one peer %v after start", time.Since(start).Round(time.Millisecond))

	// The session is the older one: wait for the measurement to settle our clock offset.
	time.Sleep(300 * time.Millisecond)
	if e := phaseError(t, ours, ref, 20); e > time.Millisecond {
		t.Errorf("phase error %v, want within 1 ms", e)
	} else {
		t.Logf("phase error vs the reference peer: %v (20 samples, quantum 4)", e)
	}

	// Tempo, ours to theirs.
	n := len(ref.lines)
	setAt := ours.setAt("tempo 133")
	at, ok := ref.eventAt(n, time.Second, "tempo")
	if !ok {
		t.Fatalf("tempo 133 never reached the reference peer: %+v", ref.status(0))
	}
	t.Logf("tempo change, ours -> reference: %v", time.Duration(at-setAt)*time.Microsecond)
	if s := ref.status(0); math.Abs(s.tempo-133) > 0.001 {
		t.Errorf("reference tempo %v, want 133", s.tempo)
	}
	// Tempo, theirs to ours.
	n = len(ours.lines)
	setAt = ref.setAt("tempo 88")
	at, ok = ours.eventAt(n, time.Second, "tempo")
	if !ok {
		t.Fatalf("tempo 88 never reached our peer: %+v", ours.status(0))
	}
	t.Logf("tempo change, reference -> ours: %v", time.Duration(at-setAt)*time.Microsecond)
	if s := ours.status(0); math.Abs(s.tempo-88) > 0.001 {
		t.Errorf("our tempo %v, want 88", s.tempo)
	}
	if e := phaseError(t, ours, ref, 10); e > time.Millisecond {
		t.Errorf("phase error after the tempo changes %v, want within 1 ms", e)
	}

	// Start/stop both ways.
	n = len(ref.lines)
	setAt = ours.setAt("play")
	if at, ok = ref.eventAt(n, time.Second, "playing", "1"); !ok {
		t.Fatal("start never reached the reference peer")
	}
	t.Logf("start, ours -> reference: %v", time.Duration(at-setAt)*time.Microsecond)
	n = len(ours.lines)
	setAt = ref.setAt("stop")
	if at, ok = ours.eventAt(n, time.Second, "playing", "0"); !ok {
		t.Fatal("stop never reached our peer")
	}
	t.Logf("stop, reference -> ours: %v", time.Duration(at-setAt)*time.Microsecond)

	// Bye-bye: the reference drops us at once, not after the 5 s TTL.
	n = len(ref.lines)
	quitAt := linkClock().Microseconds()
	ours.send("quit")
	if _, ok := ours.wait(0, 5*time.Second, "bye"); !ok {
		t.Fatal("our peer did not stop")
	}
	at, ok = ref.eventAt(n, time.Second, "peers", "0")
	if !ok {
		t.Fatal("the reference peer did not drop ours within 1 s of its goodbye")
	}
	t.Logf("goodbye: the reference dropped our peer %v after quit", time.Duration(at-quitAt)*time.Microsecond)
}

// TestLoopback: Link apps on one machine (here, one namespace) meet over loopback, as Ableton
// Live on the laptop running jamd would.
func TestLoopback(t *testing.T) {
	lan := newLinkLAN(t)
	ref := startRef(t, lan, lan.NSA, "ref")
	ours := startOurs(t, lan, lan.NSA)
	waitPeers(t, ours, 1, 10*time.Second)
	waitPeers(t, ref, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if e := phaseError(t, ours, ref, 10); e > time.Millisecond {
		t.Errorf("phase error over loopback %v, want within 1 ms", e)
	}
}

// TestThreePeersOneSession: two reference peers in B (they meet over loopback and the link)
// and ours in A end up in one session, agreeing on tempo and phase.
func TestThreePeersOneSession(t *testing.T) {
	lan := newLinkLAN(t)
	ref1 := startRef(t, lan, lan.NSB, "ref1")
	ref2 := startRef(t, lan, lan.NSB, "ref2")
	ours := startOurs(t, lan, lan.NSA)
	// A Link peer that moves to another session and finds itself alone there founds a new
	// session under a new node ID; the old ID lingers in everyone's table until its TTL (5 s,
	// plus 1 s of grace) runs out. So a count can read one too many for a few seconds.
	start := time.Now()
	for _, p := range []*proc{ours, ref1, ref2} {
		waitPeers(t, p, 2, 15*time.Second)
	}
	t.Logf("three peers in one session after %v", time.Since(start).Round(time.Millisecond))
	ours.setAt("tempo 101")
	if !until(2*time.Second, func() bool {
		return math.Abs(ref1.status(0).tempo-101) < 0.001 && math.Abs(ref2.status(0).tempo-101) < 0.001
	}) {
		t.Fatalf("tempo 101 did not reach both reference peers: %+v %+v", ref1.status(0), ref2.status(0))
	}
	time.Sleep(300 * time.Millisecond)
	if e := max(phaseError(t, ours, ref1, 5), phaseError(t, ours, ref2, 5)); e > time.Millisecond {
		t.Errorf("phase error %v, want within 1 ms", e)
	}
}

// TestGarbage sends malformed datagrams at both peers' discovery, response and measurement
// ports: nothing changes.
func TestGarbage(t *testing.T) {
	lan := newLinkLAN(t)
	ref := startRef(t, lan, lan.NSB, "ref")
	ours := startOurs(t, lan, lan.NSA)
	waitPeers(t, ours, 1, 10*time.Second)
	waitPeers(t, ref, 1, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	before := ours.status(0)
	nOurs, nRef := len(ours.lines), len(ref.lines)

	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := lan.Command(ctx, lan.NSB, "env", "JAMD_LINK_HELPER=garbage", "IFACE="+lan.IfB, self, "-test.run=^$")
	cmd.Stderr = &logWriter{t: t, prefix: "garbage: "}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("garbage sender: %v", err)
	}
	t.Logf("garbage sender: %s", strings.TrimSpace(string(out)))
	time.Sleep(500 * time.Millisecond)

	after := ours.status(0)
	if after.peers != 1 || after.tempo != before.tempo || after.playing != before.playing {
		t.Errorf("our peer changed: %+v, was %+v", after, before)
	}
	if s := ref.status(0); s.peers != 1 || math.Abs(s.tempo-before.tempo) > 0.001 {
		t.Errorf("the reference peer changed: %+v", s)
	}
	for _, p := range []struct {
		p *proc
		n int
	}{{ours, nOurs}, {ref, nRef}} {
		if f, ok := p.p.wait(p.n, 0, "event"); ok {
			t.Errorf("%s reported %v after the garbage", p.p.name, f)
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

// logWriter passes a helper's stderr to the test log when JAMD_LINK_VERBOSE is set.
type logWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if os.Getenv("JAMD_LINK_VERBOSE") != "" {
			w.t.Log(w.prefix + line)
		}
	}
	return len(b), nil
}
