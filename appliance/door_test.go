package appliance_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/appliance"
)

// Each test here plays an attack from a device (a loopback source address) and checks that it is
// refused or bounded, and that a player already seated keeps playing.

// player is a seated musician whose round trips are measured while others attack.
type player struct {
	t   *testing.T
	c   *Client
	rtt []time.Duration
}

func seatPlayer(t *testing.T, ts *TestServer) *player {
	c, err := ts.DialFrom(t, "127.0.0.250", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.MustCreate("Player")
	return &player{t: t, c: c}
}

// roundTrip changes the tempo and waits for the answer: a commit and a reply.
func (p *player) roundTrip() {
	p.t.Helper()
	start := time.Now()
	p.c.MustRequest("state:tempo-change", map[string]any{"tempo": 100 + float64(len(p.rtt)%50)}, "state:tempo-change")
	p.rtt = append(p.rtt, time.Since(start))
}

func (p *player) report(what string) {
	p.t.Helper()
	if len(p.rtt) == 0 {
		p.t.Fatalf("%s: no round trips", what)
	}
	s := slices.Sorted(slices.Values(p.rtt))
	p.t.Logf("%s: a seated player's round trip p50 %v, max %v over %d", what, s[len(s)/2], s[len(s)-1], len(s))
	p.rtt = nil
}

// dialStatus opens a WebSocket from source and returns 101, or the status it was refused with.
func dialStatus(t *testing.T, ts *TestServer, source string) int {
	t.Helper()
	_, err := ts.DialFrom(t, source, nil)
	if err == nil {
		return http.StatusSwitchingProtocols
	}
	if e, ok := err.(*httpError); ok {
		return e.status
	}
	t.Fatalf("dial from %s: %v", source, err)
	return 0
}

func TestConnectionCaps(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxConnections: 6, MaxConnectionsPerDevice: 3})
	p := seatPlayer(t, ts)
	p.roundTrip()
	for range 3 {
		if got := dialStatus(t, ts, "127.0.0.2"); got != 101 {
			t.Fatalf("a device's first connections: %d", got)
		}
	}
	if got := dialStatus(t, ts, "127.0.0.2"); got != http.StatusTooManyRequests {
		t.Errorf("a fourth connection from one device: %d, want 429", got)
	}
	for range 2 {
		if got := dialStatus(t, ts, "127.0.0.3"); got != 101 {
			t.Fatalf("another device: %d", got)
		}
	}
	// The box is at its cap: anyone else is refused before the upgrade, with a time to retry.
	resp := sendFrom(t, "127.0.0.4", upgradeRequest(ts))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("past the total cap: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	p.roundTrip()
	p.report("at the connection caps")
}

