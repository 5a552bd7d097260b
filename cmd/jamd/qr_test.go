package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"jamd/appliance"
)

// decodeTerminalQR finds the half-block QR code in printed text, turns it back into modules
// (█ both light, ▀ top light, ▄ bottom light, space both dark), draws them 8 pixels each, and
// decodes the picture with gozxing, as a phone camera would.
func decodeTerminalQR(tb testing.TB, printed string) string {
	tb.Helper()
	var rows []string
	for _, line := range strings.Split(printed, "\n") {
		if line != "" && strings.Trim(line, "█▀▄ ") == "" && strings.ContainsAny(line, "█▀▄") {
			rows = append(rows, line)
		} else if len(rows) > 0 {
			break // the first QR block only
		}
	}
	if len(rows) == 0 {
		tb.Fatalf("no QR code in the output:\n%s", printed)
	}
	const px = 8
	width := len([]rune(rows[0]))
	img := image.NewGray(image.Rect(0, 0, width*px, len(rows)*2*px))
	for y, row := range rows {
		for x, r := range []rune(row) {
			top, bottom := r == '█' || r == '▀', r == '█' || r == '▄'
			for dy := range px {
				for dx := range px {
					img.SetGray(x*px+dx, 2*y*px+dy, gray(top))
					img.SetGray(x*px+dx, (2*y+1)*px+dy, gray(bottom))
				}
			}
		}
	}
	return decodeImage(tb, img)
}

func gray(light bool) color.Gray {
	if light {
		return color.Gray{Y: 255}
	}
	return color.Gray{Y: 0}
}

// decodePNGFile decodes the QR code in a PNG file.
func decodePNGFile(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	return decodeImage(tb, img)
}

