package discovery_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jamd/discovery"
)

func TestParseDefaultRoute(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
eth0	00000000	0100000A	0003	0	0	100	00000000	0	0	0
eth0	0000000A	00000000	0001	0	0	100	00FFFFFF	0	0	0
`
	tests := []struct{ name, table, want string }{
		{"lowest metric wins", table, "eth0"},
		{"no default route", "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", ""},
		{"route down", "h\nwlan0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discovery.ParseDefaultRoute(strings.NewReader(tt.table)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPickJoinIP(t *testing.T) {
	c := discovery.NewCandidate
	tests := []struct {
		name  string
		cands []discovery.Candidate
		want  string
	}{
		{"default route private first", []discovery.Candidate{c("192.168.5.2", false), c("10.0.0.7", true)}, "10.0.0.7"},
		{"private beats public default", []discovery.Candidate{c("203.0.113.9", true), c("192.168.1.20", false)}, "192.168.1.20"},
		{"public default beats other public", []discovery.Candidate{c("198.51.100.1", false), c("203.0.113.9", true)}, "203.0.113.9"},
		{"never loopback", []discovery.Candidate{c("127.0.0.1", true)}, ""},
		{"link-local as the last resort", []discovery.Candidate{c("127.0.0.1", false), c("169.254.7.1", true)}, "169.254.7.1"},
		{"link-local after any other", []discovery.Candidate{c("169.254.7.1", true), c("203.0.113.9", false)}, "203.0.113.9"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := discovery.PickJoinIP(tt.cands)
			if tt.want == "" {
				if ok {
					t.Fatalf("got %s, want none", got)
				}
				return
			}
			if !ok || got.String() != tt.want {
				t.Fatalf("got %s %v, want %s", got, ok, tt.want)
			}
		})
	}
}

func TestIsVirtual(t *testing.T) {
	for name, want := range map[string]bool{
		"docker0": true, "veth1a2b": true, "br-3f2a": true, "virbr0": true, "tailscale0": true, "wg0": true,
		"eth0": false, "wlan0": false, "enp3s0": false, "wlp2s0": false, "end0": false, "jama1": false,
	} {
		if got := discovery.IsVirtual(name); got != want {
			t.Errorf("IsVirtual(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestApplianceIDIsStable(t *testing.T) {
	dir := t.TempDir()
	id1, err := discovery.ApplianceID(dir)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := discovery.ApplianceID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 || len(id1) != 16 {
		t.Fatalf("ids %q and %q: want the same 16 hex digits twice", id1, id2)
	}
	b, err := os.ReadFile(filepath.Join(dir, "appliance-id"))
	if err != nil || strings.TrimSpace(string(b)) != id1 {
		t.Fatalf("appliance-id file holds %q (%v), want %q", b, err, id1)
	}
	if _, err := discovery.ApplianceID(filepath.Join(dir, "missing", "dir")); err == nil {
		t.Fatal("no error for a data dir that does not exist")
	}
}

func TestLabels(t *testing.T) {
	if got := discovery.HostLabel("pi.fritz.box"); got != "pi" {
		t.Errorf("HostLabel = %q", got)
	}
	if got := discovery.HostLabel("my_pi"); got != "my-pi" {
		t.Errorf("HostLabel = %q", got)
	}
	if got := discovery.DefaultInstance("raspberrypi.lan"); got != "Jam on raspberrypi" {
		t.Errorf("DefaultInstance = %q", got)
	}
	if got := discovery.UnescapeLabel(`Jam\ on\ pi\.lan\032x`); got != "Jam on pi.lan x" {
		t.Errorf("UnescapeLabel = %q", got)
	}
	if got := discovery.EscapeLabel(`a.b\c`); got != `a\.b\\c` {
		t.Errorf("EscapeLabel = %q", got)
	}
}

func TestJoinURL(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		port int
		want string
	}{
		{"192.168.1.20", 8080, "http://192.168.1.20:8080/jam"},
		{"192.168.1.20", 80, "http://192.168.1.20/jam"},
		{"fd00::1", 8080, "http://[fd00::1]:8080/jam"},
		{"fd00::1", 80, "http://[fd00::1]/jam"},
	} {
		if got := discovery.JoinURL(netip.MustParseAddr(tt.ip), tt.port, "/jam"); got != tt.want {
			t.Errorf("JoinURL(%s, %d) = %q, want %q", tt.ip, tt.port, got, tt.want)
		}
	}
}

func TestNewAdvertiserChecksPort(t *testing.T) {
	if _, err := discovery.NewAdvertiser(discovery.Config{Port: 0}); err == nil {
		t.Fatal("no error for port 0")
	}
	a, err := discovery.NewAdvertiser(discovery.Config{Port: 8080, Hostname: "stage-pi.local"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Instance() != "Jam on stage-pi" {
		t.Fatalf("instance %q", a.Instance())
	}
}

// TestHostIsNotTheHostName: the SRV target (and the name of the A/AAAA records) is jamd's own,
// so it never clashes with the <hostname>.local. that avahi-daemon publishes.
func TestHostIsNotTheHostName(t *testing.T) {
	for _, tt := range []struct{ id, hostname, want string }{
		{"0123456789abcdef", "raspberrypi", "jamd-01234567.local."},
		{"0123456789abcdef", "", "jamd-01234567.local."},
		{"ab", "raspberrypi", "jamd-ab.local."},
		{"", "raspberrypi.lan", "jamd-raspberr.local."},
		{"", "pi", "jamd-pi.local."},
	} {
		a, err := discovery.NewAdvertiser(discovery.Config{Port: 8080, ID: tt.id, Hostname: tt.hostname})
		if err != nil {
			t.Fatal(err)
		}
		if host := discovery.AdvertiserHost(a); host != tt.want {
			t.Errorf("ID %q, Hostname %q: host %q, want %q", tt.id, tt.hostname, host, tt.want)
		}
		if tt.hostname != "" && a.Instance() != discovery.DefaultInstance(tt.hostname) {
			t.Errorf("Hostname %q: instance %q, want %q", tt.hostname, a.Instance(), discovery.DefaultInstance(tt.hostname))
		}
	}
}
