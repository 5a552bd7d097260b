package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jamdCLI runs the real binary with args (and env added) and returns its stdout, stderr and
// exit code.
func jamdCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(buildJamd(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("jamd %v did not finish within 20s", args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestSessionsAndEnd drives `jamd sessions` and `jamd end` against a running jamd: the token
// comes from the data dir's admin-token, or JAMD_ADMIN_TOKEN.
func TestSessionsAndEnd(t *testing.T) {
	dir := t.TempDir()
	p := StartJamd(t, dir, "127.0.0.1:0")
	host, guest := dial(t, p.URL), dial(t, p.URL)
	code := host.request("session:create", map[string]any{"userName": "Ana"}, "session:created")["roomCode"].(string)
	guest.request("session:join", map[string]any{"roomCode": code, "userName": "Bo"}, "session:joined")
	host.request("state:tempo-change", map[string]any{"tempo": 96}, "state:tempo-change")
	host.request("state:playback-control", map[string]any{"isPlaying": true}, "state:playback-control")

	out, errOut, st := jamdCLI(t, nil, "sessions", "--server", p.URL, "--data-dir", dir)
	if st != 0 {
		t.Fatalf("jamd sessions: exit %d: %s", st, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CODE") {
		t.Fatalf("jamd sessions printed:\n%s", out)
	}
	for _, want := range []string{code, "2: 2 connected", "96", "yes"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("jamd sessions line %q lacks %q", lines[1], want)
		}
	}

	tok, _ := os.ReadFile(filepath.Join(dir, "admin-token"))
	env := []string{"JAMD_ADMIN_TOKEN=" + strings.TrimSpace(string(tok))}
	out, errOut, st = jamdCLI(t, env, "sessions", "--json", "--server", p.URL, "--data-dir", t.TempDir())
	var list []map[string]any
	if st != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["roomCode"] != code {
		t.Fatalf("jamd sessions --json with JAMD_ADMIN_TOKEN: exit %d, %s %s", st, out, errOut)
	}
	if _, errOut, st = jamdCLI(t, []string{"JAMD_ADMIN_TOKEN=wrong"}, "sessions", "--server", p.URL); st == 0 || !strings.Contains(errOut, "refused the admin token") {
		t.Errorf("jamd sessions with a wrong token: exit %d, %q", st, errOut)
	}

	out, errOut, st = jamdCLI(t, nil, "end", strings.ToLower(code), "--reason", "Time to pack up", "--server", p.URL, "--data-dir", dir)
	if st != 0 || !strings.Contains(out, "Ended "+code) || !strings.Contains(out, "2 connected phones were told") {
		t.Fatalf("jamd end: exit %d: %s %s", st, out, errOut)
	}
	for _, c := range []*ws{host, guest} {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var f struct {
				Type string
				Data map[string]any
			}
			if err := c.conn.ReadJSON(&f); err != nil {
				t.Fatalf("waiting for session:ended: %v", err)
			}
			if f.Type == "session:ended" {
				if f.Data["reason"] != "Time to pack up" || f.Data["roomCode"] != code {
					t.Errorf("session:ended %v", f.Data)
				}
				break
			}
		}
	}
	if out, _, _ = jamdCLI(t, nil, "sessions", "--server", p.URL, "--data-dir", dir); strings.TrimSpace(out) != "No sessions." {
		t.Errorf("jamd sessions after the end printed %q", out)
	}
	if _, errOut, st = jamdCLI(t, nil, "end", code, "--server", p.URL, "--data-dir", dir); st == 0 || !strings.Contains(errOut, "no session with that code") {
		t.Errorf("jamd end of a gone session: exit %d, %q", st, errOut)
	}
}

// TestBackupAndRestore: `jamd backup` copies a running jamd's sessions, `jamd restore` refuses
// while a jamd runs on the data dir, and once it is stopped puts the backup back, and jamd
// serves the sessions the backup held.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	p := StartJamd(t, dir, "127.0.0.1:0")
	c := dial(t, p.URL)
	created := c.request("session:create", map[string]any{"userName": "Ana"}, "session:created")
	code := created["roomCode"].(string)
	c.request("state:tempo-change", map[string]any{"tempo": 101}, "state:tempo-change")

	backup := filepath.Join(t.TempDir(), "nightly.db")
	out, errOut, st := jamdCLI(t, nil, "backup", backup, "--server", p.URL, "--data-dir", dir)
	if st != 0 || !strings.Contains(out, "Backed up 1 session") {
		t.Fatalf("jamd backup: exit %d: %s %s", st, out, errOut)
	}
	c.request("state:tempo-change", map[string]any{"tempo": 140}, "state:tempo-change") // after the backup
	other := dial(t, p.URL).request("session:create", map[string]any{"userName": "Bo"}, "session:created")["roomCode"].(string)

	_, errOut, st = jamdCLI(t, nil, "restore", backup, "--data-dir", dir)
	if st == 0 || !strings.Contains(errOut, "a jamd is running on") || !strings.Contains(errOut, "stop it first") {
		t.Fatalf("jamd restore while jamd runs: exit %d, %q", st, errOut)
	}
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notDB, []byte("not a database"), 0o600)
	if _, errOut, st = jamdCLI(t, nil, "restore", notDB, "--data-dir", dir); st == 0 || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("jamd restore of a file that is not a backup: exit %d, %q", st, errOut)
	}

	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Wait(t)
	out, errOut, st = jamdCLI(t, nil, "restore", backup, "--data-dir", dir)
	if st != 0 || !strings.Contains(out, "Restored 1 session") {
		t.Fatalf("jamd restore: exit %d: %s %s", st, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "jamd.db.before-restore")); err != nil {
		t.Errorf("the replaced database was not kept: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "jamd.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored jamd.db: %v %v", fi, err)
	}

	p2 := StartJamd(t, dir, "127.0.0.1:0")
	out, errOut, st = jamdCLI(t, nil, "sessions", "--server", strings.TrimPrefix(p2.URL, "http://"), "--data-dir", dir)
	if st != 0 || !strings.Contains(out, code) || !strings.Contains(out, "101") {
		t.Errorf("after restore, jamd sessions says (exit %d): %s %s; want %s at 101 BPM (as backed up)", st, out, errOut, code)
	}
	if resp := getJSON(t, p2.URL+"/api/sessions/"+other, nil); resp != 404 {
		t.Errorf("after restore, %s (created after the backup) answers %d, want 404", other, resp)
	}
}

// getJSON GETs url, decodes its JSON body into v (when not nil) and returns the status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}
