package appliance

import (
	"cmp"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The door. Anyone on the venue's Wi-Fi can reach jamd: a phone with a buggy app, a guest's
// laptop, a malicious page open in someone's browser. What is here keeps any one of them from
// taking the box down or walking into a room:
//
//   - a Host allow-list, so a web page cannot reach jamd through DNS rebinding;
//   - caps on connections, in total and per device, and on live sessions;
//   - limits per device on guessing room codes;
//   - summarised warnings, so an attack cannot flood the log either.
//
// A device is its address; an IPv6 device is its /64, since it can pick any address in it.

// deviceKey is the key that limits and caps count a client address by.
func deviceKey(ip string) string {
	addr := net.ParseIP(ip)
	if addr == nil || addr.To4() != nil {
		return ip
	}
	return addr.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// remoteIP is the address part of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// hostList decides which Host headers jamd answers: this machine's own addresses (a literal
// address cannot be rebound), localhost, and the names the operator and mDNS gave it.
type hostList struct {
	names map[string]bool // lower-case, without port

	mu        sync.Mutex
	own       map[string]bool // this machine's addresses, refreshed at most every ownRefresh
	refreshed time.Time
}

const ownRefresh = 2 * time.Second

// Limits per device at the door. Twenty wrong room codes a minute is plenty for fat fingers and
// makes guessing one of a few live codes out of 31^6 take years; a phone shows its QR code a few
// times, not hundreds.
const (
	missesPerMinute = 20
	qrsPerMinute    = 30
	// WebSocket upgrades per device: a burst (or as many as the device may hold), then one a second.
	upgradeRate, upgradeBurst = 1, 30
)

func newHostList(names []string) *hostList {
	h := &hostList{names: map[string]bool{"localhost": true}}
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), ".")); n != "" {
			h.names[n] = true
		}
	}
	return h
}

// allowed reports whether hostport (a Host header, or an Origin's host) names this box.
func (h *hostList) allowed(hostport string) bool {
	host := strings.ToLower(hostport)
	if hs, _, err := net.SplitHostPort(hostport); err == nil {
		host = strings.ToLower(hs)
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if h.names[host] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	return h.ownAddress(ip)
}

// ownAddress reports whether ip is assigned to one of this machine's interfaces. The list is
// read again when an address is not in it and it is older than ownRefresh (a new DHCP lease).
func (h *hostList) ownAddress(ip net.IP) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.own[ip.String()] {
		return true
	}
	if time.Since(h.refreshed) < ownRefresh {
		return false
	}
	h.refreshed = time.Now()
	h.own = map[string]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			h.own[n.IP.String()] = true
		}
	}
	return h.own[ip.String()]
}

// tally counts events per device and reports them as one log line a minute, however many there
// are: a flood of refused requests must not become a flood of log lines.
type tally struct {
	what, hint string // "room-code misses", and what an operator can do about them

	mu     sync.Mutex
	counts map[string]int
}

func newTally(what, hint string) *tally {
	return &tally{what: what, hint: hint, counts: map[string]int{}}
}

func (t *tally) add(device string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.counts) < 10_000 || t.counts[device] > 0 {
		t.counts[device]++
	}
}

// flush logs what was counted since the last flush, if anything, and starts afresh.
func (t *tally) flush(log *slog.Logger) {
	t.mu.Lock()
	counts := t.counts
	t.counts = map[string]int{}
	t.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	devices := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return cmp.Compare(counts[b], counts[a]) })
	top := make([]string, 0, 3)
	for _, d := range devices[:min(3, len(devices))] {
		top = append(top, fmt.Sprintf("%s×%d", d, counts[d]))
	}
	log.Warn(t.what+" since the last report; "+t.hint, "count", total, "devices", len(counts), "top", strings.Join(top, " "))
}

// doorCount tracks open WebSockets, in total and per device, against their caps.
type doorCount struct {
	mu      sync.Mutex
	total   int
	devices map[string]int
}

// admit counts one more connection from device, or says which cap it would break.
func (d *doorCount) admit(device string, total, perDevice int) (ok bool, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.total >= total:
		return false, "too many connections"
	case d.devices[device] >= perDevice:
		return false, "too many connections from one device"
	}
	if d.devices == nil {
		d.devices = map[string]int{}
	}
	d.total++
	d.devices[device]++
	return true, ""
}

func (d *doorCount) release(device string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total--
	if d.devices[device]--; d.devices[device] <= 0 {
		delete(d.devices, device)
	}
}
