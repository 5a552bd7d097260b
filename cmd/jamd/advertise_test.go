package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"jamd/discovery"
	"jamd/discovery/lantest"
)

// TestLoopbackServeAdvertisesNothing: `jamd serve --addr 127.0.0.1:PORT` on a machine with a
// LAN address serves only that machine, so it advertises nothing over mDNS, prints no QR code
// and no LAN URL, and says so; /api/info offers only the address it was asked on.
func TestLoopbackServeAdvertisesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	bin := buildJamd(t)
	zc := lan.StartZeroconfBrowser(t, lan.NSB)

	const port = 18082
	_, out, logs, _ := startServeIn(t, lan, lan.NSA, bin, t.TempDir(), "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	if _, ok := logs.wait("not advertising over mDNS", 20*time.Second); !ok {
		t.Fatal("jamd serve did not say it is not advertising")
	}
	if _, ok := out.wait("loopback address only", 5*time.Second); !ok {
		t.Fatal("jamd serve did not tell the terminal that phones cannot reach it")
	}
	if _, ok := logs.wait("no join URL", 5*time.Second); !ok {
		t.Fatal("jamd serve did not finish starting")
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	b, err := lan.Command(dctx, lan.NSB, bin, "discover", "--json", "--timeout", "3s").Output()
	dcancel()
	var found []discovery.Appliance
	if err != nil || json.Unmarshal(b, &found) != nil || len(found) != 0 {
		t.Fatalf("jamd discover on the LAN found %s (%v), want nothing", b, err)
	}
	if e, ok := zc.Wait(t, 2*time.Second, func(e lantest.Event) bool { return e.Event == "added" }); ok {
		t.Fatalf("python3-zeroconf saw %+v, want nothing", e)
	}
	text := out.text()
	if strings.Contains(text, "▀▀▀▀") || strings.Contains(text, lan.AddrA) {
		t.Fatalf("jamd serve printed a QR code or a LAN address while serving loopback only:\n%s", text)
	}

	// jamd qr on the same machine asks /api/info: the join URL is the address it asked on.
	qctx, qcancel := context.WithTimeout(context.Background(), 20*time.Second)
	qr, err := lan.Command(qctx, lan.NSA, bin, "qr", "--server", fmt.Sprintf("http://127.0.0.1:%d", port)).Output()
	qcancel()
	if first, _, _ := strings.Cut(string(qr), "\n"); err != nil || first != fmt.Sprintf("http://127.0.0.1:%d/jam", port) {
		t.Errorf("jamd qr printed %q (%v), want the loopback URL it asked on", first, err)
	}
}

// TestServeOnOneAddressAdvertisesOnlyIt: bound to one of two addresses of its interface, jamd
// advertises that one only, and prints no other URL.
func TestServeOnOneAddressAdvertisesOnlyIt(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	bin := buildJamd(t)
	second := fmt.Sprintf("10.201.%d.3", lan.Subnet)
	lan.IP(t, "-n", lan.NSA, "addr", "add", second+"/24", "dev", lan.IfA)
	zc := lan.StartZeroconfBrowser(t, lan.NSB)

	const port = 18083
	_, out, _, _ := startServeIn(t, lan, lan.NSA, bin, t.TempDir(), "--addr", fmt.Sprintf("%s:%d", lan.AddrA, port))
	wantURL := fmt.Sprintf("http://%s:%d/jam", lan.AddrA, port)
	if _, ok := out.wait("    "+wantURL, 20*time.Second); !ok {
		t.Fatalf("jamd serve did not print %s", wantURL)
	}
	for _, typ := range []string{"_jamd._tcp.local.", "_http._tcp.local."} {
		e, ok := zc.Wait(t, 15*time.Second, func(e lantest.Event) bool {
			return (e.Event == "added" || e.Event == "updated") && e.Type == typ && len(e.Addresses) > 0
		})
		if !ok {
			t.Fatalf("python3-zeroconf did not see %s", typ)
		}
		if !slices.Equal(e.Addresses, []string{lan.AddrA}) || e.Port != port {
			t.Errorf("python3-zeroconf saw %s at %v:%d, want only %s:%d", typ, e.Addresses, e.Port, lan.AddrA, port)
		}
	}
	if text := out.text(); strings.Contains(text, second) {
		t.Errorf("jamd serve printed %s, where it does not listen:\n%s", second, text)
	}
}
