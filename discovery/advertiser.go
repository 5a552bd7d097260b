package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grandcat/zeroconf"
)

// The DNS-SD names and TXT keys jamd advertises and browses for.
const (
	ServiceType     = "_jamd._tcp" // jamd's own service: TXT txtvers, path, id, ver
	HTTPServiceType = "_http._tcp" // so generic browsers list the web app too: TXT path
	Domain          = "local."
	Path            = "/jam" // the web app's path, advertised in TXT path=
)

// defaultPoll is how often Serve looks for interfaces and address changes when Config.Poll is 0.
const defaultPoll = 2 * time.Second

// Config says what an Advertiser advertises. Zero values are documented per field.
type Config struct {
	Instance  string        // instance name shown by browsers; "Jam on <hostname>" when empty
	Port      int           // TCP port of the web app; required
	ID        string        // stable appliance id (ApplianceID); TXT id=
	Version   string        // jamd version; TXT ver=
	Interface string        // advertise only on this interface; chosen by Interfaces when empty
	Hostname  string        // host name for the default instance name; os.Hostname when empty
	Poll      time.Duration // how often to look for interface and address changes; 2s when zero
	Log       *slog.Logger  // where problems are logged; discarded when nil
	// Addr, when valid, is the one address jamd listens on: only it is advertised, and only on
	// the interface that holds it. The zero Addr advertises every address of the interfaces.
	Addr netip.Addr
}

// Advertiser announces one jamd on the LAN over mDNS. Create it with NewAdvertiser and run Serve.
type Advertiser struct {
	cfg        Config
	label      string // host label given to the library, e.g. "jamd-0123abcd"
	host       string // SRV target, e.g. "jamd-0123abcd.local."
	log        *slog.Logger
	served     atomic.Bool
	responders map[int]*responder // by interface index; only Serve's goroutine touches it
	warned     bool               // the missing explicit interface was logged
}

// responder is the pair of library servers answering on one interface, and the addresses that
// interface had when they last announced.
type responder struct {
	iface net.Interface
	jamd  *zeroconf.Server
	http  *zeroconf.Server
	addrs []netip.Addr
}

// NewAdvertiser checks cfg and fills its defaults. It does not touch the network.
func NewAdvertiser(cfg Config) (*Advertiser, error) {
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("discovery: Port %d is not a TCP port", cfg.Port)
	}
	host := cfg.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("discovery: host name: %w", err)
		}
		host = h
	}
	if cfg.Instance == "" {
		cfg.Instance = DefaultInstance(host)
	}
	label := TargetLabel(cfg.ID, host)
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Advertiser{
		cfg:        cfg,
		label:      label,
		host:       label + "." + Domain,
		log:        log,
		responders: map[int]*responder{},
	}, nil
}

// DefaultInstance is the instance name used when none is configured: "Jam on <hostname>".
func DefaultInstance(hostname string) string {
	return "Jam on " + hostLabel(hostname)
}

// TargetLabel is the host label jamd advertises its addresses under (the SRV target, before
// ".local."): "jamd-" and the first 8 characters of the appliance id, or of the host name when
// there is no id. It is never the machine's own host name, which avahi-daemon owns (see doc.go).
func TargetLabel(id, hostname string) string {
	name := id
	if name == "" {
		name = hostLabel(hostname)
	}
	name = hostLabel(name)
	if len(name) > 8 {
		name = name[:8]
	}
	return strings.TrimRight("jamd-"+name, "-")
}

// Instance returns the instance name being advertised.
func (a *Advertiser) Instance() string { return a.cfg.Instance }

// jamdText is the TXT record of the _jamd._tcp service.
func (a *Advertiser) jamdText() []string {
	return []string{"txtvers=1", "path=" + Path, "id=" + a.cfg.ID, "ver=" + a.cfg.Version}
}

// httpText is the TXT record of the _http._tcp service.
func httpText() []string { return []string{"path=" + Path} }

// Serve advertises until ctx is cancelled, then sends the goodbye packets (once per responder)
// and returns nil. Every Poll it registers responders on interfaces that appeared and
// re-announces on interfaces whose addresses changed. It returns an error only when called twice.
func (a *Advertiser) Serve(ctx context.Context) error {
	if !a.served.CompareAndSwap(false, true) {
		return errors.New("discovery: Serve called twice")
	}
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	for {
		a.sync(ctx)
		select {
		case <-ctx.Done():
			a.goodbye()
			return nil
		case <-t.C:
		}
	}
}

