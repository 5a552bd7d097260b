package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"jamd/discovery"
	"jamd/discovery/lantest"
)

// TestServeOnLAN is the appliance end to end on a LAN of two network namespaces: `jamd serve` in
// A prints its join URL and a QR code of it, `jamd discover` in B finds it at that URL,
// python3-zeroconf in B sees both services with their TXT records, `jamd qr` in B gets the same
// URL from the server, and after SIGTERM the goodbye removes it. Nothing leaves the namespaces.
func TestServeOnLAN(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	bin := buildJamd(t)
	zc := lan.StartZeroconfBrowser(t, lan.NSB)

	const port, name = 18080, "Jam on stage"
	dataDir := t.TempDir()
	serve, out, logs, exited := startServeIn(t, lan, lan.NSA, bin, dataDir, "--addr", fmt.Sprintf(":%d", port), "--name", name)

	wantURL := fmt.Sprintf("http://%s:%d/jam", lan.AddrA, port)
	if _, ok := out.wait("    "+wantURL, 20*time.Second); !ok {
		t.Fatalf("jamd serve did not print %s", wantURL)
	}
	if got := decodeTerminalQR(t, waitQR(t, out, wantURL)); got != wantURL {
		t.Fatalf("the printed QR code decodes to %q, want %q", got, wantURL)
	}
	idBytes, err := os.ReadFile(filepath.Join(dataDir, "appliance-id"))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(idBytes))
	wantHost := "jamd-" + id[:8] + ".local." // never the host name, which avahi-daemon owns

	// jamd discover in B.
	var found []discovery.Appliance
	for range 3 {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		b, err := lan.Command(dctx, lan.NSB, bin, "discover", "--json", "--timeout", "3s").Output()
		dcancel()
		if err != nil {
			t.Fatalf("jamd discover: %v", err)
		}
		if err := json.Unmarshal(b, &found); err != nil {
			t.Fatalf("jamd discover --json printed %q: %v", b, err)
		}
		if len(found) > 0 {
			break
		}
	}
	if len(found) != 1 || found[0].Name != name || !slices.Contains(found[0].URLs, wantURL) || found[0].Version != testVersion || found[0].ID != id || found[0].Host != wantHost {
		t.Fatalf("jamd discover found %+v, want %q at %s (%s), version %s, id %s", found, name, wantURL, wantHost, testVersion, id)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	table, err := lan.Command(dctx, lan.NSB, bin, "discover").Output()
	dcancel()
	if err != nil || !bytes.Contains(table, []byte(name)) || !bytes.Contains(table, []byte(wantURL)) {
		t.Fatalf("jamd discover printed %q (%v)", table, err)
	}

	// python3-zeroconf in B sees both services, TXT included.
	for _, typ := range []string{"_jamd._tcp.local.", "_http._tcp.local."} {
		e, ok := zc.Wait(t, 15*time.Second, func(e lantest.Event) bool {
			return (e.Event == "added" || e.Event == "updated") && e.Type == typ && len(e.Addresses) > 0
		})
		if !ok {
			t.Fatalf("python3-zeroconf did not see %s", typ)
		}
		want := map[string]string{"path": "/jam"}
		if typ == "_jamd._tcp.local." {
			want = map[string]string{"txtvers": "1", "path": "/jam", "id": id, "ver": testVersion}
		}
		if e.Name != name+"."+typ || e.Port != port || e.Server != wantHost || !slices.Equal(e.Addresses, []string{lan.AddrA}) || fmt.Sprint(e.TXT) != fmt.Sprint(want) {
			t.Errorf("python3-zeroconf saw %+v, want %q on %s (%s):%d with TXT %v", e, name, wantHost, lan.AddrA, port, want)
		}
	}

	// jamd qr in B asks the server over the LAN and encodes a room's link.
	qctx, qcancel := context.WithTimeout(context.Background(), 20*time.Second)
	qr, err := lan.Command(qctx, lan.NSB, bin, "qr", "ABC234", "--server", fmt.Sprintf("http://%s:%d", lan.AddrA, port)).Output()
	qcancel()
	if err != nil {
		t.Fatalf("jamd qr: %v", err)
	}
	if got := decodeTerminalQR(t, string(qr)); got != wantURL+"/ABC234" {
		t.Fatalf("jamd qr encodes %q, want %s/ABC234", got, wantURL)
	}

	// SIGTERM: goodbye, exit 0, and the appliance is gone from B's view at once.
	zc.Forget()
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("jamd serve exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("jamd serve did not exit within 20s of SIGTERM")
	}
	if _, ok := logs.wait("goodbye sent", time.Second); !ok {
		t.Error("no goodbye logged")
	}
	for _, typ := range []string{"_jamd._tcp.local.", "_http._tcp.local."} {
		if _, ok := zc.Wait(t, 5*time.Second, func(e lantest.Event) bool { return e.Event == "removed" && e.Type == typ }); !ok {
			t.Errorf("python3-zeroconf did not see %s removed within 5s of SIGTERM", typ)
		}
	}
}

