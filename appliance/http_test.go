package appliance_test

import (
	"errors"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/appliance"
)

func TestHTTPRoutes(t *testing.T) {
	ts := MustServer(t, appliance.Config{AdminToken: "s3cret", ReconnectGrace: time.Hour})

	var health map[string]string
	if status := GetJSON(t, ts.URL+"/healthz", nil, &health); status != 200 || health["status"] != "ok" {
		t.Errorf("healthz = %d %v", status, health)
	}

	c := ts.Dial(t)
	w := c.MustCreate("Ana")
	c.MustRequest("state:tempo-change", map[string]any{"tempo": 99}, "state:tempo-change")

	// An outsider learns that the session exists and whether they could join: nothing more.
	var info map[string]any
	if status := GetJSON(t, ts.URL+"/api/sessions/"+lower(w.RoomCode), nil, &info); status != 200 ||
		info["roomCode"] != w.RoomCode || info["joinable"] != true || len(info) != 2 {
		t.Errorf("session info = %d %+v", status, info)
	}
	var apiErr struct{ Error ErrorData }
	if status := GetJSON(t, ts.URL+"/api/sessions/BAD", nil, &apiErr); status != 400 || apiErr.Error.Code != "invalid_room_code" || apiErr.Error.Message == "" {
		t.Errorf("bad code = %d %+v", status, apiErr)
	}
	if status := GetJSON(t, ts.URL+"/api/sessions/ZZZZZZ", nil, &apiErr); status != 404 || apiErr.Error.Code != "room_not_found" {
		t.Errorf("unknown code = %d %+v", status, apiErr)
	}

	// The QR code is a PNG.
	resp, err := http.Get(ts.URL + "/api/sessions/" + w.RoomCode + "/qr.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || img.Bounds().Dx() < 100 {
		t.Errorf("qr.png: %d %v", resp.StatusCode, err)
	}
	if status := GetJSON(t, ts.URL+"/api/sessions/ZZZZZZ/qr.png", nil, &apiErr); status != 404 {
		t.Errorf("qr of unknown code = %d", status)
	}

	// Stats need the admin token.
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic s3cret"} {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		if status := GetJSON(t, ts.URL+"/api/stats", h, &apiErr); status != 401 {
			t.Errorf("stats with %q = %d, want 401", auth, status)
		}
	}
	var stats appliance.Stats
	h := http.Header{"Authorization": {"Bearer s3cret"}}
	if status := GetJSON(t, ts.URL+"/api/stats", h, &stats); status != 200 ||
		stats.ActiveSessions != 1 || stats.Participants != 1 || stats.Connections != 1 || stats.SessionsCreated != 1 {
		t.Errorf("stats = %d %+v", status, stats)
	}
	c.MustRequest("session:leave", nil, "session:left")
	GetJSON(t, ts.URL+"/api/stats", h, &stats)
	if stats.ActiveSessions != 1 || stats.Participants != 0 { // a seatless session lives until idle for the TTL
		t.Errorf("stats after the last seat left = %+v", stats)
	}

	// The web app: / redirects to /jam; /jam and any /jam/<path> serve index.html.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/jam" {
		t.Errorf("GET / = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	index := get(t, ts.URL+"/jam")
	for _, path := range []string{"/jam/", "/jam/K7M2QX", "/jam/anything/deeper"} {
		if body := get(t, ts.URL+path); body != index || !strings.Contains(body, "<html") {
			t.Errorf("%s does not serve index.html", path)
		}
	}
	if status := GetJSON(t, ts.URL+"/nope.txt", nil, nil); status != 404 {
		t.Errorf("unknown file = %d", status)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("GET %s = %d", url, resp.StatusCode)
	}
	return string(b)
}

func TestWebSocketOrigin(t *testing.T) {
	ts := MustServer(t, appliance.Config{AllowedOrigins: []string{"http://jam.local:8080"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + ts.Addr, true},
		{"http://jam.local:8080", true},
		{"http://evil.example", false},
		{"http://jam.local:9999", false},
		{"null", false},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, err := ts.DialHeader(t, h)
		var he *httpError
		switch {
		case tc.ok && err != nil:
			t.Errorf("origin %q refused: %v", tc.origin, err)
		case tc.ok:
			c.MustRequest("clock:ping", map[string]any{"t0": 1}, "clock:pong")
		case !errors.As(err, &he) || he.status != 403:
			t.Errorf("origin %q: got %v, want HTTP 403", tc.origin, err)
		}
	}
}

func TestOversizeFrameCloses1009(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	c := ts.Dial(t)
	c.MustError("clock:ping", map[string]any{"t0": strings.Repeat("x", appliance.MaxFrameBytes-100)}, "invalid_message")
	c.SendRaw(`{"type":"clock:ping","data":{"t0":"` + strings.Repeat("x", appliance.MaxFrameBytes) + `"}}`)
	if code := c.ExpectClosed(); code != websocket.CloseMessageTooBig {
		t.Errorf("closed with %d, want 1009", code)
	}
}

func TestShutdownClosesWith1001(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	c := ts.Dial(t)
	c.MustCreate("Ana")
	ts.Close(t)
	if code := c.ExpectClosed(); code != websocket.CloseGoingAway {
		t.Errorf("closed with %d, want 1001", code)
	}
	if _, err := ts.DialHeader(t, nil); err == nil {
		t.Error("a stopped server still accepts connections")
	}
}
