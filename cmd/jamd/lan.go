package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"jamd/discovery"
)

// addrPoll is how often `jamd serve` looks for a change of its join address.
const addrPoll = 2 * time.Second

// joinNow holds the join URL startLAN printed last; currentJoinURL reads it.
var joinNow atomic.Pointer[string]

// What `jamd serve` prints while the host has no LAN address to put in a join URL (booted before
// DHCP answered, or --interface has no IPv4): never a loopback URL, which no phone can open.
const (
	noAddressYet = "No LAN address yet: jamd will print the join link and QR code as soon as it has one."
	addressGone  = "The LAN address is gone: jamd will print the new join link and QR code as soon as it has one."
)

// currentJoinURL is the lobby URL to share right now (it follows address changes), or "" before
// startLAN ran or while the host has no LAN address. It fits appliance.Config.JoinURL, which
// falls back to the request's Host for "".
func currentJoinURL() string {
	if p := joinNow.Load(); p != nil {
		return *p
	}
	return ""
}

// startLAN makes the running server findable: it prints the join URL and its QR code to stdout
// (or, while there is no LAN address, a line saying they will follow), advertises over mDNS
// unless cfg.NoMDNS, and prints the new URL and QR when the address changes. Call it after the
// listener is open; port is the listener's. wait blocks, after ctx is cancelled, until the mDNS
// goodbye has been sent.
func startLAN(ctx context.Context, cfg serveConfig, port int, dataDir string, stdout io.Writer, log *slog.Logger) (joinURL string, wait func(), err error) {
	pick := func() string { return chooseJoinURL(cfg, port) }
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", nil, fmt.Errorf("--public-url %q is not an http(s) URL", cfg.PublicURL)
		}
		pick = func() string { return cfg.PublicURL }
	}
	var mu sync.Mutex // one announcement on stdout at a time
	show := func(u, headline string) {
		joinNow.Store(&u)
		mu.Lock()
		defer mu.Unlock()
		if u == "" {
			fmt.Fprintf(stdout, "\n%s\n", headline)
			return
		}
		fmt.Fprintf(stdout, "\n%s\n\n    %s\n\n", headline, u)
		if err := writeQR(stdout, u); err != nil {
			log.Warn("cannot print the QR code", "err", err)
		}
		if others := otherURLs(cfg, port, u); len(others) > 0 {
			fmt.Fprintf(stdout, "Also reachable at: %s\n", strings.Join(others, "  "))
		}
	}
	const ready = "jamd is ready. On a phone on the same Wi-Fi, scan the code or open:"
	joinURL = pick()
	if joinURL == "" {
		show("", noAddressYet)
	} else {
		show(joinURL, ready)
	}

	var wg sync.WaitGroup
	if !cfg.NoMDNS {
		id, err := discovery.ApplianceID(dataDir)
		if err != nil {
			return "", nil, err
		}
		adv, err := discovery.NewAdvertiser(discovery.Config{
			Instance: cfg.Name, Port: port, ID: id, Version: version, Interface: cfg.Interface, Log: log,
		})
		if err != nil {
			return "", nil, err
		}
		log.Info("advertising over mDNS", "name", adv.Instance(), "id", id)
		wg.Go(func() {
			if err := adv.Serve(ctx); err != nil {
				log.Error("mDNS advertiser stopped", "err", err)
			}
		})
	}
	if cfg.PublicURL == "" {
		wg.Go(func() {
			t := time.NewTicker(addrPoll)
			defer t.Stop()
			last := joinURL
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				u := pick()
				if u == last {
					continue
				}
				headline := "The address changed. Open instead:"
				switch {
				case u == "":
					headline = addressGone
				case last == "":
					headline = ready
				}
				last = u
				log.Info("join address changed", "url", u)
				show(u, headline)
			}
		})
	}
	return joinURL, wg.Wait, nil
}

// chooseJoinURL is http://<address>:<port>/jam for the listener's own host when it is bound to
// one (127.0.0.1 included: then that is what the operator asked for), else for the LAN address
// discovery.JoinIP picks, else "": a wildcard listener never offers loopback as the join URL.
func chooseJoinURL(cfg serveConfig, port int) string {
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil && host != "" {
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			return discovery.JoinURL(ip.Unmap(), port, discovery.Path)
		}
	}
	if ip, ok := discovery.JoinIP(cfg.Interface); ok {
		return discovery.JoinURL(ip, port, discovery.Path)
	}
	return ""
}

// otherURLs lists the other LAN addresses that serve the same page, for a phone on another network.
func otherURLs(cfg serveConfig, port int, primary string) []string {
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil && host != "" {
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			return nil // bound to one address: there is no other
		}
	}
	var out []string
	for _, ip := range discovery.AllIPv4(cfg.Interface) {
		if u := discovery.JoinURL(ip, port, discovery.Path); u != primary {
			out = append(out, u)
		}
	}
	return out
}
