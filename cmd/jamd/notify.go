package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// sdNotify sends one state message to systemd's notification socket ($NOTIFY_SOCKET, a datagram
// socket; a leading '@' is the abstract namespace, which the net package understands). Without
// $NOTIFY_SOCKET (not under systemd, or not Type=notify) it does nothing.
func sdNotify(getenv env, state string) error {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", path, err)
	}
	return nil
}

// notifyReady tells systemd the service is up: call it once the listener is open and the store
// loaded.
func notifyReady(getenv env) error { return sdNotify(getenv, "READY=1\nSTATUS=serving") }

// notifyStopping tells systemd the service is shutting down (it then waits for the exit).
func notifyStopping(getenv env) error { return sdNotify(getenv, "STOPPING=1\nSTATUS=stopping") }

// watchdogInterval is how often systemd wants WATCHDOG=1: half of $WATCHDOG_USEC, or 0 when no
// watchdog is set or it is meant for another process ($WATCHDOG_PID).
func watchdogInterval(getenv env) time.Duration {
	usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// watchdogClient asks the server's /healthz: a new connection each time, so a ping also proves
// the listener still accepts, and never through a proxy from the environment.
var watchdogClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// serverAlive is the watchdog's liveness check: GET base/healthz answers 200 within timeout.
func serverAlive(ctx context.Context, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := watchdogClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", resp.Status)
	}
	return nil
}

// runWatchdog sends WATCHDOG=1 every watchdogInterval until ctx ends, but only after alive
// returns nil (alive may be nil: always ping). So systemd restarts a process whose server stopped
// answering, not only one whose every goroutine is stuck.
func runWatchdog(ctx context.Context, getenv env, log *slog.Logger, alive func(ctx context.Context, timeout time.Duration) error) {
	every := watchdogInterval(getenv)
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive != nil {
				if err := alive(ctx, every/2); err != nil {
					if ctx.Err() == nil {
						log.Warn("server not answering: watchdog ping skipped", "err", err)
					}
					continue
				}
			}
			if err := sdNotify(getenv, "WATCHDOG=1"); err != nil {
				log.Warn("watchdog ping failed", "err", err)
			}
		}
	}
}

// startNotify sends READY=1 now, pings the watchdog while ctx lives and the server at base
// (http://host:port) answers /healthz (on every tick when base is ""), and sends STOPPING=1 as
// soon as ctx ends (SIGTERM). The returned wait blocks until STOPPING=1 has been sent.
func startNotify(ctx context.Context, getenv env, log *slog.Logger, base string) (wait func()) {
	if err := notifyReady(getenv); err != nil {
		log.Warn("cannot tell systemd we are ready", "err", err)
	}
	var alive func(context.Context, time.Duration) error
	if base != "" {
		alive = func(ctx context.Context, timeout time.Duration) error { return serverAlive(ctx, base, timeout) }
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		runWatchdog(ctx, getenv, log, alive)
		<-ctx.Done()
		if err := notifyStopping(getenv); err != nil {
			log.Warn("cannot tell systemd we are stopping", "err", err)
		}
	})
	return wg.Wait
}
