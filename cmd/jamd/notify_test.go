package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenNotify opens a datagram socket standing in for systemd's and returns its path and a
// function reading the next message (failing after timeout).
func listenNotify(tb testing.TB) (string, func(timeout time.Duration) string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	next := func(timeout time.Duration) string {
		tb.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf)
		if err != nil {
			tb.Fatalf("no sd_notify message within %s: %v", timeout, err)
		}
		return string(buf[:n])
	}
	return path, next
}

func TestStartNotify(t *testing.T) {
	path, next := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "200000") // pings every 100ms
	t.Setenv("WATCHDOG_PID", "")
	ctx, cancel := context.WithCancel(context.Background())
	wait := startNotify(ctx, slog.New(slog.DiscardHandler))
	if m := next(time.Second); !strings.Contains(m, "READY=1") {
		t.Fatalf("first message %q, want READY=1", m)
	}
	for range 2 {
		if m := next(time.Second); m != "WATCHDOG=1" {
			t.Fatalf("message %q, want WATCHDOG=1", m)
		}
	}
	cancel()
	waitBounded(t, wait, 2*time.Second)
	for {
		m := next(time.Second)
		if strings.Contains(m, "STOPPING=1") {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("message %q, want STOPPING=1", m)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tt := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"junk", "", 0},
		{"30000000", "", 15 * time.Second},
		{"30000000", "1", 0}, // meant for another process
	} {
		t.Setenv("WATCHDOG_USEC", tt.usec)
		t.Setenv("WATCHDOG_PID", tt.pid)
		if got := watchdogInterval(); got != tt.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %s, want %s", tt.usec, tt.pid, got, tt.want)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := notifyReady(); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, want nothing done", err)
	}
}

// TestServeNotifiesSystemd runs the real binary as systemd would run a Type=notify service with a
// watchdog, and sees READY=1, then WATCHDOG=1, then STOPPING=1 on SIGTERM, and exit 0.
func TestServeNotifiesSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the binary")
	}
	bin := buildJamd(t)
	path, next := listenNotify(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--no-mdns")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=400000", "WATCHDOG_PID=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	if m := next(15 * time.Second); !strings.Contains(m, "READY=1") {
		t.Fatalf("first message %q, want READY=1\n%s", m, out.String())
	}
	if m := next(2 * time.Second); m != "WATCHDOG=1" {
		t.Fatalf("message %q, want WATCHDOG=1", m)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		m := next(5 * time.Second)
		if strings.Contains(m, "STOPPING=1") {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("message %q, want STOPPING=1", m)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("jamd did not exit within 15s of SIGTERM\n%s", out.String())
	}
}
