// Package linktest runs Link peers for tests: Ableton's own (testdata built from Debian's
// ableton-link-dev with g++) or any program speaking the same line protocol, in a namespace of a
// lantest.LAN, driven over stdin and stdout. discovery/link tests its peer against the reference
// with it, and cmd/jamd tests `jamd serve` against it.
//
// The line protocol (testdata/refpeer.cpp):
//
//	in:  tempo <bpm> | play | stop | status [<host µs>] | quit
//	out: ready | set <host µs> | status <peers> <bpm> <playing 0|1> <host µs> <beat, quantum 4>
//	     | event peers|tempo|playing <value> <host µs> | bye
//
// Host time is Link's clock on Linux, CLOCK_MONOTONIC_RAW in µs (Clock).
//
// Concurrency: a Proc's methods may be called from the test goroutine; its output is read by a
// goroutine of its own.
package linktest

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"jamd/discovery/lantest"
)

//go:embed testdata/refpeer.cpp
var refSource []byte

// Clock is the host clock of Ableton's Link on Linux, CLOCK_MONOTONIC_RAW, to the µs
// (platforms/Config.hpp in Link 3.0.6).
func Clock() time.Duration {
	const clockMonotonicRaw = 4
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonicRaw, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		panic(errno)
	}
	return time.Duration(ts.Nano()).Truncate(time.Microsecond)
}

// NewLAN is a lantest.LAN whose two ends route multicast over their link, as Link needs. It
// skips the test in -short mode, and where lantest.NewLAN does.
func NewLAN(tb testing.TB) *lantest.LAN {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping the Link LAN test in -short mode")
	}
	lan := lantest.NewLAN(tb)
	lan.IP(tb, "-n", lan.NSA, "route", "add", "224.0.0.0/4", "dev", lan.IfA)
	lan.IP(tb, "-n", lan.NSB, "route", "add", "224.0.0.0/4", "dev", lan.IfB)
	return lan
}

// The reference peer, built once per test binary into a directory removed by Cleanup.
var (
	refOnce sync.Once
	refDir  string
	refBin  string
	refErr  error
)

// RefPeer returns the path of the reference peer, built from testdata/refpeer.cpp against Debian's
// ableton-link-dev. Without g++ or the headers it skips the test when not root, and fails it
// as root (make test-tools installs them).
func RefPeer(tb testing.TB) string {
	tb.Helper()
	const header = "/usr/include/ableton/Link.hpp"
	_, gxxErr := exec.LookPath("g++")
	_, hdrErr := os.Stat(header)
	if gxxErr != nil || hdrErr != nil {
		if os.Geteuid() != 0 {
			tb.Skip("skipping: the reference peer needs g++ and Debian's ableton-link-dev (apt-get install ableton-link-dev g++, or make test-tools as root)")
		}
		tb.Fatal("g++ or ableton-link-dev is missing: run make test-tools (it installs ableton-link-dev g++)")
	}
	refOnce.Do(func() {
		refDir, refErr = os.MkdirTemp("", "jamd-refpeer-")
		if refErr != nil {
			return
		}
		src := filepath.Join(refDir, "refpeer.cpp")
		if refErr = os.WriteFile(src, refSource, 0o600); refErr != nil {
			return
		}
		refBin = filepath.Join(refDir, "refpeer")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "g++", "-std=c++14", "-O1", "-DLINK_PLATFORM_LINUX=1",
			"-I/usr/include/ableton", "-o", refBin, src, "-lpthread").CombinedOutput()
		if err != nil {
			refErr = fmt.Errorf("build the reference peer: %v\n%s", err, out)
		}
	})
	if refErr != nil {
		tb.Fatal(refErr)
	}
	return refBin
}

// Cleanup removes the built reference peer; call it from TestMain after m.Run.
func Cleanup() {
	if refDir != "" {
		_ = os.RemoveAll(refDir)
	}
}

