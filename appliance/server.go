package appliance

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves the web app, the HTTP API and the session WebSocket.
type Server struct {
	cfg    Config
	hub    *Hub
	log    *slog.Logger
	webapp fs.FS
	http   *http.Server // every listener's: Serve's shutdown closes them all
}

// NewServer loads every stored session from store (seats dropped, with a fresh grace period)
// and returns a Server ready to Serve. webapp holds the built web app it serves under /jam:
// index.html at its root, hashed files under assets/ (webui.Dist in the binary).
func NewServer(cfg Config, store Store, webapp fs.FS, log *slog.Logger) (*Server, error) {
	h, err := newHub(cfg, store, log)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, hub: h, log: log, webapp: webapp}
	// Bounds for a Wi-Fi anyone can join: small headers, and no request that trickles in for
	// ever (a WebSocket sets its own deadlines once upgraded).
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// Serve serves on ln until ctx is done, then stops accepting, closes every WebSocket with 1001,
// waits for the connections' goroutines and returns. Every change was committed when it was
// made, so nothing is left to save.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.http
	sweepCtx, stopSweeper := context.WithCancel(context.Background())
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		var pinger sync.WaitGroup
		pinger.Go(func() { s.hub.runPinger(sweepCtx) })
		s.hub.runSweeper(sweepCtx)
		pinger.Wait()
	}()
	defer func() { stopSweeper(); <-swept }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: phones are told to reconnect (they resume their seats when jamd is back); every session is on disk")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx) // stops accepting; WebSockets are hijacked, so close them ourselves
	s.hub.close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Wait for every connection's goroutines, so nothing touches the store after we return.
	conns := make(chan struct{})
	go func() {
		s.hub.conns.Wait()
		close(conns)
	}()
	select {
	case <-conns:
	case <-shutdownCtx.Done():
		s.log.Warn("connections still closing at shutdown")
	}
	return nil
}

// ServeAlso serves the same routes on one more listener, until ln is closed or Serve shuts down
// (jamd's own hotspot answers on port 80 too: see cmd/jamd). Call it while Serve runs.
func (s *Server) ServeAlso(ln net.Listener) {
	go s.http.Serve(ln)
}