// upgradeRequest is a WebSocket upgrade request, to send with plain HTTP.
func upgradeRequest(ts *TestServer) *http.Request {
	req, _ := http.NewRequest("GET", ts.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return req
}

func TestConnectionsThatNeverSitDownAreClosed(t *testing.T) {
	t.Parallel()
	ts := MustServer(t, appliance.Config{})
	idle := ts.Dial(t)
	seated := ts.Dial(t)
	seated.MustCreate("Ana")
	start := time.Now()
	if code := idle.ExpectClosedWithin(20 * time.Second); code != 4003 {
		t.Errorf("an idle connection closed with %d, want 4003", code)
	}
	t.Logf("an idle connection was closed after %v", time.Since(start).Round(100*time.Millisecond))
	seated.MustRequest("clock:ping", map[string]any{"t0": 1}, "clock:pong")
}

func TestLiveSessionsAndCreationsAreCapped(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxSessions: 2, CreatesPerMinute: 100})
	ts.Dial(t).MustCreate("A")
	ts.Dial(t).MustCreate("B")
	ts.Dial(t).MustError("session:create", map[string]any{"userName": "C"}, "box_full")

	ts2 := MustServer(t, appliance.Config{CreatesPerMinute: 3})
	for i := range 3 {
		c, err := ts2.DialFrom(t, fmt.Sprintf("127.0.1.%d", 2+i), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.MustCreate("A")
	}
	c, err := ts2.DialFrom(t, "127.0.1.9", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.MustError("session:create", map[string]any{"userName": "D"}, "rate_limited") // a fourth device, same minute
}

// Guessing room codes: misses over HTTP and the WebSocket count together per device, across
// reconnects; past the limit even a right code is refused for a while; another device is not.
func TestRoomCodeGuessingIsSlowedAndSummarised(t *testing.T) {
	ts := MustServer(t, appliance.Config{SeatHold: time.Second}) // the sweeper reports every 100 ms
	p := seatPlayer(t, ts)
	w := ts.Dial(t).MustCreate("Ana")
	guesser := func() *Client {
		c, err := ts.DialFrom(t, "127.0.0.66", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := guesser()
	for i := range 10 {
		c.MustError("session:join", map[string]any{"roomCode": fmt.Sprintf("ZZZZ%02d", i), "userName": "G"}, "room_not_found")
	}
	c.Conn.Close()
	c = guesser() // reconnecting does not reset anything
	for i := range 10 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/sessions/YYYY%02d", ts.URL, i), nil)
		if got := doFrom(t, "127.0.0.66", req); got != 404 {
			t.Fatalf("HTTP miss %d: %d", i, got)
		}
	}
	c.MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "G"}, "rate_limited")
	req, _ := http.NewRequest("GET", ts.URL+"/api/sessions/"+w.RoomCode, nil)
	if got := doFrom(t, "127.0.0.66", req); got != 429 {
		t.Errorf("HTTP lookup past the limit: %d, want 429", got)
	}
	other, err := ts.DialFrom(t, "127.0.0.67", nil)
	if err != nil {
		t.Fatal(err)
	}
	other.MustJoin(w.RoomCode, "Bo")
	p.roundTrip()
	// The misses reach the log as one summary, not one line each.
	deadline := time.Now().Add(wait)
	for len(ts.Log.Lines("room codes tried that name no session")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lines := ts.Log.Lines("room codes tried")
	if len(lines) != 1 || !strings.Contains(lines[0], "count=") || !strings.Contains(lines[0], "127.0.0.66") {
		t.Errorf("misses logged as %q, want one summary line", lines)
	}
}

// sendFrom sends req from source and returns the response, its body closed.
func sendFrom(t *testing.T, source string, req *http.Request) *http.Response {
	t.Helper()
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: wait}
	tr := &http.Transport{DialContext: nd.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * wait}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// doFrom sends req from source and returns the status.
func doFrom(t *testing.T, source string, req *http.Request) int {
	t.Helper()
	return sendFrom(t, source, req).StatusCode
}

func TestLockedRoomTakesOnlyTheLinkKey(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	host := ts.Dial(t)
	w := host.MustCreate("Ana")
	if len(w.JoinKey) < 20 {
		t.Fatalf("join key %q is not a long secret", w.JoinKey)
	}
	host.MustRequest("session:settings", map[string]any{"locked": true}, "session:settings")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Stranger"}, "room_locked")
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Stranger", "joinKey": "guess"}, "room_locked")
	ts.Dial(t).MustJoin2(w.RoomCode, "Friend", w.JoinKey)

	var info map[string]any
	GetJSON(t, ts.URL+"/api/sessions/"+w.RoomCode, nil, &info)
	if info["joinable"] != false {
		t.Errorf("an outsider's lookup of a locked room: %v", info)
	}
	GetJSON(t, ts.URL+"/api/sessions/"+w.RoomCode+"?k="+w.JoinKey, nil, &info)
	if info["joinable"] != true {
		t.Errorf("a lookup with the key: %v", info)
	}
}

// MustJoin2 joins with a join key.
func (c *Client) MustJoin2(code, name, key string) Welcome {
	c.tb.Helper()
	var w Welcome
	c.MustRequest("session:join", map[string]any{"roomCode": code, "userName": name, "joinKey": key}, "session:joined").Decode(c.tb, &w)
	return w
}

func TestRequestBudgetsFollowTheSeatAndTheDevice(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxConnectionsPerDevice: appliance.DefaultMaxConnectionsPerDevice})
	p := seatPlayer(t, ts)
	host, err := ts.DialFrom(t, "127.0.0.30", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := host.MustCreate("Host")
	// A seat that reconnects after every 50 changes gets no more than one seat's budget.
	accepted, limited := 0, 0
	token := w.ResumeToken
	for round := range 6 {
		c, err := ts.DialFrom(t, fmt.Sprintf("127.0.0.%d", 31+round), nil) // and from ever new addresses
		if err != nil {
			t.Fatal(err)
		}
		var wb Welcome
		c.MustRequest("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "x", "resumeToken": token},
			"session:joined").Decode(t, &wb)
		for i := range 50 {
			f := c.Request("pattern:set-step", map[string]any{"track": "kick", "step": i % 16, "on": true})
			if f.Type == "error" {
				limited++
			} else {
				accepted++
			}
		}
		c.Conn.Close()
	}
	if accepted > 150 || limited == 0 {
		t.Errorf("%d changes accepted and %d limited in a burst of 300 over reconnects; want about one seat's burst of 100", accepted, limited)
	}
	p.roundTrip()

	// Many sockets from one device share its budget.
	var socks []*Client
	for range 5 {
		c, err := ts.DialFrom(t, "127.0.0.40", nil)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, c)
	}
	limited = 0
	for i := range 300 {
		if f := socks[i%5].Request("clock:ping", map[string]any{"t0": i}); f.Type == "error" {
			limited++
		}
	}
	if limited < 50 {
		t.Errorf("only %d of 300 pings over 5 sockets of one device were limited; its burst is two seats' 200", limited)
	}
	p.roundTrip()
	p.report("after budget floods")
}

