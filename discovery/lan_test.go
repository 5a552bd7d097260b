package discovery_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"jamd/discovery"
	"jamd/discovery/lantest"
)

// TestMain lets the test binary double as the tiny programs the LAN test runs inside its
// namespaces: JAMD_DISCOVERY_HELPER=advertise|browse|joinip.
func TestMain(m *testing.M) {
	if h := os.Getenv("JAMD_DISCOVERY_HELPER"); h != "" {
		os.Exit(helper(h))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch mode {
	case "advertise":
		port, _ := strconv.Atoi(os.Getenv("PORT"))
		a, err := discovery.NewAdvertiser(discovery.Config{
			Instance: os.Getenv("NAME"), Port: port, ID: "0123456789abcdef", Version: "v9.9.9-test",
			Poll: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("serving")
		if err := a.Serve(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("goodbye sent")
		return 0
	case "browse":
		found, err := discovery.Browse(ctx, 3*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = json.NewEncoder(os.Stdout).Encode(found)
		return 0
	case "joinip":
		ip, ok := discovery.JoinIP("")
		fmt.Println(ip, ok)
		return 0
	}
	return 2
}

// helperCmd runs this test binary as a helper inside namespace ns.
func helperCmd(ctx context.Context, lan *lantest.LAN, ns, mode string, env ...string) *exec.Cmd {
	self, _ := os.Executable()
	cmd := lan.Command(ctx, ns, "env", append(append([]string{"JAMD_DISCOVERY_HELPER=" + mode}, env...), self, "-test.run=^$")...)
	return cmd
}

func browseFrom(t *testing.T, lan *lantest.LAN) []discovery.Appliance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := helperCmd(ctx, lan, lan.NSB, "browse")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("browse in B: %v", err)
	}
	var found []discovery.Appliance
	if err := json.Unmarshal(out, &found); err != nil {
		t.Fatalf("browse output %q: %v", out, err)
	}
	return found
}

// TestAdvertiserOnLAN advertises in namespace A and checks, from namespace B, that Browse and
// python3-zeroconf both see the records, that an added address is announced, and that the
// goodbye at exit removes the appliance.
func TestAdvertiserOnLAN(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the LAN test in -short mode")
	}
	lan := lantest.NewLAN(t)
	// A container bridge in A, as on a Pi running docker: never advertised, never in a join URL.
	lan.IP(t, "-n", lan.NSA, "link", "add", "docker0", "type", "bridge")
	lan.IP(t, "-n", lan.NSA, "addr", "add", "10.250.0.1/16", "dev", "docker0")
	lan.IP(t, "-n", lan.NSA, "link", "set", "docker0", "up")

	// The join IP in A is the default-route interface's address, not docker0's.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := helperCmd(ctx, lan, lan.NSA, "joinip").Output()
	if err != nil || strings.TrimSpace(string(out)) != lan.AddrA+" true" {
		t.Fatalf("JoinIP in A = %q (%v), want %s", out, err, lan.AddrA)
	}

	zc := lan.StartZeroconfBrowser(t, lan.NSB)

	const name = "Jam on test.pi"
	actx, acancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer acancel()
	adv := helperCmd(actx, lan, lan.NSA, "advertise", "PORT=8080", "NAME="+name)
	adv.Stderr = os.Stderr
	advOut, _ := adv.StdoutPipe()
	if err := adv.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(advOut)
	advDone := make(chan error, 1)
	var goodbye bool
	go func() {
		for lines.Scan() {
			goodbye = goodbye || lines.Text() == "goodbye sent"
		}
		advDone <- adv.Wait()
	}()
	t.Cleanup(func() { acancel(); <-advDone })

	wantURL := "http://" + lan.AddrA + ":8080/jam"
	const wantHost = "jamd-01234567.local."
	var found []discovery.Appliance
	for range 3 {
		if found = browseFrom(t, lan); len(found) > 0 {
			break
		}
	}
	if len(found) != 1 {
		t.Fatalf("Browse in B found %+v, want one appliance", found)
	}
	got := found[0]
	if got.Name != name || got.ID != "0123456789abcdef" || got.Version != "v9.9.9-test" || got.Port != 8080 || !slices.Contains(got.URLs, wantURL) {
		t.Fatalf("Browse in B found %+v, want %q at %s", got, name, wantURL)
	}
	if got.Host != wantHost {
		t.Fatalf("Browse in B found host %q, want %q, never the machine's own name", got.Host, wantHost)
	}
	for _, u := range got.URLs {
		if strings.Contains(u, "10.250.") {
			t.Fatalf("docker0's address advertised: %v", got.URLs)
		}
	}

	for _, typ := range []string{"_jamd._tcp.local.", "_http._tcp.local."} {
		e, ok := zc.Wait(t, 15*time.Second, func(e lantest.Event) bool {
			return e.Event == "added" && e.Type == typ && len(e.Addresses) > 0
		})
		if !ok {
			t.Fatalf("python3-zeroconf did not see %s", typ)
		}
		if e.Name != name+"."+typ || e.Port != 8080 || e.Server != wantHost || !slices.Equal(e.Addresses, []string{lan.AddrA}) {
			t.Errorf("python3-zeroconf saw %+v, want %q on %s (%s):8080", e, name, wantHost, lan.AddrA)
		}
		want := map[string]string{"path": "/jam"}
		if typ == "_jamd._tcp.local." {
			want = map[string]string{"txtvers": "1", "path": "/jam", "id": "0123456789abcdef", "ver": "v9.9.9-test"}
		}
		if fmt.Sprint(e.TXT) != fmt.Sprint(want) {
			t.Errorf("%s TXT = %v, want %v", typ, e.TXT, want)
		}
	}

	// A new address on A's interface is announced without anyone asking.
	newAddr := fmt.Sprintf("10.201.%d.3", lan.Subnet)
	lan.IP(t, "-n", lan.NSA, "addr", "add", newAddr+"/24", "dev", lan.IfA)
	if _, ok := zc.Wait(t, 10*time.Second, func(e lantest.Event) bool {
		return e.Event == "updated" && e.Type == "_jamd._tcp.local." && slices.Contains(e.Addresses, newAddr)
	}); !ok {
		t.Errorf("python3-zeroconf never saw the new address %s", newAddr)
	}

	// SIGTERM: the goodbye removes both services at once (their TTL is 3200s otherwise).
	zc.Forget()
	if err := adv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-advDone:
		advDone <- err
		if err != nil || !goodbye {
			t.Fatalf("advertiser exited with %v, goodbye printed: %v", err, goodbye)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("advertiser did not exit within 10s of SIGTERM")
	}
	for _, typ := range []string{"_jamd._tcp.local.", "_http._tcp.local."} {
		if _, ok := zc.Wait(t, 5*time.Second, func(e lantest.Event) bool { return e.Event == "removed" && e.Type == typ }); !ok {
			t.Errorf("python3-zeroconf did not see %s removed within 5s of the goodbye", typ)
		}
	}
	if found := browseFrom(t, lan); len(found) != 0 {
		t.Errorf("Browse in B still finds %+v after the goodbye", found)
	}
}
