package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jamd/appliance"
	"jamd/discovery/lantest"
)

// TestHotspotDNSAndProbes runs the hotspot's DNS for real: Debian's dnsmasq in namespace A (the
// box) with exactly the snippet `jamd hotspot up` writes and the options NetworkManager's shared
// mode gives it, at NetworkManager's hotspot address; jamd serve in A on port 8080 with the state
// file `up` writes (it answers on port 80 of the hotspot's address too, for the name to type and
// the probes). From B (a phone on the hotspot, its resolver pointed at the box as DHCP would)
// dig asks the name to type, the probes' names and a random one, and curl fetches the probe URLs
// through that DNS. The same probe sent to the box's other address (a venue network) is not
// answered as a probe, and /api/hotspot tells it nothing.
func TestHotspotDNSAndProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the hotspot DNS test in -short mode")
	}
	lan := lantest.NewLAN(t)
	for _, tool := range []string{"dnsmasq", "dig", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (apt-get install dnsmasq bind9-dnsutils curl, as make test does)", tool)
		}
	}
	bin := buildJamd(t)
	const box, phone = hotspotAddress, "10.42.0.2"
	lan.IP(t, "-n", lan.NSA, "addr", "add", box+"/24", "dev", lan.IfA)
	lan.IP(t, "-n", lan.NSB, "addr", "add", phone+"/24", "dev", lan.IfB)

	// dnsmasq as NetworkManager starts it for a shared connection, reading our snippet's directory.
	confDir, tmp := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(confDir, "jamd.conf"), []byte(dnsmasqConfig(box)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dns := lan.Command(ctx, lan.NSA, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--bind-interfaces",
		"--except-interface=lo", "--clear-on-reload", "--strict-order", "--listen-address="+box, "--no-resolv", "--user=root",
		"--pid-file="+filepath.Join(tmp, "dnsmasq.pid"), "--log-facility=-", "--conf-dir="+confDir)
	var dnsLog strings.Builder
	dns.Stdout, dns.Stderr = &dnsLog, &dnsLog
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dns.Process.Kill()
		_ = dns.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", dnsLog.String())
		}
	})

	dig := func(name, typ string) (status, answer string) {
		t.Helper()
		out, err := lan.Command(ctx, lan.NSB, "dig", "+time=1", "+tries=3", "@"+box, name, typ).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", name, err, out)
		}
		_, st, _ := strings.Cut(string(out), "status: ")
		status, _, _ = strings.Cut(st, ",")
		var answers []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 5 && !strings.HasPrefix(line, ";") && f[3] == typ {
				answers = append(answers, f[4])
			}
		}
		return status, strings.Join(answers, " ")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, a := dig(appliance.HotspotHostName, "A"); st == "NOERROR" && a == box {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("dig %s: %s %q, want NOERROR %s", appliance.HotspotHostName, st, a, box)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, h := range append(appliance.ProbeHosts(), "www.msftconnecttest.com", "jam.") {
		if st, a := dig(h, "A"); st != "NOERROR" || a != box {
			t.Errorf("dig %s: %s %q, want %s", h, st, a, box)
		}
	}
	if st, a := dig(appliance.WindowsDNSProbe, "A"); a != appliance.WindowsDNSProbeIP {
		t.Errorf("dig %s: %s %q, want %s (what Windows checks)", appliance.WindowsDNSProbe, st, a, appliance.WindowsDNSProbeIP)
	}
	// Any other name is not the box's to answer: upstream when there is one (none here).
	if st, a := dig(fmt.Sprintf("x%d.example.org", time.Now().UnixNano()), "A"); a != "" || st == "NOERROR" {
		t.Errorf("dig of a random name: %s %q, want no answer", st, a)
	}

	// jamd serve in A with the hotspot "up": the state file, and the address on an interface.
	dataDir := t.TempDir()
	if err := os.WriteFile(statePath(dataDir), []byte(hotspotState{SSID: "Jam on stage", Interface: lan.IfA, Address: box}.encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "k7m2-qx4p-9tbd"
	mustWritePassword(t, dataDir, password)
	_, out, logs, _ := startServeIn(t, lan, lan.NSA, bin, dataDir, "--addr", ":8080", "--no-mdns")
	if _, ok := out.wait("    http://"+box+":8080/jam", 20*time.Second); !ok {
		t.Fatalf("jamd serve did not print the hotspot's join URL http://%s:8080/jam", box)
	}
	if _, ok := logs.wait("answering on port 80 of jamd's own Wi-Fi too", 5*time.Second); !ok {
		t.Fatal("jamd serve on :8080 does not answer on port 80 of its hotspot")
	}
	if _, ok := out.wait(`1. Join the Wi-Fi "Jam on stage": jamd qr --wifi prints its code.`, time.Second); !ok {
		t.Error("jamd serve does not say how to get the Wi-Fi code")
	}

	// B resolves through the box, as a phone that got its DNS server from the hotspot's DHCP.
	netnsEtc := filepath.Join("/etc/netns", lan.NSB)
	if err := os.MkdirAll(netnsEtc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(netnsEtc) })
	if err := os.WriteFile(filepath.Join(netnsEtc, "resolv.conf"), []byte("nameserver "+box+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	curl := func(url string, header ...string) (code, body string) {
		t.Helper()
		args := []string{"-sS", "-m", "5", "-w", "\n%{http_code}"}
		for _, h := range header {
			args = append(args, "-H", h)
		}
		b, err := lan.Command(ctx, lan.NSB, "curl", append(args, url)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", url, err, b)
		}
		i := strings.LastIndex(string(b), "\n")
		return string(b[i+1:]), string(b[:i])
	}
	for _, p := range []struct{ url, code, body string }{
		{"http://connectivitycheck.gstatic.com/generate_204", "204", ""},
		{"http://connectivitycheck.android.com/generate_204", "204", ""},
		{"http://clients3.google.com/generate_204", "204", ""},
		{"http://captive.apple.com/hotspot-detect.html", "200", "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"},
		{"http://captive.apple.com/", "200", "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"},
		{"http://www.msftconnecttest.com/connecttest.txt", "200", "Microsoft Connect Test"},
		{"http://www.msftncsi.com/ncsi.txt", "200", "Microsoft NCSI"},
		{"http://detectportal.firefox.com/success.txt", "200", "success\n"},
		{"http://detectportal.firefox.com/canonical.html", "200", `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`},
		{"http://nmcheck.gnome.org/check_network_status.txt", "200", "NetworkManager is online\n"},
		{"http://connectivity-check.ubuntu.com/", "204", ""},
		{"http://jam/", "302", "<a href=\"/jam\">Found</a>.\n\n"},
	} {
		if code, body := curl(p.url); code != p.code || body != p.body {
			t.Errorf("GET %s: %s %q, want %s %q", p.url, code, body, p.code, p.body)
		}
	}
	if code, body := curl("http://jam/jam"); code != "200" || !strings.Contains(body, "<div id=\"root\">") {
		t.Errorf("GET http://jam/jam: %s %.200q, want the web app", code, body)
	}
	var info map[string]any
	if code, body := curl("http://jam/api/hotspot"); code != "200" || json.Unmarshal([]byte(body), &info) != nil ||
		info["up"] != true || info["ssid"] != "Jam on stage" || info["password"] != password || info["typeUrl"] != "http://jam/" {
		t.Errorf("GET http://jam/api/hotspot on the hotspot: %s %s", code, body)
	}

	// The same box seen from the other network (a venue's): no probe answers, no password.
	venue := "http://" + lan.AddrA + ":8080"
	if code, _ := curl(venue+"/generate_204", "Host: connectivitycheck.gstatic.com"); code != "421" {
		t.Errorf("a probe arriving on the venue address got %s, want 421: not this box's name, never captured", code)
	}
	if code, _ := curl(venue+"/jam", "Host: jam"); code != "421" {
		t.Errorf("the hotspot's short name on the venue address got %s, want 421", code)
	}
	if code, body := curl(venue + "/api/hotspot"); code != "200" || strings.TrimSpace(body) != `{"up":false}` {
		t.Errorf("GET /api/hotspot from the venue network: %s %s, want {\"up\":false}", code, body)
	}
	if code, _ := curl(venue + "/api/hotspot/qr.png"); code != "404" {
		t.Errorf("GET /api/hotspot/qr.png from the venue network: %s, want 404", code)
	}
	if strings.Contains(out.text()+logs.text(), password) {
		t.Error("jamd serve printed or logged the Wi-Fi password off a terminal")
	}
}