func TestJunkFramesCostAndClose(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	c := ts.Dial(t)
	for range invalidInARow - 1 {
		c.SendRaw(`not json`)
	}
	c.MustRequest("clock:ping", map[string]any{"t0": 1}, "clock:pong") // a valid one resets the count
	for range invalidInARow {
		c.Conn.WriteMessage(websocket.BinaryMessage, []byte("junk"))
	}
	if code := c.ExpectClosed(); code != websocket.ClosePolicyViolation {
		t.Errorf("ten invalid frames in a row closed with %d, want 1008", code)
	}

	// Text that is not UTF-8 closes with 1007.
	c = ts.Dial(t)
	c.Conn.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"clock:ping\",\"data\":{\"t0\":\"\xff\"}}"))
	if code := c.ExpectClosed(); code != websocket.CloseInvalidFramePayloadData {
		t.Errorf("invalid UTF-8 closed with %d, want 1007", code)
	}
}

const invalidInARow = 10

func TestHostAllowList(t *testing.T) {
	ts := MustServer(t, appliance.Config{Hosts: []string{"jam.local", "my-box.example"}})
	_, port, _ := net.SplitHostPort(ts.Addr)
	for host, want := range map[string]int{
		"127.0.0.1:" + port:     200,
		"localhost:" + port:     200,
		"jam.local:" + port:     200,
		"MY-BOX.example":        200,
		"[::1]:" + port:         200,
		"evil.example:" + port:  421,
		"jam.local.evil.com":    421,
		"192.0.2.1:" + port:     421, // an address that is not this machine's
		"localhost.:" + port:    200,
		"evil.example:" + "jam": 421,
	} {
		for _, path := range []string{"/healthz", "/jam", "/api/sessions/ZZZZZZ", "/ws"} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode; (got == 421) != (want == 421) {
				t.Errorf("Host %q %s: %d, want %d", host, path, got, want)
			}
		}
	}
	// DNS rebinding: a page at evil.example whose name now points at the box.
	req := upgradeRequest(ts)
	req.Host = "evil.example:" + port
	req.Header.Set("Origin", "http://evil.example:"+port)
	if got := doFrom(t, "127.0.0.1", req); got != 421 {
		t.Errorf("a rebinding page's upgrade: %d, want 421", got)
	}
	// The Origin's scheme and host must be the page's own.
	for origin, ok := range map[string]bool{
		"http://127.0.0.1:" + port:  true,
		"https://127.0.0.1:" + port: true,
		"ftp://127.0.0.1:" + port:   false,
		"http://127.0.0.1:1":        false,
	} {
		_, err := ts.DialHeader(t, http.Header{"Origin": {origin}})
		if (err == nil) != ok {
			t.Errorf("Origin %s: %v, want allowed=%v", origin, err, ok)
		}
	}
}

