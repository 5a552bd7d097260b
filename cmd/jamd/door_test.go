package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// The real binary's door, set by its flags: the caps, the Host allow-list and the headers
// (appliance/door_test.go tests each in depth against the server in-process).
func TestServeDoorFlags(t *testing.T) {
	p := StartJamd(t, t.TempDir(), "127.0.0.1:0", "--max-connections-per-device", "2", "--allowed-hosts", "jam.example")
	wsURL := "ws" + strings.TrimPrefix(p.URL, "http") + "/ws"
	from := func(ip string) *websocket.Dialer {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &websocket.Dialer{NetDialContext: nd.DialContext}
	}
	for range 2 {
		c, _, err := from("127.0.0.9").Dial(wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if _, resp, err := from("127.0.0.9").Dial(wsURL, nil); err == nil || resp == nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third connection from one device with --max-connections-per-device 2: %v %v", resp, err)
	}
	if c, _, err := from("127.0.0.10").Dial(wsURL, nil); err != nil {
		t.Errorf("another device: %v", err)
	} else {
		c.Close()
	}

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.URL, "http://"))
	for host, want := range map[string]int{"jam.example:" + port: 200, "evil.example:" + port: 421} {
		req, _ := http.NewRequest("GET", p.URL+"/jam", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
		if want == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("no CSP on /jam: %v", resp.Header)
		}
	}
}
