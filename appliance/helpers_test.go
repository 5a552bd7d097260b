package appliance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/appliance"
	"jamd/store"
	"jamd/webui"
)

// wait bounds every wait in these tests; nothing here should take close to it.
const wait = 5 * time.Second

// TestServer is a real jamd server on a loopback port with a real bbolt file.
type TestServer struct {
	URL     string // http://127.0.0.1:port
	Addr    string
	DataDir string
	DB      *store.DB
	Server  *appliance.Server
	Log     *LogBuffer // what the server logged
	stop    context.CancelFunc
	done    chan error
}

// MustServer starts a server with cfg on 127.0.0.1:0 and a fresh data dir; it stops at cleanup.
func MustServer(tb testing.TB, cfg appliance.Config) *TestServer {
	tb.Helper()
	return MustServerAt(tb, cfg, tb.TempDir(), nil)
}

// MustServerAt starts a server on dataDir; wrap, if not nil, wraps the store (for fault tests).
func MustServerAt(tb testing.TB, cfg appliance.Config, dataDir string, wrap func(appliance.Store) appliance.Store) *TestServer {
	tb.Helper()
	db, err := store.Open(filepath.Join(dataDir, "jamd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	var st appliance.Store = db
	if wrap != nil {
		st = wrap(db)
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	// Most tests play many devices from one address; the door's own tests set the cap they test.
	if cfg.MaxConnectionsPerDevice == 0 {
		cfg.MaxConnectionsPerDevice = 1000
	}
	srv, err := appliance.NewServer(cfg, st, webui.Dist(), log)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &TestServer{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), DataDir: dataDir, DB: db,
		Server: srv, Log: logs, stop: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() { ts.Close(tb) })
	return ts
}

// Close stops the server and closes its store; safe to call twice.
func (ts *TestServer) Close(tb testing.TB) {
	tb.Helper()
	if ts.stop == nil {
		return
	}
	ts.stop()
	ts.stop = nil
	select {
	case err := <-ts.done:
		if err != nil {
			tb.Errorf("Serve: %v", err)
		}
	case <-time.After(wait):
		tb.Error("server did not stop")
	}
	ts.DB.Close()
}

// Frame is one server frame.
type Frame struct {
	Type string          `json:"type"`
	Re   string          `json:"re"`
	Data json.RawMessage `json:"data"`
}

// Decode unmarshals the frame's data into v.
func (f Frame) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		tb.Fatalf("decode %s %s: %v", f.Type, f.Data, err)
	}
}

// Client is a real WebSocket client that keeps every frame it receives in an inbox.
type Client struct {
	tb     testing.TB
	Conn   *websocket.Conn
	mu     sync.Mutex
	inbox  []Frame
	notify chan struct{}
	closed chan struct{}
	close  *websocket.CloseError // how the server closed us, once closed
	nextID atomic.Int64
}

