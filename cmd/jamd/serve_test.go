package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Proc is a running jamd binary.
type Proc struct {
	Cmd    *exec.Cmd
	URL    string // http://127.0.0.1:port
	Stderr *lockedBuffer
	exited chan error
}

// lockedBuffer is a bytes.Buffer that the process's output copier and the test may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// StartJamd runs `jamd serve` on a loopback addr with dataDir and waits until /healthz answers.
func StartJamd(tb testing.TB, dataDir, addr string, extra ...string) *Proc {
	tb.Helper()
	args := append([]string{"serve", "--addr", addr, "--data-dir", dataDir, "--no-mdns"}, extra...)
	cmd := exec.Command(buildJamd(tb), args...)
	stdout, _ := cmd.StdoutPipe()
	p := &Proc{Cmd: cmd, Stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	tb.Cleanup(func() { cmd.Process.Kill() })

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlRE.FindString(sc.Text()); m != "" {
				select {
				case found <- m:
				default:
				}
			}
		}
	}()
	select {
	case p.URL = <-found:
	case err := <-p.exited:
		tb.Fatalf("jamd exited at start: %v\n%s", err, p.Stderr)
	case <-time.After(10 * time.Second):
		tb.Fatalf("jamd printed no URL\n%s", p.Stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("healthz never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait waits for the process to exit and returns its exit code.
func (p *Proc) Wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		tb.Fatal("jamd did not exit within 10s")
	}
	return p.Cmd.ProcessState.ExitCode()
}

// ws is a minimal client of the wire contract.
type ws struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, base string) *ws {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ws{t: t, conn: conn}
}

// request sends a request and returns the data of the answer, which must be of type want.
func (c *ws) request(typ string, data any, want string) map[string]any {
	c.t.Helper()
	if err := c.conn.WriteJSON(map[string]any{"type": typ, "id": "x", "data": data}); err != nil {
		c.t.Fatal(err)
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f struct {
			Type string
			Re   string
			Data map[string]any
		}
		if err := c.conn.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %s: %v", want, err)
		}
		if f.Re == "x" {
			if f.Type != want {
				c.t.Fatalf("%s: got %s %v, want %s", typ, f.Type, f.Data, want)
			}
			return f.Data
		}
	}
}

func TestKill9LosesNothing(t *testing.T) {
	dir := t.TempDir()
	p := StartJamd(t, dir, "127.0.0.1:0")
	host, guest := dial(t, p.URL), dial(t, p.URL)
	created := host.request("session:create", map[string]any{"userName": "Ana"}, "session:created")
	code := created["roomCode"].(string)
	joined := guest.request("session:join", map[string]any{"roomCode": code, "userName": "Bo"}, "session:joined")
	host.request("state:tempo-change", map[string]any{"tempo": 77}, "state:tempo-change")
	host.request("pattern:set-step", map[string]any{"track": "clap", "step": 12, "on": true}, "pattern:set-step")
	last := guest.request("state:key-change", map[string]any{"key": "Eb", "scale": "mixolydian"}, "state:key-change")

	// The moment everyone has been told, the power goes.
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(t)

	addr := strings.TrimPrefix(p.URL, "http://")
	p2 := StartJamd(t, dir, addr) // same data dir, same port: what phones reconnect to
	back := dial(t, p2.URL)
	you := joined["you"].(map[string]any)
	resumed := back.request("session:join", map[string]any{"roomCode": code, "userName": "x", "resumeToken": joined["resumeToken"]}, "session:joined")
	me := resumed["you"].(map[string]any)
	if me["id"] != you["id"] || me["name"] != "Bo" {
		t.Errorf("resumed %v, want %v", me, you)
	}
	st := resumed["state"].(map[string]any)
	clap := st["pattern"].(map[string]any)["clap"].([]any)
	if st["tempo"] != 77.0 || st["key"] != "Eb" || st["scale"] != "mixolydian" || clap[12] != true || st["version"] != last["version"] {
		t.Errorf("state after kill -9 = %v", st)
	}
	ps := resumed["participants"].([]any)
	if len(ps) != 2 || ps[0].(map[string]any)["connected"] != false || ps[0].(map[string]any)["isHost"] != true {
		t.Errorf("seats after kill -9 = %v", ps)
	}
}

