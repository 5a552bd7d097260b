package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jamd/discovery"
)

// addrPoll is how often `jamd serve` looks for a change of its join address.
const addrPoll = 2 * time.Second

// What `jamd serve` prints while the host has no LAN address to put in a join URL (booted before
// DHCP answered, or --interface has no IPv4): never a loopback URL, which no phone can open.
const (
	noAddressYet = "No LAN address yet: jamd will print the join link and QR code as soon as it has one."
	addressGone  = "The LAN address is gone: jamd will print the new join link and QR code as soon as it has one."
	joinReady    = "jamd is ready. On a phone on the same Wi-Fi, scan the code or open:"
	loopbackOnly = "jamd listens on this machine's loopback address only: no phone can reach it, so there is no join link or QR code, and nothing is advertised on the LAN. To let phones join, serve on the LAN: --addr :%d"
	joinMoved    = "The address changed. Open instead:"
)

// joinURLWatcher knows the lobby URL to share, and follows it as the host's addresses change.
type joinURLWatcher struct {
	pick  func() string // the join URL as of now
	fixed bool          // --public-url: it never changes
	every time.Duration // how often watch calls pick
	url   atomic.Pointer[string]
}

// newJoinURLWatcher picks the first join URL of a listener on port: cfg.PublicURL when set (it
// was validated with cfg), else chooseJoinURL's.
func newJoinURLWatcher(cfg serveConfig, port int) *joinURLWatcher {
	w := &joinURLWatcher{pick: func() string { return chooseJoinURL(cfg, port) }, every: addrPoll}
	if cfg.PublicURL != "" {
		w.pick, w.fixed = func() string { return cfg.PublicURL }, true
	} else if _, ok := listenIP(cfg); ok {
		w.fixed = true // bound to one address: it is the join address (or, for loopback, there is none)
	}
	u := w.pick()
	w.url.Store(&u)
	return w
}

// URL is the lobby URL to share right now, or "" while the host has no LAN address. It fits
// appliance.Config.JoinURL, which falls back to the request's Host for "".
func (w *joinURLWatcher) URL() string { return *w.url.Load() }

// watch looks for a new join URL every w.every until ctx ends; after each change it calls
// changed with the URL before and the one now. With a fixed URL it returns at once.
func (w *joinURLWatcher) watch(ctx context.Context, changed func(before, now string)) {
	if w.fixed {
		return
	}
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before, now := w.URL(), w.pick()
		if now == before {
			continue
		}
		w.url.Store(&now)
		changed(before, now)
	}
}

// banner tells the person at the terminal where phones should go: the join URL with its QR
// code, or a line saying they will follow once there is a LAN address.
type banner struct {
	cfg    serveConfig
	port   int
	stdout io.Writer
	log    *slog.Logger
	mu     sync.Mutex // one announcement on stdout at a time
}

// first prints the join URL jamd starts with ("" while there is no LAN address).
func (b *banner) first(u string) {
	if ip, ok := listenIP(b.cfg); ok && ip.IsLoopback() && b.cfg.PublicURL == "" {
		b.print("", fmt.Sprintf(loopbackOnly, b.port))
		return
	}
	if u == "" {
		b.print(u, noAddressYet)
		return
	}
	b.print(u, joinReady)
}

// changed prints the join URL that replaced before; it fits joinURLWatcher.watch.
func (b *banner) changed(before, now string) {
	b.log.Info("join address changed: phones that scanned the old QR code need the new link (jamd qr prints it)", "url", now)
	switch {
	case now == "":
		b.print(now, addressGone)
	case before == "":
		b.print(now, joinReady)
	default:
		b.print(now, joinMoved)
	}
}

func (b *banner) print(u, headline string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u == "" {
		fmt.Fprintf(b.stdout, "\n%s\n", headline)
		return
	}
	fmt.Fprintf(b.stdout, "\n%s\n\n    %s\n\n", headline, u)
	if err := writeQR(b.stdout, u); err != nil {
		b.log.Warn("cannot print the QR code", "err", err)
	}
	if others := otherURLs(b.cfg, b.port, u); len(others) > 0 {
		fmt.Fprintf(b.stdout, "Also reachable at: %s\n", strings.Join(others, "  "))
	}
}

// startMDNS advertises the server listening on port over mDNS until ctx is cancelled, unless
// cfg.NoMDNS. wait blocks, after ctx is cancelled, until the mDNS goodbye has been sent.
func startMDNS(ctx context.Context, cfg serveConfig, port int, log *slog.Logger) (wait func(), err error) {
	var wg sync.WaitGroup
	if cfg.NoMDNS {
		return wg.Wait, nil
	}
	only, bound := listenIP(cfg)
	if bound && only.IsLoopback() {
		log.Warn("not advertising over mDNS: jamd listens on loopback only, which no other machine can reach; serve with --addr :PORT (or a LAN address) to be found", "addr", cfg.Addr)
		return wg.Wait, nil
	}
	id, err := discovery.ApplianceID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	adv, err := discovery.NewAdvertiser(discovery.Config{
		Instance: cfg.Name, Port: port, ID: id, Version: version, Interface: cfg.Interface, Addr: only, Log: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("advertising over mDNS", "name", adv.Instance(), "id", id)
	wg.Go(func() {
		if err := adv.Serve(ctx); err != nil {
			log.Error("mDNS advertiser stopped", "err", err)
		}
	})
	return wg.Wait, nil
}

// chooseJoinURL is http://<address>:<port>/jam for the listener's own address when it is bound
// to one, else for the LAN address discovery.JoinIP picks, else "". Loopback is never a join
// URL: no phone can open it (a listener bound to loopback has none, and /api/info answers with
// the address the asker used).
func chooseJoinURL(cfg serveConfig, port int) string {
	if ip, ok := listenIP(cfg); ok {
		if ip.IsLoopback() {
			return ""
		}
		return discovery.JoinURL(ip, port, discovery.Path)
	}
	if ip, ok := discovery.JoinIP(cfg.Interface); ok {
		return discovery.JoinURL(ip, port, discovery.Path)
	}
	return ""
}

// listenIP is the one address jamd listens on, when cfg.Addr names one (serve sets cfg.Addr to
// the listener's own address, so a host name is resolved); ok is false for a wildcard listener.
func listenIP(cfg serveConfig) (ip netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return netip.Addr{}, false
	}
	ip, err = netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// otherURLs lists the other LAN addresses that serve the same page, for a phone on another network.
func otherURLs(cfg serveConfig, port int, primary string) []string {
	if _, ok := listenIP(cfg); ok {
		return nil // bound to one address: there is no other
	}
	var out []string
	for _, ip := range discovery.AllIPv4(cfg.Interface) {
		if u := discovery.JoinURL(ip, port, discovery.Path); u != primary {
			out = append(out, u)
		}
	}
	return out
}
