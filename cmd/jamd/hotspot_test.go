package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder stands in for nmcli, which needs Wi-Fi hardware these machines lack: it records every
// command and answers from a table of canned outputs (what NetworkManager prints).
type recorder struct {
	calls   []string
	answers map[string]answer // by the command line, "nmcli -t -f ..."; missing: success, no output
}

type answer struct {
	out string
	err error
}

func (r *recorder) Run(_ context.Context, name string, args ...string) (string, error) {
	line := shellLine(name, args, "", "")
	r.calls = append(r.calls, line)
	for prefix, a := range r.answers {
		if strings.HasPrefix(line, prefix) {
			return a.out, a.err
		}
	}
	return "", nil
}

// memFiles records what `jamd hotspot` writes and removes.
type memFiles struct {
	written map[string]string
	modes   map[string]os.FileMode
	removed []string
}

func (m *memFiles) WriteFile(path string, data []byte, mode os.FileMode) error {
	m.written[path], m.modes[path] = string(data), mode
	return nil
}

func (m *memFiles) Remove(path string) error {
	m.removed = append(m.removed, path)
	return nil
}

const (
	queryDevices = "nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device"
	queryConns   = "nmcli -t -f NAME connection show"
	queryActive  = "nmcli -t -f NAME,DEVICE,STATE connection show --active"
	// What `nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device` prints on a Pi on Ethernet, Wi-Fi free.
	piDevices = "eth0:ethernet:connected:Wired connection 1\nwlan0:wifi:disconnected:\np2p-dev-wlan0:wifi-p2p:disconnected:\nlo:loopback:connected (externally):lo\n"
)

func newTestHotspot(t *testing.T, cfg hotspotConfig, answers map[string]answer) (*hotspot, *recorder, *memFiles, *bytes.Buffer) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Band == "" {
		cfg.Band = "bg"
	}
	if cfg.SSID == "" {
		cfg.SSID = "Jam on stage"
	}
	rec := &recorder{answers: answers}
	fs := &memFiles{written: map[string]string{}, modes: map[string]os.FileMode{}}
	var out bytes.Buffer
	return &hotspot{cfg: cfg, run: rec, out: &out, euid: 0, snippet: "/etc/NetworkManager/dnsmasq-shared.d/jamd.conf", fs: fs}, rec, fs, &out
}