func TestSIGTERMClosesWith1001AndExits0(t *testing.T) {
	p := StartJamd(t, t.TempDir(), "127.0.0.1:0")
	c := dial(t, p.URL)
	c.request("session:create", map[string]any{"userName": "Ana"}, "session:created")
	start := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("socket closed with %v, want 1001", err)
	}
	if code := p.Wait(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, p.Stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

func TestStartupErrorsAreOneSentence(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	lockedDir := t.TempDir()
	StartJamd(t, lockedDir, "127.0.0.1:0") // holds the database lock
	notADir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notADir, nil, 0o600)

	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"bad flag", []string{"serve", "--tempo", "3"}, nil, "unknown flag"},
		{"bad value", []string{"serve", "--reconnect-grace", "soon"}, nil, "invalid argument"},
		{"bad env", []string{"serve"}, []string{"JAMD_MAX_PARTICIPANTS=lots"}, "JAMD_MAX_PARTICIPANTS"},
		{"zero seats", []string{"serve", "--max-participants", "0"}, nil, "--max-participants"},
		{"public URL without a scheme", []string{"serve", "--public-url", "jam.local"}, nil, "--public-url"},
		{"busy port", []string{"serve", "--addr", busy.Addr().String(), "--data-dir", t.TempDir()}, nil, "already in use"},
		{"locked database", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", lockedDir}, nil, "in use by another jamd"},
		{"unusable data dir", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(notADir, "sub")}, nil, "data dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(buildJamd(t), append(tc.args, "--no-mdns")...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Stdout = io.Discard
			start := time.Now()
			err := cmd.Run()
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if err == nil || cmd.ProcessState.ExitCode() == 0 {
				t.Fatalf("exit status 0, want failure; stderr: %s", stderr.String())
			}
			if !strings.Contains(last, tc.want) || !strings.HasPrefix(last, "jamd: ") || strings.Contains(stderr.String(), "goroutine") {
				t.Errorf("stderr = %q, want one sentence about %q", stderr.String(), tc.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v to fail", time.Since(start))
			}
		})
	}
}

func TestEnvironmentConfiguresServe(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildJamd(t), "serve")
	cmd.Env = append(os.Environ(), "JAMD_ADDR=127.0.0.1:0", "JAMD_DATA_DIR="+dir, "JAMD_NO_MDNS=1", "JAMD_ADMIN_TOKEN_FILE="+tokenFile)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var base string
	for base == "" && sc.Scan() {
		base = urlRE.FindString(sc.Text())
	}
	go io.Copy(io.Discard, stdout)
	req, _ := http.NewRequest("GET", base+"/api/stats", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stats with the token from JAMD_ADMIN_TOKEN_FILE: %v %v", resp, err)
	}
	var stats map[string]any
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if _, err := os.Stat(filepath.Join(dir, "jamd.db")); err != nil {
		t.Errorf("JAMD_DATA_DIR not used: %v", err)
	}
}

func TestAdminTokenIsGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	p := StartJamd(t, dir, "127.0.0.1:0")
	info, err := os.Stat(filepath.Join(dir, "admin-token"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token: %v %v", info, err)
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin-token"))
	if strings.Contains(p.Stderr.String(), strings.TrimSpace(string(tok))) {
		t.Error("the log shows the admin token")
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Wait(t)
	StartJamd(t, dir, "127.0.0.1:0")
	tok2, _ := os.ReadFile(filepath.Join(dir, "admin-token"))
	if string(tok) != string(tok2) {
		t.Error("the admin token changed on restart")
	}
}
