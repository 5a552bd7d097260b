package appliance

import (
	"net"
	"strings"
	"testing"
	"time"
)

var farFuture = time.Now().Add(24 * time.Hour)

// FuzzHostAllowed feeds the Host allow-list any header value: it never panics, and what it lets
// in is a loopback address, localhost or a configured name (this machine's own addresses aside).
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "localhost", "[::1]:80", "jam.local.", "JAM.LOCAL:80", "evil.example",
		"[fe80::1%eth0]:8080", ":80", "", "[", "a:b:c", "127.0.0.1.evil.example", "jam.local@evil"} {
		f.Add(s)
	}
	h := newHostList([]string{"jam.local"})
	h.own = map[string]bool{} // no interface addresses: the test checks the rest
	h.refreshed = farFuture
	f.Fuzz(func(t *testing.T, host string) {
		if !h.allowed(host) {
			return
		}
		name := strings.ToLower(host)
		if hs, _, err := net.SplitHostPort(host); err == nil {
			name = strings.ToLower(hs)
		}
		name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
		if ip := net.ParseIP(name); ip != nil && ip.IsLoopback() || name == "localhost" || name == "jam.local" {
			return
		}
		t.Fatalf("%q allowed", host)
	})
}

// FuzzDeviceKey: any address string gives a key, and every address of one IPv6 /64 the same.
func FuzzDeviceKey(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2001:db8::1", "2001:db8::ffff:1", "::ffff:10.0.0.1", "junk", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ip string) {
		k := deviceKey(ip)
		if a := net.ParseIP(ip); a != nil && a.To4() == nil {
			b := make(net.IP, len(a))
			copy(b, a)
			b[15] ^= 0xff
			if deviceKey(b.String()) != k {
				t.Fatalf("%s and %s are one /64 but keyed %q and %q", a, b, k, deviceKey(b.String()))
			}
		}
	})
}
