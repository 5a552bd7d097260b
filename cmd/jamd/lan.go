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

	"jamd/appliance"
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
	wifiUp       = "jamd's own Wi-Fi is up. On a phone:"
	wifiDown     = "jamd's own Wi-Fi is down. On a phone on the same Wi-Fi, scan the code or open:"
)

// lanView is what `jamd serve` tells people where to go: the join URL, and jamd's own Wi-Fi
// while it is up.
type lanView struct {
	URL     string            // the lobby URL, or "" while the host has no LAN address
	Hotspot appliance.Hotspot // valid when WiFi
	WiFi    bool              // jamd's own hotspot is up (see hotspotstate.go)
}

// joinURLWatcher knows the lobby URL to share and jamd's own Wi-Fi, and follows both as the
// host's addresses change and the hotspot goes up and down.
type joinURLWatcher struct {
	pick  func() lanView // the view as of now
	every time.Duration  // how often watch calls pick
	view  atomic.Pointer[lanView]
}

// newJoinURLWatcher picks the first view of a listener on port: the join URL is cfg.PublicURL
// when set (it was validated with cfg), else chooseJoinURL's.
func newJoinURLWatcher(cfg serveConfig, port int) *joinURLWatcher {
	w := &joinURLWatcher{every: addrPoll, pick: func() lanView {
		var v lanView
		if cfg.DataDir != "" {
			v.Hotspot, v.WiFi = loadHotspot(cfg.DataDir)
		}
		v.URL = cfg.PublicURL
		if v.URL == "" {
			v.URL = chooseJoinURL(cfg, port, v.Hotspot, v.WiFi)
		}
		return v
	}}
	v := w.pick()
	w.view.Store(&v)
	return w
}

// URL is the lobby URL to share right now, or "" while the host has no LAN address. It fits
// appliance.Config.JoinURL, which falls back to the request's Host for "".
func (w *joinURLWatcher) URL() string { return w.view.Load().URL }

// Hotspot is jamd's own Wi-Fi and whether it is up; it fits appliance.Config.Hotspot.
func (w *joinURLWatcher) Hotspot() (appliance.Hotspot, bool) {
	v := w.view.Load()
	return v.Hotspot, v.WiFi
}

// watch looks for a new view every w.every until ctx ends; after each change it calls changed
// with the view before and the one now.
func (w *joinURLWatcher) watch(ctx context.Context, changed func(before, now lanView)) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before, now := *w.view.Load(), w.pick()
		if now == before {
			continue
		}
		w.view.Store(&now)
		changed(before, now)
	}
}

// banner tells the person at the terminal where phones should go: the join URL with its QR
// code, or a line saying they will follow once there is a LAN address. While jamd's own Wi-Fi is
// up it shows that network's QR code first (a phone joins the network, then opens the jam), but
// only on a terminal: under systemd stdout goes to the journal, which is no place for a password.
type banner struct {
	cfg    serveConfig
	port   int
	stdout io.Writer
	wifiQR bool // stdout is a terminal: the Wi-Fi code (it holds the password) may be shown
	log    *slog.Logger
	mu     sync.Mutex // one announcement on stdout at a time
}

// first prints the view jamd starts with.
func (b *banner) first(v lanView) {
	if ip, ok := listenIP(b.cfg); ok && ip.IsLoopback() && b.cfg.PublicURL == "" {
		b.print(lanView{}, fmt.Sprintf(loopbackOnly, b.port))
		return
	}
	if v.URL == "" {
		b.print(v, noAddressYet)
		return
	}
	b.print(v, joinReady)
}

// changed prints the view that replaced before; it fits joinURLWatcher.watch.
func (b *banner) changed(before, now lanView) {
	if now.URL != before.URL {
		b.log.Info("join address changed: phones that scanned the old QR code need the new link (jamd qr prints it)", "url", now.URL)
	}
	if now.WiFi != before.WiFi || now.Hotspot.SSID != before.Hotspot.SSID {
		b.log.Info("jamd's own Wi-Fi", "up", now.WiFi, "ssid", now.Hotspot.SSID)
	}
	switch {
	case now.URL == "":
		b.print(now, addressGone)
	case before.URL == "":
		b.print(now, joinReady)
	case now.URL != before.URL:
		b.print(now, joinMoved)
	case now.WiFi:
		b.print(now, wifiUp)
	default:
		b.print(now, wifiDown)
	}
}