func mustWritePassword(t *testing.T, dir, pw string) {
	t.Helper()
	if err := os.WriteFile(passwordPath(dir), []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHotspotUpRecordsNmcli: up (in memory only) and up --on-boot (kept, started at boot) issue
// these nmcli calls, in this order, and write the DNS snippet and the state file; down deletes
// the connection and removes both, keeping the password for the next gig.
func TestHotspotUpRecordsNmcli(t *testing.T) {
	for _, onBoot := range []bool{false, true} {
		dir := t.TempDir()
		mustWritePassword(t, dir, "k7m2-qx4p-9tbd")
		h, rec, fs, out := newTestHotspot(t, hotspotConfig{DataDir: dir, OnBoot: onBoot, Channel: 6}, map[string]answer{
			queryDevices: {out: piDevices},
			queryConns:   {out: "Wired connection 1\njamd-hotspot\n"},
		})
		if err := h.up(context.Background()); err != nil {
			t.Fatal(err)
		}
		save := map[bool]string{false: "no", true: "yes"}[onBoot]
		want := []string{
			queryDevices,
			queryConns,
			"nmcli connection delete jamd-hotspot",
			"nmcli connection add save " + save + " type wifi ifname wlan0 con-name jamd-hotspot autoconnect " + save + " ssid 'Jam on stage' " +
				"802-11-wireless.mode ap 802-11-wireless.band bg 802-11-wireless.channel 6 " +
				"802-11-wireless-security.key-mgmt wpa-psk 802-11-wireless-security.proto rsn 802-11-wireless-security.pairwise ccmp " +
				"802-11-wireless-security.group ccmp 802-11-wireless-security.pmf disable 802-11-wireless-security.psk k7m2-qx4p-9tbd " +
				"ipv4.method shared ipv4.addresses 10.42.0.1/24 ipv6.method disabled",
			"nmcli connection up jamd-hotspot",
		}
		if !slices.Equal(rec.calls, want) {
			t.Errorf("on-boot %v: nmcli calls\n%s\nwant\n%s", onBoot, strings.Join(rec.calls, "\n"), strings.Join(want, "\n"))
		}
		if got := fs.written[h.snippet]; got != dnsmasqConfig("10.42.0.1") || !strings.Contains(got, "address=/jam/10.42.0.1\n") {
			t.Errorf("dnsmasq snippet:\n%s", got)
		}
		st := fs.written[statePath(dir)]
		if fs.modes[statePath(dir)] != 0o600 || !strings.Contains(st, `"ssid": "Jam on stage"`) || strings.Contains(st, "k7m2") {
			t.Errorf("state file (mode %v):\n%s", fs.modes[statePath(dir)], st)
		}
		if strings.Contains(out.String(), "k7m2") {
			t.Errorf("up printed the password:\n%s", out)
		}

		rec.calls = nil
		if err := h.down(context.Background()); err != nil {
			t.Fatal(err)
		}
		if want := []string{queryConns, "nmcli connection delete jamd-hotspot"}; !slices.Equal(rec.calls, want) {
			t.Errorf("down: nmcli calls %q, want %q", rec.calls, want)
		}
		if !slices.Equal(fs.removed, []string{h.snippet, statePath(dir)}) {
			t.Errorf("down removed %q", fs.removed)
		}
	}
}

// TestHotspotGeneratesPassword: without one, up generates a password of 3×4 unambiguous
// characters and keeps it in the data dir, 0600.
func TestHotspotGeneratesPassword(t *testing.T) {
	h, rec, fs, _ := newTestHotspot(t, hotspotConfig{}, map[string]answer{queryDevices: {out: piDevices}})
	if err := h.up(context.Background()); err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(fs.written[passwordPath(h.cfg.DataDir)])
	if fs.modes[passwordPath(h.cfg.DataDir)] != 0o600 || len(pw) != 14 || strings.Trim(pw, passwordAlphabet+"-") != "" || validPassword(pw) != nil {
		t.Fatalf("generated password %q (mode %v)", pw, fs.modes[passwordPath(h.cfg.DataDir)])
	}
	if !strings.Contains(rec.calls[2], "802-11-wireless-security.psk "+pw+" ") {
		t.Fatalf("nmcli add does not carry the password: %s", rec.calls[2])
	}
}

// TestHotspotFailures: each way it cannot work, with what NetworkManager prints then, gives a
// sentence saying what to do.
func TestHotspotFailures(t *testing.T) {
	nmFails := func(exit int, stderr string) answer { return answer{err: &commandError{Exit: exit, Stderr: stderr}} }
	tests := []struct {
		name    string
		cfg     hotspotConfig
		euid    int
		answers map[string]answer
		want    string
	}{
		{"not root", hotspotConfig{}, 1000, nil, "run it as root (sudo jamd hotspot up)"},
		{"no NetworkManager installed", hotspotConfig{}, 0, map[string]answer{"nmcli": {err: fmt.Errorf("exec: %w", exec.ErrNotFound)}}, "nmcli is not installed"},
		{"NetworkManager not running", hotspotConfig{}, 0, map[string]answer{"nmcli": nmFails(8, "Error: NetworkManager is not running.\n")}, "systemctl start NetworkManager"},
		{"no Wi-Fi device", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: "eth0:ethernet:connected:Wired connection 1\nlo:loopback:unmanaged:\n"}}, "no Wi-Fi device"},
		{"--ifname not Wi-Fi", hotspotConfig{Ifname: "eth0"}, 0, map[string]answer{queryDevices: {out: piDevices}}, "eth0 is a ethernet device, not Wi-Fi"},
		{"--ifname missing", hotspotConfig{Ifname: "wlan1"}, 0, map[string]answer{queryDevices: {out: piDevices}}, "NetworkManager has no device wlan1"},
		{"radio off", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: "wlan0:wifi:unavailable:\n"}}, "nmcli radio wifi on"},
		{"unmanaged", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: "wlan0:wifi:unmanaged:\n"}}, "nmcli device set wlan0 managed yes"},
		{"radio on the venue's network", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: "wlan0:wifi:connected:Venue\\: Guest\n"}},
			`wlan0 is connected to the network "Venue: Guest": one radio cannot be that network and jamd's own at once. Either stay on "Venue: Guest"`},
		{"no AP mode", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: piDevices}, "nmcli connection up": nmFails(4,
			"Error: Connection activation failed: No suitable device found for this connection (device wlan0 not available because the device does not support Access Point mode).\n")},
			"wlan0 cannot be an access point"},
		{"rfkill at activation", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: piDevices}, "nmcli connection up": nmFails(4,
			"Error: Connection activation failed: No suitable device found for this connection (device wlan0 not available because device is not available).\n")},
			"wlan0 is not available: its radio may be off"},
		{"polkit refuses", hotspotConfig{}, 0, map[string]answer{queryDevices: {out: piDevices}, "nmcli connection add": nmFails(1,
			"Error: Failed to add 'jamd-hotspot' connection: Insufficient privileges\n")}, "not allowed to change the network"},
		{"bad channel", hotspotConfig{Band: "a", Channel: 6}, 0, nil, "--channel 6 is not a 5 GHz channel"},
		{"bad band", hotspotConfig{Band: "6ghz"}, 0, nil, `--band "6ghz"`},
		{"short password", hotspotConfig{Password: "short"}, 0, nil, "--password: a Wi-Fi password has 8 to 63 characters"},
		{"long SSID", hotspotConfig{SSID: strings.Repeat("x", 33)}, 0, nil, "longer than 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, fs, _ := newTestHotspot(t, tt.cfg, tt.answers)
			mustWritePassword(t, h.cfg.DataDir, "k7m2-qx4p-9tbd")
			h.euid = tt.euid
			err := h.up(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("up: %v, want %q", err, tt.want)
			}
			if _, ok := fs.written[statePath(h.cfg.DataDir)]; ok {
				t.Error("a failed up wrote the state file: serve would believe the hotspot is up")
			}
		})
	}
}

