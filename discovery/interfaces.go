package discovery

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// virtualPrefixes name interfaces that never lead to the room's phones: container and VM bridges,
// their veth ends, tunnels and VPNs.
var virtualPrefixes = []string{
	"docker", "veth", "br-", "virbr", "vnet", "vmnet", "vboxnet", "lxc", "lxd", "cni", "flannel",
	"cali", "weave", "kube", "podman", "tun", "tap", "wg", "tailscale", "zt", "utun", "ham",
}

// IsVirtual reports whether an interface name belongs to a container, VM bridge, tunnel or VPN,
// which jamd never advertises on nor puts in a join URL.
func IsVirtual(name string) bool {
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Interfaces returns the interfaces to advertise on. A non-empty name selects exactly that
// interface (an error if it does not exist); otherwise every interface that is up, can multicast,
// and is neither loopback nor virtual (IsVirtual).
func Interfaces(name string) ([]net.Interface, error) {
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("no network interface named %q", name)
		}
		return []net.Interface{*ifi}, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		if IsVirtual(ifi.Name) {
			continue
		}
		out = append(out, ifi)
	}
	return out, nil
}

// DefaultRouteInterface returns the name of the interface that holds the IPv4 default route, read
// from /proc/net/route (the lowest metric wins), or "" when there is none (a Pi serving its own
// hotspot often has none) or the table cannot be read.
func DefaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseDefaultRoute(f)
}

// parseDefaultRoute reads a /proc/net/route table and returns the interface of the default route
// with the lowest metric.
func parseDefaultRoute(r io.Reader) string {
	const rtfUp = 0x1
	best, bestMetric := "", -1
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 8 {
			continue // the header line
		}
		dest, mask := f[1], f[7]
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.Atoi(f[6])
		if err1 != nil || err2 != nil || dest != "00000000" || mask != "00000000" || flags&rtfUp == 0 {
			continue
		}
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	return best
}

// ipv4Addrs returns the usable IPv4 addresses of an interface: no loopback, and link-local
// (169.254/16) ones only when linkLocal is set.
func ipv4Addrs(ifi net.Interface, linkLocal bool) []netip.Addr {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() && !ip.IsLoopback() && !ip.IsUnspecified() && (linkLocal || !ip.IsLinkLocalUnicast()) {
			out = append(out, ip)
		}
	}
	return out
}

// JoinIP returns the IPv4 address a phone in the room should use: an address of the interface
// named iface when given; otherwise of the interface holding the default route, then of any
// other chosen interface (Interfaces), private ranges (10/8, 172.16/12, 192.168/16) first. A
// link-local address (169.254/16, a Pi cabled straight to a laptop) is the last resort.
// Loopback and virtual interfaces (docker, veth…) are never used. ok is false when the host has
// no such address (yet: before DHCP has answered, say).
func JoinIP(iface string) (ip netip.Addr, ok bool) {
	ifis, err := Interfaces(iface)
	if err != nil {
		return netip.Addr{}, false
	}
	var cands []candidate
	def := DefaultRouteInterface()
	for _, ifi := range ifis {
		for _, a := range ipv4Addrs(ifi, true) {
			cands = append(cands, candidate{addr: a, defaultRoute: ifi.Name == def})
		}
	}
	return pickJoinIP(cands)
}

// candidate is one address JoinIP may choose.
type candidate struct {
	addr         netip.Addr
	defaultRoute bool // on the interface with the default route
}

// pickJoinIP ranks candidates: default route and private first, then private, then default
// route, then the rest, and link-local after all of those; ties keep their order. Loopback is
// never picked.
func pickJoinIP(cands []candidate) (netip.Addr, bool) {
	rank := func(c candidate) int {
		r := 0
		if c.addr.IsLinkLocalUnicast() {
			r += 4
		}
		if !c.addr.IsPrivate() {
			r += 2
		}
		if !c.defaultRoute {
			r++
		}
		return r
	}
	var usable []candidate
	for _, c := range cands {
		if c.addr.Is4() && !c.addr.IsLoopback() && !c.addr.IsUnspecified() {
			usable = append(usable, c)
		}
	}
	if len(usable) == 0 {
		return netip.Addr{}, false
	}
	slices.SortStableFunc(usable, func(a, b candidate) int { return rank(a) - rank(b) })
	return usable[0].addr, true
}

// AllIPv4 returns every IPv4 address, link-local ones aside, of the chosen interfaces
// (Interfaces(iface)), for printing the other URLs a person may try.
func AllIPv4(iface string) []netip.Addr {
	ifis, err := Interfaces(iface)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifi := range ifis {
		out = append(out, ipv4Addrs(ifi, false)...)
	}
	return out
}