func (b *banner) print(v lanView, headline string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v.URL == "" {
		fmt.Fprintf(b.stdout, "\n%s\n", headline)
		return
	}
	fmt.Fprintf(b.stdout, "\n%s\n", headline)
	if v.WiFi {
		hs := v.Hotspot
		if b.wifiQR {
			fmt.Fprintf(b.stdout, "\n1. Join the Wi-Fi %q (password %s): scan this code.\n", hs.SSID, hs.Password)
			if err := writeQR(b.stdout, appliance.WiFiQR(hs.SSID, hs.Password)); err != nil {
				b.log.Warn("cannot print the Wi-Fi QR code", "err", err)
			}
		} else {
			fmt.Fprintf(b.stdout, "\n1. Join the Wi-Fi %q: jamd qr --wifi prints its code.\n", hs.SSID)
		}
		fmt.Fprintf(b.stdout, "2. Then open the jam: scan this code, or type %s\n", hs.TypeURL)
	}
	fmt.Fprintf(b.stdout, "\n    %s\n\n", v.URL)
	if err := writeQR(b.stdout, v.URL); err != nil {
		b.log.Warn("cannot print the QR code", "err", err)
	}
	if others := otherURLs(b.cfg, b.port, v.URL); len(others) > 0 {
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
// to one, else for jamd's own hotspot while it is up (its phones scan this code right after the
// network's), else for the LAN address discovery.JoinIP picks, else "". Loopback is never a join
// URL: no phone can open it (a listener bound to loopback has none, and /api/info answers with
// the address the asker used).
func chooseJoinURL(cfg serveConfig, port int, hs appliance.Hotspot, wifi bool) string {
	if ip, ok := listenIP(cfg); ok {
		if ip.IsLoopback() {
			return ""
		}
		return discovery.JoinURL(ip, port, discovery.Path)
	}
	if wifi {
		return discovery.JoinURL(hs.Address.Unmap(), port, discovery.Path)
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

// hotspotPort80 keeps a listener on port 80 of jamd's own hotspot address while the hotspot is
// up and jamd serves on another port: phones type http://jam/ (port 80), and their connectivity
// checks ask port 80 too (appliance/captive.go). Without the right to bind port 80 (not root,
// and no CAP_NET_BIND_SERVICE as the unit grants) it says so and the QR codes still work.
type hotspotPort80 struct {
	srv  *appliance.Server
	log  *slog.Logger
	ln   net.Listener
	addr netip.Addr
}

// follow opens or closes the listener for view v. Called from one goroutine at a time.
func (p *hotspotPort80) follow(v lanView) {
	want := v.WiFi && v.Hotspot.Address.IsValid()
	if p.ln != nil && (!want || p.addr != v.Hotspot.Address) {
		p.ln.Close()
		p.ln = nil
	}
	if !want || p.ln != nil {
		return
	}
	at := netip.AddrPortFrom(v.Hotspot.Address, 80).String()
	ln, err := net.Listen("tcp", at)
	if err != nil {
		p.log.Warn("cannot answer on port 80 of jamd's own Wi-Fi, so phones cannot type "+v.Hotspot.TypeURL+" and may think the Wi-Fi has no internet; run jamd as root or with CAP_NET_BIND_SERVICE (the systemd unit has it), or serve with --addr :80", "addr", at, "err", err)
		return
	}
	p.ln, p.addr = ln, v.Hotspot.Address
	p.srv.ServeAlso(ln)
	p.log.Info("answering on port 80 of jamd's own Wi-Fi too", "addr", at)
}

// close closes the listener, if any.
func (p *hotspotPort80) close() {
	if p.ln != nil {
		p.ln.Close()
	}
}