// TestServeWaitsForALANAddress: a Pi that boots before DHCP has answered has no LAN address, and
// `jamd serve` says so instead of printing a loopback URL no phone can open. It prints the join
// link and QR code once an address appears: a link-local one (a Pi cabled straight to a laptop)
// as the last resort, then the LAN address as soon as there is one.
func TestServeWaitsForALANAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	bin := buildJamd(t)
	lan.IP(t, "-n", lan.NSA, "addr", "flush", "dev", lan.IfA) // A has no IPv4 address yet

	const port = 18081
	_, out, logs, _ := startServeIn(t, lan, lan.NSA, bin, t.TempDir(), "--addr", fmt.Sprintf(":%d", port), "--no-mdns")

	if _, ok := out.wait("No LAN address yet", 20*time.Second); !ok {
		t.Fatal("jamd serve did not say it has no LAN address yet")
	}
	if _, ok := logs.wait("no LAN address yet", 5*time.Second); !ok {
		t.Fatal("jamd serve did not finish starting")
	}
	if text := out.text(); strings.Contains(text, "127.0.0.1") || strings.Contains(text, "▀▀▀▀") {
		t.Fatalf("jamd serve printed a loopback URL or a QR code without a LAN address:\n%s", text)
	}

	// A link-local address is better than none: printed, with its QR code, within the 2s poll.
	linkLocal := fmt.Sprintf("http://169.254.%d.1:%d/jam", lan.Subnet, port)
	lan.IP(t, "-n", lan.NSA, "addr", "add", fmt.Sprintf("169.254.%d.1/16", lan.Subnet), "dev", lan.IfA)
	if _, ok := out.wait("    "+linkLocal, 10*time.Second); !ok {
		t.Fatalf("jamd serve did not print %s once it had that address", linkLocal)
	}
	if got := decodeTerminalQR(t, waitQR(t, out, linkLocal)); got != linkLocal {
		t.Fatalf("the printed QR code decodes to %q, want %q", got, linkLocal)
	}

	// The LAN address, when DHCP answers, wins over the link-local one.
	lanURL := fmt.Sprintf("http://%s:%d/jam", lan.AddrA, port)
	lan.IP(t, "-n", lan.NSA, "addr", "add", lan.AddrA+"/24", "dev", lan.IfA)
	if _, ok := out.wait("    "+lanURL, 10*time.Second); !ok {
		t.Fatalf("jamd serve did not print %s once it had that address", lanURL)
	}
	if got := decodeTerminalQR(t, waitQR(t, out, lanURL)); got != lanURL {
		t.Fatalf("the printed QR code decodes to %q, want %q", got, lanURL)
	}

	// jamd qr in B gets the same URL from the server.
	qctx, qcancel := context.WithTimeout(context.Background(), 20*time.Second)
	qr, err := lan.Command(qctx, lan.NSB, bin, "qr", "--server", fmt.Sprintf("http://%s:%d", lan.AddrA, port)).Output()
	qcancel()
	if err != nil {
		t.Fatalf("jamd qr: %v", err)
	}
	if first, _, _ := strings.Cut(string(qr), "\n"); first != lanURL {
		t.Fatalf("jamd qr printed %q, want %s", first, lanURL)
	}
}

// waitQR returns the output after the line holding marker once a whole QR code follows it: its
// last line is all ▀ (the bottom quiet zone, half a character cell high).
func waitQR(tb testing.TB, out *lineWatcher, marker string) string {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := out.text()
		if i := strings.Index(text, marker); i >= 0 {
			_, rest, _ := strings.Cut(text[i:], "\n")
			for _, line := range strings.Split(rest, "\n") {
				if line != "" && strings.Trim(line, "▀") == "" {
					return rest
				}
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no whole QR code printed after %q", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServeIn runs `jamd serve --data-dir dataDir args...` in namespace ns and watches its
// stdout and stderr. exited receives its exit once; at cleanup it gets SIGTERM (a kill after 10s)
// and, if the test failed, its output is logged.
func startServeIn(t *testing.T, lan *lantest.LAN, ns, bin, dataDir string, args ...string) (serve *exec.Cmd, out, logs *lineWatcher, exited chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	serve = lan.Command(ctx, ns, bin, append([]string{"serve", "--data-dir", dataDir}, args...)...)
	serve.Env = append(os.Environ(), "HOME="+dataDir)
	stdout, _ := serve.StdoutPipe()
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	out, logs = watchLines(t, stdout, ""), watchLines(t, stderr, "")
	exited = make(chan error, 1)
	go func() { <-out.done; <-logs.done; exited <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(10 * time.Second):
		}
		cancel()
		if t.Failed() {
			t.Logf("jamd serve stdout:\n%s\nstderr:\n%s", out.text(), logs.text())
		}
	})
	return serve, out, logs, exited
}
