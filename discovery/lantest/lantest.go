// Package lantest builds a throwaway LAN for tests: two network namespaces joined by a veth pair,
// each end with its own 10.201.x.y address, so mDNS and HTTP between "the Pi" (A) and "a phone"
// (B) never touch the machine's real interfaces. It needs root and iproute2's ip; NewLAN skips
// the test, with the reason, where either is missing.
//
// Concurrency: a LAN is set up and torn down by the test goroutine; Command may be called from
// any goroutine.
package lantest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// LAN is two namespaces, A and B, on one veth link. A holds the default route (via B).
type LAN struct {
	NSA, NSB     string // namespace names
	IfA, IfB     string // interface names inside them (not matching any virtual prefix)
	AddrA, AddrB string // IPv4 addresses, e.g. 10.201.7.1 and 10.201.7.2
	Subnet       int    // the x in 10.201.x.0/24
}

// cmdTimeout bounds every ip command.
const cmdTimeout = 10 * time.Second

// NewLAN creates the namespaces and the link, and removes them when the test ends (even when it
// fails). It skips the test when not root or when ip is missing.
func NewLAN(tb testing.TB) *LAN {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipping: creating network namespaces needs root (run the tests as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("skipping: iproute2's ip is not installed (apt-get install iproute2)")
	}
	raw := make([]byte, 3)
	_, _ = rand.Read(raw)
	tag := hex.EncodeToString(raw)
	l := &LAN{
		NSA: "jamdA-" + tag, NSB: "jamdB-" + tag,
		IfA: "jama" + tag, IfB: "jamb" + tag,
		Subnet: 1 + int(raw[0])%250,
	}
	l.AddrA = fmt.Sprintf("10.201.%d.1", l.Subnet)
	l.AddrB = fmt.Sprintf("10.201.%d.2", l.Subnet)
	if err := ip("netns", "add", l.NSA); err != nil {
		tb.Skipf("skipping: cannot create a network namespace here: %v", err)
	}
	tb.Cleanup(func() { _ = ip("netns", "del", l.NSA) })
	if err := ip("netns", "add", l.NSB); err != nil {
		tb.Fatalf("create namespace: %v", err)
	}
	tb.Cleanup(func() { _ = ip("netns", "del", l.NSB) })
	steps := [][]string{
		// Created inside the namespaces: the link never exists in the machine's own namespace.
		{"-n", l.NSA, "link", "add", l.IfA, "type", "veth", "peer", "name", l.IfB, "netns", l.NSB},
		{"-n", l.NSA, "addr", "add", l.AddrA + "/24", "dev", l.IfA},
		{"-n", l.NSB, "addr", "add", l.AddrB + "/24", "dev", l.IfB},
		{"-n", l.NSA, "link", "set", "lo", "up"},
		{"-n", l.NSB, "link", "set", "lo", "up"},
		{"-n", l.NSA, "link", "set", l.IfA, "up"},
		{"-n", l.NSB, "link", "set", l.IfB, "up"},
		{"-n", l.NSA, "route", "add", "default", "via", l.AddrB},
		{"-n", l.NSB, "route", "add", "default", "via", l.AddrA},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			tb.Fatalf("set up the test LAN: %v", err)
		}
	}
	return l
}

// IP runs `ip args...` (bounded), for changes a test makes mid-way, e.g. adding an address.
func (l *LAN) IP(tb testing.TB, args ...string) {
	tb.Helper()
	if err := ip(args...); err != nil {
		tb.Fatal(err)
	}
}

// Command returns a command that runs name in namespace ns (l.NSA or l.NSB).
func (l *LAN) Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Dial connects to addr from inside namespace ns, so that a test talks to a server there (say
// `jamd serve` on the namespace's loopback) as a program in that namespace would. The socket is
// made with the dialing thread switched into ns, and keeps the namespace after the switch back.
func (l *LAN) Dial(ns, network, addr string) (net.Conn, error) {
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	conn, dialErr := net.DialTimeout(network, addr, cmdTimeout)
	if err := setns(self); err != nil {
		// The thread stays in ns: keep it locked, so it ends with this goroutine.
		return conn, dialErr
	}
	runtime.UnlockOSThread()
	return conn, dialErr
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
