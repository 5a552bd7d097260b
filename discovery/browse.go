package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grandcat/zeroconf"
)

// Appliance is one jamd found on the LAN.
type Appliance struct {
	Name    string   `json:"name"`              // instance name, e.g. "Jam on raspberrypi"
	URLs    []string `json:"urls"`              // join URLs, IPv4 first, e.g. "http://192.168.1.20:8080/jam"
	Version string   `json:"version,omitempty"` // TXT ver=
	ID      string   `json:"id,omitempty"`      // TXT id=, stable across restarts and address changes
	Host    string   `json:"host"`              // SRV target, e.g. "jamd-0123abcd.local."
	Port    int      `json:"port"`
}

// Browse listens for _jamd._tcp for timeout (or until ctx ends) on the chosen interfaces
// (Interfaces("")) and returns the appliances that answered, sorted by name. Two records with the
// same id are one appliance seen on two interfaces; their URLs are merged.
func Browse(ctx context.Context, timeout time.Duration) ([]Appliance, error) {
	ifis, err := Interfaces("")
	if err != nil {
		return nil, err
	}
	if len(ifis) == 0 {
		return nil, errors.New("no network interface to browse on (only loopback or virtual ones are up)")
	}
	res, err := zeroconf.NewResolver(zeroconf.SelectIfaces(ifis))
	if err != nil { // IPv6 may be off: browse IPv4 only
		res, err = zeroconf.NewResolver(zeroconf.SelectIfaces(ifis), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	}
	if err != nil {
		return nil, fmt.Errorf("open mDNS socket: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry)
	if err := res.Browse(ctx, ServiceType, Domain, entries); err != nil {
		return nil, fmt.Errorf("browse %s: %w", ServiceType, err)
	}
	var found []Appliance
	for e := range entries { // closed by the library when ctx ends
		found = merge(found, fromEntry(e))
	}
	slices.SortFunc(found, func(a, b Appliance) int { return strings.Compare(a.Name, b.Name) })
	return found, nil
}

// fromEntry turns a browse result into an Appliance.
func fromEntry(e *zeroconf.ServiceEntry) Appliance {
	txt := map[string]string{}
	for _, kv := range e.Text {
		k, v, _ := strings.Cut(kv, "=")
		txt[strings.ToLower(k)] = v
	}
	path := txt["path"]
	if path == "" {
		path = Path
	}
	a := Appliance{Name: unescapeLabel(e.Instance), Version: txt["ver"], ID: txt["id"], Host: e.HostName, Port: e.Port}
	var ips []netip.Addr
	for _, ip := range slices.Concat(e.AddrIPv4, e.AddrIPv6) {
		if addr, ok := netip.AddrFromSlice(ip); ok {
			ips = append(ips, addr.Unmap())
		}
	}
	for _, ip := range ips {
		if ip.Is6() && ip.IsLinkLocalUnicast() {
			continue // needs a zone, which a browser's address bar does not take
		}
		a.URLs = append(a.URLs, JoinURL(ip, e.Port, path))
	}
	return a
}

// merge adds a to found, or its URLs to the appliance with the same id (or name, without an id).
func merge(found []Appliance, a Appliance) []Appliance {
	for i := range found {
		same := a.ID != "" && found[i].ID == a.ID || a.ID == "" && found[i].ID == "" && found[i].Name == a.Name
		if !same {
			continue
		}
		for _, u := range a.URLs {
			if !slices.Contains(found[i].URLs, u) {
				found[i].URLs = append(found[i].URLs, u)
			}
		}
		return found
	}
	return append(found, a)
}

// JoinURL is the URL of path on ip:port over HTTP; port 80 is left out.
func JoinURL(ip netip.Addr, port int, path string) string {
	host := ip.String()
	if port != 80 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if ip.Is6() {
		host = "[" + host + "]"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "http://" + host + path
}

// unescapeLabel undoes the DNS library's presentation escapes: `\ ` and `\.`, and `\DDD`.
func unescapeLabel(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
