package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"jamd/appliance"
	"jamd/discovery"
	"jamd/store"
	"jamd/webui"
)

// serveConfig is everything `jamd serve` can be told, from flags or JAMD_* variables.
type serveConfig struct {
	Addr            string        // where to listen; ":8080"
	DataDir         string        // holds jamd.db and admin-token
	ReconnectGrace  time.Duration // how long a dropped seat shows as reconnecting before away
	SeatHold        time.Duration // how long an away seat is kept
	MaxParticipants int           // seats per session
	SessionTTL      time.Duration // idle sessions are deleted after this
	AdminTokenFile  string        // holds the bearer token for /api/stats; the data dir's admin-token when empty
	CreateRateLimit int           // session creations per minute per device; 0 = off
	AllowedOrigins  []string      // extra WebSocket origins besides the page's own host
	AllowedHosts    []string      // names this box answers to besides its addresses, mDNS names and --public-url
	MaxConnections  int           // open WebSockets in total
	MaxPerDevice    int           // open WebSockets per device
	MaxSessions     int           // live sessions
	CreatesPerMin   int           // session creations per minute from all devices
	NoMDNS          bool          // do not advertise on the LAN
	NoLink          bool          // do not offer Ableton Link
	Name            string        // mDNS instance name; "Jam on <hostname>" when empty
	Interface       string        // advertise only on this interface; chosen when empty
	PublicURL       string        // the join URL to print and encode; chosen when empty
	MetricsPublic   bool          // serve /metrics without the admin token
	LogFormat       string        // text, json, journal or auto (journal under systemd, else text)
	PprofAddr       string        // hidden: serve Go's profiler on this loopback address
}

func newServeCommand(getenv env, stdout, stderr io.Writer) *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the /jam web app and the session WebSocket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags(), getenv); err != nil {
				return err
			}
			if cfg.DataDir == "" {
				cfg.DataDir = defaultDataDir(getenv)
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, getenv, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", ":8080", "address to listen on (host:port)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "where sessions are kept (default $STATE_DIRECTORY, else ~/.local/state/jamd)")
	f.DurationVar(&cfg.ReconnectGrace, "reconnect-grace", appliance.DefaultReconnectGrace, "how long a dropped phone shows as reconnecting before it is away (and the host role may move)")
	f.DurationVar(&cfg.SeatHold, "seat-hold", appliance.DefaultSeatHold, "how long the seat of someone who is away is kept for them")
	f.IntVar(&cfg.MaxParticipants, "max-participants", appliance.DefaultMaxParticipants, "seats in one session")
	f.DurationVar(&cfg.SessionTTL, "session-ttl", appliance.DefaultSessionTTL, "delete a session after this long without activity")
	f.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "file holding the bearer token for /api/stats (default: <data dir>/admin-token, generated once)")
	f.IntVar(&cfg.CreateRateLimit, "create-rate-limit", 10, "session creations per minute per device (0 = no limit)")
	f.IntVar(&cfg.CreatesPerMin, "creates-per-minute", appliance.DefaultCreatesPerMinute, "session creations per minute from all devices together")
	f.IntVar(&cfg.MaxConnections, "max-connections", appliance.DefaultMaxConnections, "open WebSockets in total; past it new ones get 503")
	f.IntVar(&cfg.MaxPerDevice, "max-connections-per-device", appliance.DefaultMaxConnectionsPerDevice, "open WebSockets per device (an IPv4 address or an IPv6 /64); past it 429")
	f.IntVar(&cfg.MaxSessions, "max-sessions", appliance.DefaultMaxSessions, "live sessions; past it new ones are refused")
	f.StringSliceVar(&cfg.AllowedOrigins, "allowed-origins", nil, "other origins allowed to open the WebSocket, e.g. http://jam.local:8080 (* for any)")
	f.StringSliceVar(&cfg.AllowedHosts, "allowed-hosts", nil, "other names this box answers to (its addresses, localhost, its mDNS names and the --public-url host always work); any other Host gets 421")
	f.BoolVar(&cfg.NoMDNS, "no-mdns", false, "do not advertise jamd on the LAN over mDNS")
	f.BoolVar(&cfg.NoLink, "no-link", false, "do not offer Ableton Link (the Beat tab's Link switch answers link_off)")
	f.StringVar(&cfg.Name, "name", "", `name shown to "jamd discover" (default "Jam on <hostname>")`)
	f.StringVar(&cfg.Interface, "interface", "", "network interface to advertise on (default: the one with the default route)")
	f.StringVar(&cfg.PublicURL, "public-url", "", "join URL to print and put in the QR code (default: http://<LAN address>:<port>/jam)")
	f.BoolVar(&cfg.MetricsPublic, "metrics-public", false, "serve /metrics to anyone on the network, without the admin token")
	f.StringVar(&cfg.LogFormat, "log-format", "auto", "log format: text, json, journal (systemd's journal, with fields to filter on), or auto (journal under systemd, else text)")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go's profiler on this loopback address (for benchmarks)")
	f.MarkHidden("pprof-addr")
	return cmd
}