// decodeImage decodes the QR code in img with gozxing and, where gozxing's detector misses it
// (it does a rare valid code: 1 in 256 of the LAN test's URLs), with zbar's zbarimg, as a second
// phone would.
func decodeImage(tb testing.TB, img image.Image) string {
	tb.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err == nil {
		return res.GetText()
	}
	file := filepath.Join(tb.TempDir(), "qr.png")
	f, ferr := os.Create(file)
	if ferr != nil {
		tb.Fatal(ferr)
	}
	png.Encode(f, img)
	f.Close()
	out, zerr := exec.Command("zbarimg", "-q", "--raw", file).Output()
	if zerr != nil {
		tb.Fatalf("the QR code does not decode: gozxing: %v; zbarimg: %v", err, zerr)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func TestWriteQRDecodesBack(t *testing.T) {
	for _, u := range []string{
		"http://192.168.1.20:8080/jam",
		"http://10.0.0.7/jam/ABC234",
		"https://jam.example.org:8443/jam",
	} {
		var out bytes.Buffer
		if err := writeQR(&out, u); err != nil {
			t.Fatal(err)
		}
		if got := decodeTerminalQR(t, out.String()); got != u {
			t.Errorf("QR of %q decodes to %q", u, got)
		}
	}
}

func TestRoomLink(t *testing.T) {
	tests := []struct {
		base string
		args []string
		want string
		bad  bool
	}{
		{"http://192.168.1.20:8080", nil, "http://192.168.1.20:8080/jam", false},
		{"http://192.168.1.20:8080/jam", nil, "http://192.168.1.20:8080/jam", false},
		{"http://192.168.1.20:8080/jam/", []string{" abc234 "}, "http://192.168.1.20:8080/jam/ABC234", false},
		{"https://example.org/band/jam", []string{"XYZ789"}, "https://example.org/band/jam/XYZ789", false},
		{"http://192.168.1.20:8080", []string{"ABC"}, "", true},
		{"http://192.168.1.20:8080", []string{"ABC/../"}, "", true},
		{"192.168.1.20:8080", nil, "", true},
	}
	for _, tt := range tests {
		got, err := roomLink(tt.base, tt.args)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("roomLink(%q, %q) = %q, %v; want %q", tt.base, tt.args, got, err, tt.want)
		}
	}
}

// TestQRCommandAsksTheServer runs `jamd qr CODE --server URL` against a server answering
// /api/info as jamd does, and decodes what it prints.
func TestQRCommandAsksTheServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/info" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"joinUrl": "http://192.168.1.20:8080/jam", "version": "v1"}`)
	}))
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"qr", "abc234", "--server", srv.URL}, noEnv, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	const want = "http://192.168.1.20:8080/jam/ABC234"
	if first, _, _ := strings.Cut(stdout.String(), "\n"); first != want {
		t.Fatalf("printed %q first, want %q", first, want)
	}
	if got := decodeTerminalQR(t, stdout.String()); got != want {
		t.Fatalf("QR decodes to %q, want %q", got, want)
	}

	// --png writes a picture that decodes to the same link.
	file := filepath.Join(t.TempDir(), "lobby.png")
	stdout.Reset()
	if code := run(context.Background(), []string{"qr", "--url", "http://10.1.2.3:8080", "--png", file}, noEnv, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := decodePNGFile(t, file); got != "http://10.1.2.3:8080/jam" {
		t.Fatalf("PNG decodes to %q", got)
	}

	// No server: a sentence saying so, exit 1.
	stderr.Reset()
	if code := run(context.Background(), []string{"qr", "--server", "http://127.0.0.1:1"}, noEnv, strings.NewReader(""), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "cannot reach jamd") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestBannerPrintsDecodableQR checks what `jamd serve` prints at start: the URL, and a QR code
// that decodes back to it. (No mDNS here; the LAN test covers it inside namespaces.) Bound to
// one LAN address, that address is the join URL, as the operator asked; bound to loopback there
// is none, and it says why instead of printing a QR code no phone can open; a wildcard listener
// prints a LAN address or says it has none yet, never loopback.
func TestBannerPrintsDecodableQR(t *testing.T) {
	for _, tt := range []struct{ addr, public, want string }{
		{"10.1.2.3:8080", "", "http://10.1.2.3:8080/jam"},
		{"127.0.0.1:8080", "", ""},
		{"[::1]:8080", "", ""},
		{":8080", "http://jam.example.org/jam", "http://jam.example.org/jam"},
		{":8080", "", ""}, // whatever this host's LAN address is, or none
	} {
		var out bytes.Buffer
		cfg := serveConfig{Addr: tt.addr, NoMDNS: true, PublicURL: tt.public}
		join := newJoinURLWatcher(cfg, 8080).URL()
		b := &banner{cfg: cfg, port: 8080, stdout: &out, log: slog.New(slog.DiscardHandler)}
		b.first(lanView{URL: join})
		if tt.want != "" && join != tt.want {
			t.Errorf("--addr %s --public-url %q: join URL %q, want %q", tt.addr, tt.public, join, tt.want)
		}
		if strings.Contains(out.String(), "127.0.0.1") && tt.want == "" {
			t.Errorf("--addr %s printed a loopback URL:\n%s", tt.addr, out.String())
		}
		if strings.HasPrefix(tt.addr, "127.") || strings.HasPrefix(tt.addr, "[::1]") {
			if join != "" || !strings.Contains(out.String(), "loopback address only") || strings.Contains(out.String(), "▀") {
				t.Errorf("--addr %s: join URL %q, printed:\n%s", tt.addr, join, out.String())
			}
			continue
		}
		if join == "" {
			if !strings.Contains(out.String(), noAddressYet) {
				t.Errorf("no join URL, and no line saying one will follow:\n%s", out.String())
			}
			continue
		}
		if !strings.Contains(out.String(), "    "+join+"\n") {
			t.Errorf("the join URL %q is not printed:\n%s", join, out.String())
		}
		if got := decodeTerminalQR(t, out.String()); got != join {
			t.Errorf("printed QR decodes to %q, want %q", got, join)
		}
	}
}

// TestJoinURLWatcherFollowsChanges: the watcher keeps looking, and each new view is what URL
// and Hotspot return before the banner hears of it; a --public-url never changes.
func TestJoinURLWatcherFollowsChanges(t *testing.T) {
	w := newJoinURLWatcher(serveConfig{Addr: ":8080"}, 8080)
	start := lanView{URL: "http://10.0.0.6:8080/jam"}
	w.view.Store(&start)
	hs := appliance.Hotspot{SSID: "Jam", Password: "k7m2-qx4p-9tbd", Address: netip.MustParseAddr("10.42.0.1"), TypeURL: "http://jam/"}
	views := []lanView{{}, {URL: "http://10.0.0.7:8080/jam"}, {URL: "http://10.0.0.8:8080/jam"}, {URL: "http://10.0.0.8:8080/jam", Hotspot: hs, WiFi: true}}
	var calls atomic.Int32
	w.pick = func() lanView { return views[min(int(calls.Add(1))-1, len(views)-1)] }
	w.every = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan [2]lanView, 4)
	go w.watch(ctx, func(before, now lanView) {
		if got, up := w.Hotspot(); w.URL() != now.URL || got != now.Hotspot || up != now.WiFi {
			t.Errorf("URL(), Hotspot() = %q, %v %v while announcing %+v", w.URL(), got, up, now)
		}
		seen <- [2]lanView{before, now}
	})
	want := [][2]lanView{{start, views[0]}, {views[0], views[1]}, {views[1], views[2]}, {views[2], views[3]}}
	for _, want := range want {
		select {
		case got := <-seen:
			if got != want {
				t.Errorf("change %+v, want %+v", got, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no change to %+v", want[1])
		}
	}

	fixed := newJoinURLWatcher(serveConfig{Addr: ":8080", PublicURL: "http://jam.example.org/jam"}, 8080)
	fixed.every = time.Millisecond
	fctx, fcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer fcancel()
	fixed.watch(fctx, func(before, now lanView) { t.Errorf("a --public-url changed from %+v to %+v", before, now) })
}

// TestDefaultServer: `jamd qr` asks the jamd that JAMD_ADDR describes, at its host when it names
// one (a listener bound to a LAN address does not answer on 127.0.0.1).
func TestDefaultServer(t *testing.T) {
	for addr, want := range map[string]string{
		"":                  "http://127.0.0.1:8080",
		":9090":             "http://127.0.0.1:9090",
		"0.0.0.0:80":        "http://127.0.0.1:80",
		"[::]:8080":         "http://127.0.0.1:8080",
		"192.168.1.20:8080": "http://192.168.1.20:8080",
		"[fd00::7]:8080":    "http://[fd00::7]:8080",
		"localhost:8081":    "http://localhost:8081",
		"junk":              "http://127.0.0.1:8080",
	} {
		getenv := func(k string) string {
			if k == "JAMD_ADDR" {
				return addr
			}
			return ""
		}
		if got := defaultServer(getenv); got != want {
			t.Errorf("JAMD_ADDR=%q: asks %q, want %q", addr, got, want)
		}
	}
}

func noEnv(string) string { return "" }

// waitBounded calls wait and fails the test if it does not return within d.
func waitBounded(tb testing.TB, wait func(), d time.Duration) {
	tb.Helper()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		tb.Fatalf("wait did not return within %s", d)
	}
}