// Proc is a peer process speaking the line protocol.
type Proc struct {
	t     *testing.T
	Name  string
	in    io.WriteCloser
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// Start runs argv in namespace ns of lan and waits for its "ready"; it is stopped (stdin
// closed, then killed) when the test ends. Its stderr goes to the test log when
// JAMD_LINK_VERBOSE is set.
func Start(t *testing.T, lan *lantest.LAN, ns, name string, argv ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := lan.Command(ctx, ns, argv[0], argv[1:]...)
	cmd.Stderr = &LogWriter{T: t, Prefix: name + ": "}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{t: t, Name: name, in: in, done: make(chan struct{})}
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
	if _, ok := p.Wait(0, 30*time.Second, "ready"); !ok {
		t.Fatalf("%s never got ready", name)
	}
	return p
}

// StartRef runs the reference peer in namespace ns.
func StartRef(t *testing.T, lan *lantest.LAN, ns, name string) *Proc {
	return Start(t, lan, ns, name, RefPeer(t))
}

// Mark is the number of lines read so far: Wait(p.Mark(), ...) sees only what comes next.
func (p *Proc) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Send writes one command line and returns the Mark before it.
func (p *Proc) Send(line string) int {
	n := p.Mark()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("%s: write %q: %v", p.Name, line, err)
	}
	return n
}

// Wait returns the fields of the first line from index from on whose first fields are want.
func (p *Proc) Wait(from int, timeout time.Duration, want ...string) ([]string, bool) {
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

// Status is one status line.
type Status struct {
	Peers   int
	Tempo   float64
	Playing bool
	At      int64   // host µs
	Beat    float64 // at At, quantum 4
}

// Status asks for the state at host time at (µs; 0 means now).
func (p *Proc) Status(at int64) Status {
	p.t.Helper()
	cmd := "status"
	if at != 0 {
		cmd = fmt.Sprintf("status %d", at)
	}
	n := p.Send(cmd)
	f, ok := p.Wait(n, 5*time.Second, "status")
	if !ok || len(f) != 6 {
		p.t.Fatalf("%s: no status (%v)", p.Name, f)
	}
	var s Status
	s.Peers, _ = strconv.Atoi(f[1])
	s.Tempo, _ = strconv.ParseFloat(f[2], 64)
	s.Playing = f[3] == "1"
	s.At, _ = strconv.ParseInt(f[4], 10, 64)
	s.Beat, _ = strconv.ParseFloat(f[5], 64)
	return s
}

// EventAt waits for an event line from index from on and returns the host time it carries (µs).
func (p *Proc) EventAt(from int, timeout time.Duration, want ...string) (int64, bool) {
	f, ok := p.Wait(from, timeout, append([]string{"event"}, want...)...)
	if !ok {
		return 0, false
	}
	us, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
	return us, true
}

// SetAt sends a command and returns the host time at which it was committed (µs).
func (p *Proc) SetAt(cmd string) int64 {
	p.t.Helper()
	n := p.Send(cmd)
	f, ok := p.Wait(n, 5*time.Second, "set")
	if !ok {
		p.t.Fatalf("%s: %q not acknowledged", p.Name, cmd)
	}
	us, _ := strconv.ParseInt(f[1], 10, 64)
	return us
}

// WaitPeers waits until p reports n peers in its status.
func (p *Proc) WaitPeers(n int, timeout time.Duration) {
	p.t.Helper()
	if !Until(timeout, func() bool { return p.Status(0).Peers == n }) {
		p.t.Fatalf("%s: peers = %d, want %d", p.Name, p.Status(0).Peers, n)
	}
}

// Until polls fn every 5 ms until it is true or timeout passes.
func Until(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// LogWriter passes a helper's output to the test log when JAMD_LINK_VERBOSE is set.
type LogWriter struct {
	T      testing.TB
	Prefix string
	mu     sync.Mutex
}

func (w *LogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if os.Getenv("JAMD_LINK_VERBOSE") != "" {
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			w.T.Log(w.Prefix + line)
		}
	}
	return len(b), nil
}