// sync brings the responders in line with the interfaces and their addresses.
func (a *Advertiser) sync(ctx context.Context) {
	ifis, err := Interfaces(a.cfg.Interface)
	if err != nil {
		if !a.warned {
			a.log.Warn("mDNS: cannot advertise yet", "interface", a.cfg.Interface, "err", err)
			a.warned = true
		}
		return
	}
	for _, ifi := range ifis {
		addrs := a.reachable(ifaceAddrs(ifi))
		if len(addrs) == 0 || ctx.Err() != nil {
			continue
		}
		r, ok := a.responders[ifi.Index]
		switch {
		case !ok:
			r, err := a.register(ifi)
			if err != nil {
				a.log.Warn("mDNS: cannot advertise on interface", "interface", ifi.Name, "err", err)
				continue
			}
			r.addrs = addrs
			a.responders[ifi.Index] = r
			a.log.Info("mDNS: advertising", "interface", ifi.Name, "instance", a.cfg.Instance, "addrs", addrs)
		case !slices.Equal(r.addrs, addrs):
			r.iface, r.addrs = ifi, addrs
			a.log.Info("mDNS: addresses changed, announcing", "interface", ifi.Name, "addrs", addrs)
			if err := a.announce(ctx, ifi, addrs); err != nil {
				a.log.Warn("mDNS: cannot announce", "interface", ifi.Name, "err", err)
			}
		}
	}
}

// register starts the library's responders for both services on one interface. They are given
// no fixed addresses, so they answer with the interface's current ones.
func (a *Advertiser) register(ifi net.Interface) (*responder, error) {
	instance := escapeLabel(a.cfg.Instance)
	var ips []string // nil: the library answers with the interface's current addresses
	if a.cfg.Addr.IsValid() {
		ips = []string{a.cfg.Addr.String()}
	}
	jamd, err := zeroconf.RegisterProxy(instance, ServiceType, Domain, a.cfg.Port, a.label, ips, a.jamdText(), []net.Interface{ifi})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", ServiceType, err)
	}
	http, err := zeroconf.RegisterProxy(instance, HTTPServiceType, Domain, a.cfg.Port, a.label, ips, httpText(), []net.Interface{ifi})
	if err != nil {
		jamd.Shutdown()
		return nil, fmt.Errorf("register %s: %w", HTTPServiceType, err)
	}
	return &responder{iface: ifi, jamd: jamd, http: http}, nil
}

// reachable keeps, of an interface's addresses, those jamd can be reached at: all of them, or
// only Config.Addr when jamd listens on that one alone.
func (a *Advertiser) reachable(addrs []netip.Addr) []netip.Addr {
	if !a.cfg.Addr.IsValid() {
		return addrs
	}
	if slices.Contains(addrs, a.cfg.Addr.Unmap()) {
		return []netip.Addr{a.cfg.Addr.Unmap()}
	}
	return nil
}

// goodbye shuts every responder down: the library sends the TTL-0 records, exactly once each.
func (a *Advertiser) goodbye() {
	for idx, r := range a.responders {
		r.jamd.Shutdown()
		r.http.Shutdown()
		delete(a.responders, idx)
	}
	a.log.Info("mDNS: goodbye sent", "instance", a.cfg.Instance)
}

// ifaceAddrs returns the addresses an interface is reachable at, sorted: IPv4 (link-local
// included) and IPv6 (global, else link-local), the same ones the library puts in its answers.
func ifaceAddrs(ifi net.Interface) []netip.Addr {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var v4, v6, v6local []netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.IsLoopback() {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.Is4():
			v4 = append(v4, ip)
		case ip.IsLinkLocalUnicast():
			v6local = append(v6local, ip)
		case ip.IsGlobalUnicast():
			v6 = append(v6, ip)
		}
	}
	if len(v6) == 0 {
		v6 = v6local
	}
	out := append(v4, v6...)
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// hostLabel turns a host name into one DNS label: the part before the first dot, with characters
// other than letters, digits and '-' replaced by '-'.
func hostLabel(h string) string {
	h, _, _ = strings.Cut(strings.TrimSuffix(h, "."), ".")
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "jamd"
	}
	return string(b)
}

// escapeLabel escapes an instance name for the DNS library's presentation format, so a dot or a
// backslash in it stays inside the one label.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(s)
}