// Dial opens a WebSocket to ts with no Origin header, as a non-browser client would.
func (ts *TestServer) Dial(tb testing.TB) *Client {
	tb.Helper()
	c, err := ts.DialHeader(tb, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// DialHeader opens a WebSocket with extra request headers and returns the dial error, if any.
func (ts *TestServer) DialHeader(tb testing.TB, h http.Header) (*Client, error) {
	return ts.DialFrom(tb, "", h)
}

// DialFrom is DialHeader from a source address of the loopback range, such as 127.0.0.7, to
// play another device ("" for the default).
func (ts *TestServer) DialFrom(tb testing.TB, source string, h http.Header) (*Client, error) {
	tb.Helper()
	conn, resp, err := dialerFrom(source).Dial("ws://"+ts.Addr+"/ws", h)
	if err != nil {
		if resp != nil {
			return nil, &httpError{resp.StatusCode}
		}
		return nil, err
	}
	c := &Client{tb: tb, Conn: conn, notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go c.read()
	tb.Cleanup(func() { conn.Close() })
	return c, nil
}

type httpError struct{ status int }

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

func (c *Client) read() {
	defer close(c.closed)
	for {
		_, b, err := c.Conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.mu.Lock()
				c.close = ce
				c.mu.Unlock()
			}
			return
		}
		var f Frame
		if err := json.Unmarshal(b, &f); err != nil {
			c.tb.Errorf("server sent a frame that is not JSON: %q", b)
			continue
		}
		c.mu.Lock()
		c.inbox = append(c.inbox, f)
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

// Send sends a request with the given id (none when id is "").
func (c *Client) Send(typ, id string, data any) {
	c.tb.Helper()
	msg := map[string]any{"type": typ}
	if id != "" {
		msg["id"] = id
	}
	if data != nil {
		msg["data"] = data
	}
	if err := c.Conn.WriteJSON(msg); err != nil {
		c.tb.Fatalf("send %s: %v", typ, err)
	}
}

// SendRaw sends one text frame as it is.
func (c *Client) SendRaw(frame string) {
	c.tb.Helper()
	if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.tb.Fatalf("send: %v", err)
	}
}

// Request sends a request with a fresh id and returns the frame that answers it.
func (c *Client) Request(typ string, data any) Frame {
	c.tb.Helper()
	id := "r" + strconv.FormatInt(c.nextID.Add(1), 10)
	c.Send(typ, id, data)
	return c.Expect(func(f Frame) bool { return f.Re == id }, "the answer to "+typ)
}

// MustRequest is Request that fails the test on an error answer or an answer of another type.
func (c *Client) MustRequest(typ string, data any, wantType string) Frame {
	c.tb.Helper()
	f := c.Request(typ, data)
	if f.Type != wantType {
		c.tb.Fatalf("%s: got %s %s, want %s", typ, f.Type, f.Data, wantType)
	}
	return f
}

// ExpectType waits for the first frame of type typ, leaving other frames in the inbox.
func (c *Client) ExpectType(typ string) Frame {
	c.tb.Helper()
	return c.Expect(func(f Frame) bool { return f.Type == typ }, typ)
}

// Expect waits for the first frame that match accepts and takes it out of the inbox.
func (c *Client) Expect(match func(Frame) bool, what string) Frame {
	c.tb.Helper()
	return c.ExpectWithin(wait, match, what)
}

// ExpectWithin is Expect with its own time limit.
func (c *Client) ExpectWithin(d time.Duration, match func(Frame) bool, what string) Frame {
	c.tb.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		for i, f := range c.inbox {
			if match(f) {
				c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return f
			}
		}
		got := append([]Frame(nil), c.inbox...)
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-c.closed:
			c.mu.Lock()
			n := len(c.inbox)
			c.mu.Unlock()
			if n == len(got) {
				c.tb.Fatalf("connection closed (%v) while waiting for %s; inbox: %v", c.CloseError(), what, got)
			}
		case <-deadline:
			c.tb.Fatalf("no %s within %v; inbox: %v", what, d, got)
		}
	}
}

// ExpectNone checks that no frame of type typ arrives within d.
func (c *Client) ExpectNone(typ string, d time.Duration) {
	c.tb.Helper()
	time.Sleep(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.inbox {
		if f.Type == typ {
			c.tb.Fatalf("unexpected %s %s", f.Type, f.Data)
		}
	}
}

// ExpectClosed waits for the server to close the connection and returns its close code.
func (c *Client) ExpectClosed() int {
	c.tb.Helper()
	return c.ExpectClosedWithin(wait)
}

// ExpectClosedWithin is ExpectClosed with its own time limit.
func (c *Client) ExpectClosedWithin(d time.Duration) int {
	c.tb.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.tb.Fatalf("connection still open after %v", d)
	}
	if ce := c.CloseError(); ce != nil {
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}

// CloseError is how the server closed the connection, or nil.
func (c *Client) CloseError() *websocket.CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.close
}

