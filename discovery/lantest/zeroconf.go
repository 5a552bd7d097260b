package lantest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed zcbrowse.py
var zcbrowse []byte

// Event is one line printed by the python3-zeroconf browser.
type Event struct {
	Event     string            `json:"event"` // started, added, updated, removed
	Type      string            `json:"type"`  // "_jamd._tcp.local."
	Name      string            `json:"name"`  // "Jam on pi._jamd._tcp.local."
	Server    string            `json:"server"`
	Port      int               `json:"port"`
	Addresses []string          `json:"addresses"`
	TXT       map[string]string `json:"txt"`
}

// Browser is Debian's python3-zeroconf browsing _jamd._tcp and _http._tcp in one namespace.
type Browser struct {
	events chan Event
	seen   []Event
}

// StartZeroconfBrowser runs the python3-zeroconf browser in namespace ns until the test ends. It
// skips the test when /usr/bin/python3 has no zeroconf module (apt-get install python3-zeroconf).
func (l *LAN) StartZeroconfBrowser(tb testing.TB, ns string) *Browser {
	tb.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zeroconf").Run(); err != nil {
		tb.Skip("skipping: Debian's python3-zeroconf is not installed (apt-get install python3-zeroconf)")
	}
	script := filepath.Join(tb.TempDir(), "zcbrowse.py")
	if err := os.WriteFile(script, zcbrowse, 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.Command(ctx, ns, py, script, "120")
	cmd.Stderr = &tbWriter{tb: tb, prefix: "zcbrowse: "}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	b := &Browser{events: make(chan Event, 256)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				b.events <- ev
			}
		}
		close(b.events)
	}()
	tb.Cleanup(func() { cancel(); _ = cmd.Wait() })
	if _, ok := b.Wait(tb, 10*time.Second, func(e Event) bool { return e.Event == "started" }); !ok {
		tb.Fatal("python3-zeroconf browser did not start within 10s")
	}
	return b
}

// Wait returns the first event (including ones already seen) for which match is true, or false
// after timeout.
func (b *Browser) Wait(tb testing.TB, timeout time.Duration, match func(Event) bool) (Event, bool) {
	tb.Helper()
	for _, e := range b.seen {
		if match(e) {
			return e, true
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-b.events:
			if !ok {
				return Event{}, false
			}
			tb.Logf("python3-zeroconf: %+v", e)
			b.seen = append(b.seen, e)
			if match(e) {
				return e, true
			}
		case <-deadline:
			return Event{}, false
		}
	}
}

// Forget drops the events seen so far, so Wait looks only at later ones.
func (b *Browser) Forget() { b.seen = nil }

// tbWriter logs a process's stderr lines into the test log.
type tbWriter struct {
	tb     testing.TB
	prefix string
}

func (w *tbWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.tb.Log(w.prefix + line)
	}
	return len(p), nil
}
