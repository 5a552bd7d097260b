package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jamd/appliance"
)

// parseWiFiQR decodes a WIFI: payload as a phone camera does (ZXing's rules): fields K:value;
// with \ escaping the next character, ending with an empty field (;;).
func parseWiFiQR(s string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(s, "WIFI:")
	if !ok {
		return nil, errors.New("no WIFI: prefix")
	}
	fields := map[string]string{}
	for {
		if rest == "" {
			return nil, errors.New("no ;; at the end")
		}
		if rest[0] == ';' {
			if rest != ";" {
				return nil, errors.New("text after ;;")
			}
			return fields, nil
		}
		key, after, ok := strings.Cut(rest, ":")
		if !ok || key == "" || strings.ContainsAny(key, `;\`) {
			return nil, errors.New("a field without a key")
		}
		var v strings.Builder
		i := 0
		for ; i < len(after) && after[i] != ';'; i++ {
			if after[i] == '\\' {
				i++
				if i == len(after) {
					return nil, errors.New("a backslash at the end")
				}
			}
			v.WriteByte(after[i])
		}
		if i == len(after) {
			return nil, errors.New("a field without ;")
		}
		fields[key] = v.String()
		rest = after[i+1:]
	}
}

var wifiCases = []struct{ ssid, password string }{
	{"Jam on pi", "k7m2-qx4p-9tbd"},
	{`Bar;Stage,1:"Main"`, `p\a;s,s:w"o'rd`},
	{`back\slash\`, `;;;;;;;;`},
	{"Ça joue 🎸", "        "},
	{`\;`, `::,,""\\`},
}

// TestWiFiQRDecodesBack: the payload escapes ; , : \ and " so that what a phone decodes is the
// network's own name and password, from the terminal code and from the PNG.
func TestWiFiQRDecodesBack(t *testing.T) {
	for _, c := range wifiCases {
		payload := appliance.WiFiQR(c.ssid, c.password)
		var out bytes.Buffer
		if err := writeQR(&out, payload); err != nil {
			t.Fatal(err)
		}
		got := decodeTerminalQR(t, out.String())
		if got != payload {
			t.Fatalf("terminal QR decodes to %q, want %q", got, payload)
		}
		f, err := parseWiFiQR(got)
		if err != nil || f["T"] != "WPA" || f["S"] != c.ssid || f["P"] != c.password {
			t.Errorf("%q decodes to %v (%v), want %q / %q", got, f, err, c.ssid, c.password)
		}
	}
}

// TestQRWiFiCommand: jamd qr --wifi prints (and --png writes) the code of the hotspot that jamd
// hotspot up set up in the data dir, and says what to do when there is none.
func TestQRWiFiCommand(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"qr", "--wifi", "--data-dir", dir}, noEnv, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "sudo jamd hotspot up") {
		t.Fatalf("no hotspot: exit %d, %q", code, stderr.String())
	}
	c := wifiCases[1]
	if err := os.WriteFile(statePath(dir), []byte(hotspotState{SSID: c.ssid, Interface: "wlan0", Address: "10.42.0.1"}.encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustWritePassword(t, dir, c.password)
	stdout.Reset()
	if code := run(context.Background(), []string{"qr", "--wifi", "--data-dir", dir}, noEnv, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if f, err := parseWiFiQR(decodeTerminalQR(t, stdout.String())); err != nil || f["S"] != c.ssid || f["P"] != c.password {
		t.Fatalf("jamd qr --wifi decodes to %v, %v", f, err)
	}

	file := filepath.Join(t.TempDir(), "wifi.png")
	if code := run(context.Background(), []string{"qr", "--wifi", "--data-dir", dir, "--png", file}, noEnv, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if f, err := parseWiFiQR(decodePNGFile(t, file)); err != nil || f["S"] != c.ssid || f["P"] != c.password {
		t.Fatalf("the PNG decodes to %v, %v", f, err)
	}
}

// TestBannerShowsWiFiFirst: with the hotspot up, on a terminal, serve prints the network's code
// first and the jam's second, with the name to type; off a terminal, no password and no Wi-Fi code.
func TestBannerShowsWiFiFirst(t *testing.T) {
	hs := appliance.Hotspot{SSID: "Jam on pi", Password: "k7m2-qx4p-9tbd", TypeURL: "http://jam/"}
	v := lanView{URL: "http://10.42.0.1/jam", Hotspot: hs, WiFi: true}
	for _, tty := range []bool{true, false} {
		var out bytes.Buffer
		b := &banner{cfg: serveConfig{Addr: "10.42.0.1:80"}, port: 80, stdout: &out, wifiQR: tty, log: slog.New(slog.DiscardHandler)}
		b.first(v)
		text := out.String()
		first := decodeTerminalQR(t, text)
		jam := text[strings.Index(text, "    "+v.URL):]
		if !strings.Contains(text, "type http://jam/") || decodeTerminalQR(t, jam) != v.URL {
			t.Errorf("tty %v: no jam code or name to type:\n%s", tty, text)
		}
		if tty {
			if f, err := parseWiFiQR(first); err != nil || f["S"] != hs.SSID || f["P"] != hs.Password {
				t.Errorf("the first code is %q, want the Wi-Fi's", first)
			}
		} else if first != v.URL || strings.Contains(text, hs.Password) {
			t.Errorf("off a terminal the Wi-Fi code or password is printed:\n%s", text)
		}
	}
}

func FuzzWiFiQR(f *testing.F) {
	for _, c := range wifiCases {
		f.Add(c.ssid, c.password)
	}
	f.Fuzz(func(t *testing.T, ssid, password string) {
		payload := appliance.WiFiQR(ssid, password)
		fields, err := parseWiFiQR(payload)
		if err != nil || fields["S"] != ssid || fields["P"] != password || fields["T"] != "WPA" {
			t.Fatalf("%q → %v, %v", payload, fields, err)
		}
		_, _ = parseWiFiQR(ssid) // any text: no panic
	})
}
