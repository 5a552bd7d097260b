package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// listenNotify opens a datagram socket standing in for systemd's and returns its path, a
// function reading the next message (failing after timeout) and one trying to (false after
// timeout).
func listenNotify(tb testing.TB) (string, func(timeout time.Duration) string, func(timeout time.Duration) (string, bool)) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	try := func(timeout time.Duration) (string, bool) {
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf)
		if err != nil {
			return "", false
		}
		return string(buf[:n]), true
	}
	next := func(timeout time.Duration) string {
		tb.Helper()
		m, ok := try(timeout)
		if !ok {
			tb.Fatalf("no sd_notify message within %s", timeout)
		}
		return m
	}
	return path, next, try
}

// envOf is a getenv that knows only vars.
func envOf(vars map[string]string) env {
	return func(k string) string { return vars[k] }
}

func TestStartNotify(t *testing.T) {
	path, next, _ := listenNotify(t)
	getenv := envOf(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}) // pings every 100ms
	ctx, cancel := context.WithCancel(context.Background())
	wait := startNotify(ctx, getenv, slog.New(slog.DiscardHandler), "") // no server to check: ping on every tick
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

// TestWatchdogPingsOnlyWhileTheServerAnswers: startNotify asks the server's /healthz before
// each WATCHDOG=1, so a server that stops answering is no longer pinged for and systemd restarts it.
func TestWatchdogPingsOnlyWhileTheServerAnswers(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			http.Error(w, "not well", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	path, next, try := listenNotify(t)
	getenv := envOf(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}) // pings every 100ms
	ctx, cancel := context.WithCancel(context.Background())
	wait := startNotify(ctx, getenv, slog.New(slog.DiscardHandler), srv.URL)
	defer waitBounded(t, wait, 2*time.Second)
	defer cancel()

	if m := next(time.Second); !strings.Contains(m, "READY=1") {
		t.Fatalf("first message %q, want READY=1", m)
	}
	if m := next(time.Second); m != "WATCHDOG=1" {
		t.Fatalf("message %q while /healthz answers, want WATCHDOG=1", m)
	}
	healthy.Store(false)
	for _, ok := try(150 * time.Millisecond); ok; _, ok = try(150 * time.Millisecond) {
		// a ping already on its way may still arrive
	}
	if m, ok := try(500 * time.Millisecond); ok {
		t.Fatalf("message %q while /healthz fails, want no ping", m)
	}
	healthy.Store(true)
	if m := next(time.Second); m != "WATCHDOG=1" {
		t.Fatalf("message %q once /healthz answers again, want WATCHDOG=1", m)
	}

	srv.Close() // nobody listening: no ping either
	for _, ok := try(150 * time.Millisecond); ok; _, ok = try(150 * time.Millisecond) {
	}
	if m, ok := try(500 * time.Millisecond); ok {
		t.Fatalf("message %q with the server gone, want no ping", m)
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
		getenv := envOf(map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid})
		if got := watchdogInterval(getenv); got != tt.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %s, want %s", tt.usec, tt.pid, got, tt.want)
		}
	}
	if err := notifyReady(noEnv); err != nil {
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
	path, next, _ := listenNotify(t)
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
