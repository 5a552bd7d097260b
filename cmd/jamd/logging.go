package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
)

// logFormats are the values of --log-format.
var logFormats = []string{"auto", "text", "json", "journal"}

// journalSocket is where systemd-journald takes native-protocol log entries.
var journalSocket = "/run/systemd/journal/socket"

// newLogger is jamd serve's logger: log/slog to stderr as text or JSON, or, under systemd,
// straight to the journal with a priority and one field per attribute, so that
// `journalctl -u jamd -p warning` and `journalctl -u jamd ROOM=K7M2QX` work.
func newLogger(format string, getenv env, stderr io.Writer) *slog.Logger {
	if format == "auto" {
		format = "text"
		if getenv("JOURNAL_STREAM") != "" {
			if _, err := os.Stat(journalSocket); err == nil {
				format = "journal"
			}
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, nil))
	case "journal":
		if h, err := newJournalHandler(journalSocket, stderr); err == nil {
			return slog.New(h)
		}
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}

// journalHandler sends each record to journald over its native protocol: MESSAGE (the text
// line, without time, which the journal adds), PRIORITY (syslog's: 3 error, 4 warning,
// 6 info, 7 debug), SYSLOG_IDENTIFIER=jamd, and each attribute as an upper-case field (room →
// ROOM). A record the journal does not take is written to fallback as text.
type journalHandler struct {
	conn     *net.UnixConn
	fallback io.Writer
	attrs    []slog.Attr
	group    string
	mu       *sync.Mutex // guards fallback writes
}

func newJournalHandler(socket string, fallback io.Writer) (*journalHandler, error) {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	return &journalHandler{conn: conn, fallback: fallback, mu: &sync.Mutex{}}, nil
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		c.attrs = append(c.attrs[:len(c.attrs):len(c.attrs)], h.prefixed(a))
	}
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "_" + name
	}
	c.group = name
	return &c
}

func (h *journalHandler) prefixed(a slog.Attr) slog.Attr {
	if h.group != "" {
		a.Key = h.group + "_" + a.Key
	}
	return a
}

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	var attrs []slog.Attr
	attrs = append(attrs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, h.prefixed(a))
		return true
	})
	var line bytes.Buffer // the message as the text handler writes it, without time and level
	text := slog.NewTextHandler(&line, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{}
		}
		return a
	}})
	rec := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	rec.AddAttrs(attrs...)
	text.Handle(context.Background(), rec)
	msg := strings.TrimPrefix(strings.TrimSuffix(line.String(), "\n"), "msg=")

	var b bytes.Buffer
	field(&b, "MESSAGE", msg)
	field(&b, "PRIORITY", priority(r.Level))
	field(&b, "SYSLOG_IDENTIFIER", "jamd")
	for _, a := range attrs {
		if a.Equal(slog.Attr{}) {
			continue
		}
		field(&b, journalField(a.Key), a.Value.Resolve().String())
	}
	if _, err := h.conn.Write(b.Bytes()); err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		_, err := io.WriteString(h.fallback, "<"+priority(r.Level)+">"+msg+"\n")
		return err
	}
	return nil
}

// priority is the syslog priority of a slog level.
func priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "3"
	case l >= slog.LevelWarn:
		return "4"
	case l >= slog.LevelInfo:
		return "6"
	default:
		return "7"
	}
}

// journalField turns an attribute key into a journal field name: upper case, A–Z, 0–9 and _,
// not starting with _ or a digit, and never one of the journal's own (those get JAMD_).
func journalField(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	name := string(b)
	switch {
	case name == "", name[0] == '_', name[0] >= '0' && name[0] <= '9',
		name == "MESSAGE", name == "PRIORITY", name == "MESSAGE_ID", name == "SYSLOG_IDENTIFIER",
		strings.HasPrefix(name, "CODE_"), strings.HasPrefix(name, "SYSLOG_"):
		return "JAMD_" + strings.TrimLeft(name, "_")
	}
	return name
}

// field appends one field in the journal's native format: KEY=value, or, for a value with a
// newline, KEY, a newline, its length as 64-bit little endian and the value.
func field(b *bytes.Buffer, key, value string) {
	b.WriteString(key)
	if !strings.Contains(value, "\n") {
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
		return
	}
	b.WriteByte('\n')
	binary.Write(b, binary.LittleEndian, uint64(len(value)))
	b.WriteString(value)
	b.WriteByte('\n')
}