// Participant, State and Welcome mirror docs/protocol.md for decoding.
type Participant struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsHost    bool   `json:"isHost"`
	JoinedAt  string `json:"joinedAt"`
	Connected bool   `json:"connected"`
	Presence  string `json:"presence"`
	AwaySince string `json:"awaySince"`
}

type Settings struct {
	Locked       bool `json:"locked"`
	OpenPlayback bool `json:"openPlayback"`
}

type Anchor struct {
	ServerTime  float64 `json:"serverTime"`
	Beat        float64 `json:"beat"`
	TempoBefore float64 `json:"tempoBefore"`
}

// serverNow is the time in the wire's terms: ms since the Unix epoch, to the microsecond.
func serverNow() float64 { return float64(time.Now().UnixMicro()) / 1000 }

type State struct {
	Tempo       float64           `json:"tempo"`
	IsPlaying   bool              `json:"isPlaying"`
	CurrentStep int               `json:"currentStep"`
	Key         string            `json:"key"`
	Scale       string            `json:"scale"`
	Anchor      Anchor            `json:"anchor"`
	Pattern     map[string][]bool `json:"pattern"`
	Version     int64             `json:"version"`
	Link        LinkView          `json:"link"`
}

type LinkView struct {
	Enabled bool `json:"enabled"`
	Peers   int  `json:"peers"`
}

type Welcome struct {
	RoomCode     string        `json:"roomCode"`
	You          Participant   `json:"you"`
	Participants []Participant `json:"participants"`
	HomeHostID   string        `json:"homeHostId"`
	Settings     Settings      `json:"settings"`
	State        State         `json:"state"`
	ResumeToken  string        `json:"resumeToken"`
	JoinKey      string        `json:"joinKey"`
}

type ErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MustCreate creates a session as name and returns the welcome.
func (c *Client) MustCreate(name string) Welcome {
	c.tb.Helper()
	var w Welcome
	c.MustRequest("session:create", map[string]any{"userName": name}, "session:created").Decode(c.tb, &w)
	return w
}

// MustJoin joins code as name and returns the welcome.
func (c *Client) MustJoin(code, name string) Welcome {
	c.tb.Helper()
	var w Welcome
	c.MustRequest("session:join", map[string]any{"roomCode": code, "userName": name}, "session:joined").Decode(c.tb, &w)
	return w
}

// MustError sends a request and checks that it is answered with an error of code.
func (c *Client) MustError(typ string, data any, code string) ErrorData {
	c.tb.Helper()
	f := c.Request(typ, data)
	var e ErrorData
	f.Decode(c.tb, &e)
	if f.Type != "error" || e.Code != code {
		c.tb.Fatalf("%s %v: got %s %s, want error %s", typ, data, f.Type, f.Data, code)
	}
	if e.Message == "" {
		c.tb.Fatalf("%s: error %s has no message", typ, code)
	}
	return e
}

// Sync asks for the full state.
func (c *Client) Sync() (participants []Participant, st State) {
	c.tb.Helper()
	var d struct {
		Participants []Participant `json:"participants"`
		State        State         `json:"state"`
	}
	c.MustRequest("state:request-sync", map[string]any{}, "state:sync").Decode(c.tb, &d)
	return d.Participants, d.State
}

// GetJSON fetches url and decodes its JSON body into v; it returns the status.
func GetJSON(tb testing.TB, url string, header http.Header, v any) int {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			tb.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// dialerFrom is a WebSocket dialer whose connections come from source ("" for the default).
func dialerFrom(source string) *websocket.Dialer {
	nd := &net.Dialer{Timeout: wait}
	if source != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	return &websocket.Dialer{HandshakeTimeout: wait, NetDialContext: nd.DialContext}
}

// LogBuffer keeps what a server logs, for tests that check what an operator would read.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 1<<20 {
		l.buf.Reset() // a test that floods the log keeps only the latest
	}
	return l.buf.Write(p)
}

// Lines returns the logged lines that contain s.
func (l *LogBuffer) Lines(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}