func TestHTTPLimitsAndHeaders(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	resp, err := http.Get(ts.URL + "/jam")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("headers: %v", resp.Header)
	}
	for _, path := range []string{"/assets/", "/assets"} {
		if resp, _ := http.Get(ts.URL + path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404 (no listing)", path, resp.StatusCode)
		}
	}
	// A GET with a body, and headers past 16 KiB.
	req, _ := http.NewRequest("GET", ts.URL+"/healthz", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("GET with a body: %v %v", resp, err)
	}
	req, _ = http.NewRequest("GET", ts.URL+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 32<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB of headers: %v %v", resp, err)
	}
}

// A chunked body trickled a byte at a time must not hold a connection past the read timeout.
func TestTrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	ts := MustServer(t, appliance.Config{})
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		r := bufio.NewReader(conn)
		for {
			if _, err := r.ReadByte(); err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			t.Logf("a trickled body was cut after %v", time.Since(start).Round(100*time.Millisecond))
			return
		case <-tick.C:
			if time.Since(start) > 30*time.Second {
				t.Fatal("a trickled body kept its connection for 30 s")
			}
			conn.Write([]byte("1\r\nx\r\n"))
		}
	}
}

func TestQRCodesAreCachedAndLimited(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	p := seatPlayer(t, ts)
	w := ts.Dial(t).MustCreate("Ana")
	limited := 0
	for range 40 {
		req, _ := http.NewRequest("GET", ts.URL+"/api/sessions/"+w.RoomCode+"/qr.png", nil)
		if doFrom(t, "127.0.0.77", req) == 429 {
			limited++
		}
	}
	if limited != 10 {
		t.Errorf("%d of 40 QR codes from one device were refused, want 10 (30 a minute)", limited)
	}
	p.roundTrip()
}

func TestNames(t *testing.T) {
	ts := MustServer(t, appliance.Config{})
	c := ts.Dial(t)
	for _, bad := range []string{
		"\u0301\u0301", "\u3164", "\u2800", "\u115f", "\ufe0f", "\u200b", "a\u200bb", "\u200dx", "x\u2028y", "x\u2029y",
		"\u00ad", "\U000e0041\U000e0042", "\ufeffAna", "Z" + strings.Repeat("\u0301", 31), strings.Repeat("é", 33),
		strings.Repeat("🥁", 33),
	} {
		c.MustError("session:create", map[string]any{"userName": bad}, "invalid_name")
	}
	fam := "👨\u200d👩\u200d👧\u200d👦"
	w := c.MustCreate(strings.Repeat(fam, 5)) // five family emoji: five characters, 125 bytes
	for _, good := range []string{"Ana", "Nguyễn Văn Ả", "José", "🇫🇷 Léa", "👍🏽 Sam", "❤️‍🔥", "Zoë", "李小龙", "Ana-María O'Neil"} {
		ts.Dial(t).MustJoin(w.RoomCode, good)
	}
	for _, twin := range []string{"ana", "ANA", "Ａｎａ", " Ana "} {
		e := ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": twin}, "name_taken")
		if !strings.Contains(e.Message, "already called") {
			t.Errorf("%q: %q", twin, e.Message)
		}
	}
}

// The attack round-up: a seated player keeps playing while many devices flood the box.
func TestASeatedPlayerKeepsPlayingThroughAFlood(t *testing.T) {
	ts := MustServer(t, appliance.Config{MaxConnectionsPerDevice: 8})
	p := seatPlayer(t, ts)
	for range 20 {
		p.roundTrip()
	}
	p.report("before the flood")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for d := range 20 {
		wg.Go(func() {
			source := fmt.Sprintf("127.0.2.%d", 2+d)
			for n := 0; n < 200; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c, _, err := dialerFrom(source).Dial("ws://"+ts.Addr+"/ws", nil)
				if err != nil {
					continue // refused at the door: as it should be
				}
				for range 20 {
					c.WriteMessage(websocket.TextMessage, []byte(`{"type":"session:join","data":{"roomCode":"ZZZZZZ","userName":"x"}}`))
					c.WriteMessage(websocket.BinaryMessage, make([]byte, 8<<10))
				}
				c.Close()
			}
		})
	}
	for range 40 {
		p.roundTrip()
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	p.report("during the flood")
}