// TestHotspotDownIsIdempotent: down with no hotspot, or with NetworkManager gone, still removes
// jamd's files and says it is down.
func TestHotspotDownIsIdempotent(t *testing.T) {
	for name, answers := range map[string]map[string]answer{
		"no connection":     {queryConns: {out: "Wired connection 1\n"}},
		"no NetworkManager": {"nmcli": {err: exec.ErrNotFound}},
	} {
		h, rec, fs, out := newTestHotspot(t, hotspotConfig{}, answers)
		if err := h.down(context.Background()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rec.calls) != 1 || len(fs.removed) != 2 || !strings.Contains(out.String(), "down") {
			t.Errorf("%s: calls %q, removed %q, printed %q", name, rec.calls, fs.removed, out)
		}
	}
}

// TestHotspotDryRun pins what --dry-run prints: every command and file, runnable as it stands,
// and the password only as the file it is read from.
func TestHotspotDryRun(t *testing.T) {
	dir := t.TempDir()
	mustWritePassword(t, dir, "k7m2-qx4p-9tbd")
	tests := []struct {
		name, verb string
		cfg        hotspotConfig
		answers    map[string]answer
		want       string
	}{
		{"up", "up", hotspotConfig{DataDir: dir, SSID: "Jam on pi"}, map[string]answer{queryDevices: {out: piDevices}}, `cat > /etc/NetworkManager/dnsmasq-shared.d/jamd.conf <<'EOF'
` + dnsmasqConfig("10.42.0.1") + `EOF
nmcli connection add save no type wifi ifname wlan0 con-name jamd-hotspot autoconnect no ssid 'Jam on pi' 802-11-wireless.mode ap 802-11-wireless.band bg 802-11-wireless-security.key-mgmt wpa-psk 802-11-wireless-security.proto rsn 802-11-wireless-security.pairwise ccmp 802-11-wireless-security.group ccmp 802-11-wireless-security.pmf disable 802-11-wireless-security.psk "$(cat DIR/hotspot-password)" ipv4.method shared ipv4.addresses 10.42.0.1/24 ipv6.method disabled
nmcli connection up jamd-hotspot
cat > DIR/hotspot.json <<'EOF'
{
  "ssid": "Jam on pi",
  "interface": "wlan0",
  "address": "10.42.0.1",
  "onBoot": false
}
EOF
`},
		{"up --on-boot, 5 GHz, its own password, replacing the last one", "up",
			hotspotConfig{DataDir: dir, SSID: "Band's; \"net\"", Password: "it's: a secret", Band: "a", Channel: 36, Ifname: "wlan1", OnBoot: true},
			map[string]answer{queryDevices: {out: piDevices + "wlan1:wifi:connected:jamd-hotspot\n"}, queryConns: {out: "jamd-hotspot\n"}}, `# the password given is kept in DIR/hotspot-password (mode 0600)
cat > /etc/NetworkManager/dnsmasq-shared.d/jamd.conf <<'EOF'
` + dnsmasqConfig("10.42.0.1") + `EOF
nmcli connection delete jamd-hotspot
nmcli connection add save yes type wifi ifname wlan1 con-name jamd-hotspot autoconnect yes ssid 'Band'\''s; "net"' 802-11-wireless.mode ap 802-11-wireless.band a 802-11-wireless.channel 36 802-11-wireless-security.key-mgmt wpa-psk 802-11-wireless-security.proto rsn 802-11-wireless-security.pairwise ccmp 802-11-wireless-security.group ccmp 802-11-wireless-security.pmf disable 802-11-wireless-security.psk "$(cat DIR/hotspot-password)" ipv4.method shared ipv4.addresses 10.42.0.1/24 ipv6.method disabled
nmcli connection up jamd-hotspot
cat > DIR/hotspot.json <<'EOF'
{
  "ssid": "Band's; \"net\"",
  "interface": "wlan1",
  "address": "10.42.0.1",
  "onBoot": true
}
EOF
`},
		{"down", "down", hotspotConfig{DataDir: dir}, map[string]answer{queryConns: {out: "jamd-hotspot\n"}}, `nmcli connection delete jamd-hotspot
rm -f /etc/NetworkManager/dnsmasq-shared.d/jamd.conf
rm -f DIR/hotspot.json
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DryRun = true
			h, rec, fs, out := newTestHotspot(t, tt.cfg, tt.answers)
			h.euid = 1000 // --dry-run needs no root
			h.run = &readOnly{t: t, next: rec}
			var err error
			if tt.verb == "up" {
				err = h.up(context.Background())
			} else {
				err = h.down(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want = strings.ReplaceAll(tt.want, "DIR", dir); out.String() != tt.want {
				t.Errorf("--dry-run printed:\n%s\nwant:\n%s", out, tt.want)
			}
			if len(fs.written)+len(fs.removed) > 0 {
				t.Errorf("--dry-run changed files: %v %v", fs.written, fs.removed)
			}
		})
	}
	// No password yet: --dry-run says one would be generated, and writes none.
	h, _, _, out := newTestHotspot(t, hotspotConfig{DataDir: t.TempDir(), DryRun: true}, map[string]answer{queryDevices: {out: piDevices}})
	if err := h.up(context.Background()); err != nil || !strings.HasPrefix(out.String(), "# a new password is generated and kept in ") {
		t.Fatalf("%v:\n%s", err, out)
	}
	if _, err := os.Stat(passwordPath(h.cfg.DataDir)); err == nil {
		t.Fatal("--dry-run wrote a password")
	}
}

// readOnly fails the test when --dry-run runs anything but a query.
type readOnly struct {
	t    *testing.T
	next runner
}

func (r *readOnly) Run(ctx context.Context, name string, args ...string) (string, error) {
	if !slices.Contains(args, "-t") {
		r.t.Errorf("--dry-run ran %s %q", name, args)
	}
	return r.next.Run(ctx, name, args...)
}

// TestHotspotStatus reads what NetworkManager says is active.
func TestHotspotStatus(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hotspot.json"), []byte(hotspotState{SSID: "Jam", Interface: "wlan0", Address: "10.42.0.1", OnBoot: true}.encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _, _, out := newTestHotspot(t, hotspotConfig{DataDir: dir}, map[string]answer{queryActive: {out: "Wired connection 1:eth0:activated\njamd-hotspot:wlan0:activated\n"}})
	if err := h.status(context.Background()); err != nil || out.String() != "up: \"Jam\" on wlan0 (activated), at 10.42.0.1; starts at boot: yes\n" {
		t.Fatalf("%v: %q", err, out)
	}
	h, _, _, out = newTestHotspot(t, hotspotConfig{DataDir: dir}, map[string]answer{queryActive: {out: "Wired connection 1:eth0:activated\n"}})
	if err := h.status(context.Background()); err != nil || out.String() != "down\n" {
		t.Fatalf("%v: %q", err, out)
	}
}

func FuzzSplitTerse(f *testing.F) {
	f.Add("wlan0:wifi:connected:Venue\\: Guest")
	f.Add("a\\\\:b\\")
	f.Fuzz(func(t *testing.T, line string) {
		fields := splitTerse(line)
		if line == "" {
			return
		}
		// Escaping the fields again and splitting gives them back.
		esc := make([]string, len(fields))
		for i, s := range fields {
			esc[i] = strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
		}
		if again := splitTerse(strings.Join(esc, ":")); !slices.Equal(again, fields) && !(len(fields) == 1 && fields[0] == "") {
			t.Fatalf("%q → %q → %q", line, fields, again)
		}
	})
}