// validate names the first option whose value cannot work.
func (c serveConfig) validate() error {
	switch {
	case c.MaxParticipants < 1:
		return errors.New("--max-participants must be at least 1")
	case c.ReconnectGrace <= 0:
		return errors.New("--reconnect-grace must be longer than 0s")
	case c.SeatHold <= 0:
		return errors.New("--seat-hold must be longer than 0s")
	case c.SessionTTL <= 0:
		return errors.New("--session-ttl must be longer than 0s")
	case c.CreateRateLimit < 0:
		return errors.New("--create-rate-limit must be 0 (no limit) or more")
	case c.CreatesPerMin < 1:
		return errors.New("--creates-per-minute must be at least 1")
	case c.MaxConnections < 1:
		return errors.New("--max-connections must be at least 1")
	case c.MaxPerDevice < 1:
		return errors.New("--max-connections-per-device must be at least 1")
	case c.MaxSessions < 1:
		return errors.New("--max-sessions must be at least 1")
	case !slices.Contains(logFormats, c.LogFormat):
		return fmt.Errorf("--log-format %q is not one of %s", c.LogFormat, strings.Join(logFormats, ", "))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q is not an http(s) URL", c.PublicURL)
		}
	}
	return nil
}

func defaultDataDir(getenv env) string {
	if d := getenv("STATE_DIRECTORY"); d != "" {
		// systemd may pass several, separated by colons; the first is ours.
		return filepath.SplitList(d)[0]
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "state", "jamd")
}

func serve(ctx context.Context, cfg serveConfig, getenv env, stdout, stderr io.Writer) error {
	log := newLogger(cfg.LogFormat, getenv, stderr)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create the data dir %s: %w", cfg.DataDir, errors.Unwrap(err))
	}
	token, err := adminToken(cfg, log)
	if err != nil {
		return err
	}
	// Listen first, so a busy port fails at once and nothing else is touched.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the port is already in use", cfg.Addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, errors.Unwrap(err))
	}
	defer ln.Close()
	cfg.Addr = ln.Addr().String() // as bound: a host name resolved, port 0 chosen
	db, err := store.Open(filepath.Join(cfg.DataDir, "jamd.db"))
	if err != nil {
		return err
	}
	defer db.Close()

	stopPprof, err := startPprof(cfg.PprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()

	port := ln.Addr().(*net.TCPAddr).Port
	join := newJoinURLWatcher(cfg, port)
	var linkOn appliance.Linker
	if !cfg.NoLink {
		linkOn = linker{iface: cfg.Interface, log: log}
	}
	srv, err := appliance.NewServer(appliance.Config{
		ReconnectGrace:          cfg.ReconnectGrace,
		SeatHold:                cfg.SeatHold,
		MaxParticipants:         cfg.MaxParticipants,
		SessionTTL:              cfg.SessionTTL,
		AdminToken:              token,
		MetricsPublic:           cfg.MetricsPublic,
		CreateRateLimit:         cfg.CreateRateLimit,
		CreatesPerMinute:        cfg.CreatesPerMin,
		MaxConnections:          cfg.MaxConnections,
		MaxConnectionsPerDevice: cfg.MaxPerDevice,
		MaxSessions:             cfg.MaxSessions,
		AllowedOrigins:          cfg.AllowedOrigins,
		Hosts:                   boxNames(cfg),
		Version:                 version,
		JoinURL:                 join.URL,
		Hotspot:                 join.Hotspot,
		Linker:                  linkOn,
	}, db, webui.Dist(), log)
	if err != nil {
		return err
	}

	log.Info("jamd listening: stop it with Ctrl-C (or sudo systemctl stop jamd); sessions survive a restart", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "version", version)
	fmt.Fprintf(stdout, "jamd is running: open http://%s/jam on this machine\n", browsableAddr(ln.Addr()))

	// Show where phones should go and announce on the LAN, following address changes, and tell
	// systemd we are ready; all of it stops when serving stops.
	lanCtx, stopLAN := context.WithCancel(ctx)
	defer stopLAN()
	first := *join.view.Load()
	banner := &banner{cfg: cfg, port: port, stdout: stdout, wifiQR: isTerminal(stdout), log: log}
	banner.first(first)
	waitMDNS, err := startMDNS(lanCtx, cfg, port, log)
	if err != nil {
		return err
	}
	var watching sync.WaitGroup
	changed := banner.changed
	if port != 80 {
		p80 := &hotspotPort80{srv: srv, log: log}
		defer p80.close()
		p80.follow(first)
		changed = func(before, now lanView) {
			banner.changed(before, now)
			p80.follow(now)
		}
	}
	watching.Go(func() { join.watch(lanCtx, changed) })
	if first.WiFi {
		log.Info("jamd's own Wi-Fi", "up", true, "ssid", first.Hotspot.SSID)
	}
	if ip, ok := listenIP(cfg); ok && ip.IsLoopback() {
		log.Info("no join URL: jamd listens on loopback only, so phones cannot reach it; serve with --addr :PORT to let them join", "addr", cfg.Addr)
	} else if first.URL != "" {
		log.Info("join URL", "url", first.URL)
	} else {
		log.Info("no LAN address yet: the join URL follows when there is one")
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	waitNotify := startNotify(lanCtx, getenv, log, localServer(host, strconv.Itoa(port)))
	defer func() { stopLAN(); waitNotify(); waitMDNS(); watching.Wait() }()

	return srv.Serve(ctx, ln)
}

// isTerminal reports whether w is a terminal (not a pipe, a file or the journal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// browsableAddr is the listener's address as a person types it: a wildcard host becomes localhost.
func browsableAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
		return a.String()
	}
	return tcp.String()
}

// boxNames are the names phones and browsers may use for this box besides its addresses and
// localhost: its host name, its mDNS names, the --public-url host and --allowed-hosts.
func boxNames(cfg serveConfig) []string {
	hostname, _ := os.Hostname()
	names := []string{hostname, hostname + ".local"}
	if id, err := discovery.ApplianceID(cfg.DataDir); err == nil {
		names = append(names, discovery.TargetLabel(id, hostname)+".local")
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil && cfg.PublicURL != "" {
		names = append(names, u.Hostname())
	}
	return append(names, cfg.AllowedHosts...)
}
