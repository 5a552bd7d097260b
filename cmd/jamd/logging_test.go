package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseJournal reads one datagram of journald's native protocol into its fields.
func parseJournal(tb testing.TB, b []byte) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for len(b) > 0 {
		i := bytes.IndexAny(b, "=\n")
		if i < 0 {
			tb.Fatalf("truncated entry %q", b)
		}
		key := string(b[:i])
		if b[i] == '=' {
			end := bytes.IndexByte(b[i:], '\n')
			out[key] = string(b[i+1 : i+end])
			b = b[i+end+1:]
			continue
		}
		n := binary.LittleEndian.Uint64(b[i+1 : i+9])
		out[key] = string(b[i+9 : i+9+int(n)])
		b = b[i+9+int(n)+1:]
	}
	return out
}

// TestJournalLogs sends log records to a real unix datagram socket standing in for journald's
// and checks the fields a `journalctl -p warning ROOM=...` filters on.
func TestJournalLogs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	saved := journalSocket
	journalSocket = sock
	defer func() { journalSocket = saved }()

	var stderr bytes.Buffer
	log := newLogger("auto", func(k string) string {
		if k == "JOURNAL_STREAM" {
			return "8:1234"
		}
		return ""
	}, &stderr)
	log.With("component", "hub").Warn("cannot save session: is the disk full?", "room", "K7M2QX", "err", "write: no space\nleft", "message", "x")

	buf := make([]byte, 64<<10)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatalf("no journal entry: %v (stderr %q)", err, stderr.String())
	}
	f := parseJournal(t, buf[:n])
	want := map[string]string{
		"PRIORITY": "4", "SYSLOG_IDENTIFIER": "jamd", "ROOM": "K7M2QX", "COMPONENT": "hub",
		"ERR": "write: no space\nleft", "JAMD_MESSAGE": "x",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q (entry %q)", k, f[k], v, f)
		}
	}
	if !strings.HasPrefix(f["MESSAGE"], `"cannot save session: is the disk full?"`) || !strings.Contains(f["MESSAGE"], "room=K7M2QX") {
		t.Errorf("MESSAGE = %q", f["MESSAGE"])
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %q", stderr.String())
	}
}
