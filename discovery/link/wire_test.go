package link_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"jamd/discovery/link"
)

var sample = link.WireState{
	Session: [8]byte{'s', 'e', 's', 's', 'i', 'o', 'n', '1'}, MicrosPerBeat: 500_000,
	BeatOrigin: 12_345_678, TimeOrigin: -987_654_321, Playing: true, StartBeats: 4_000_000,
	StartAt: 1_000_000_000_000, Endpoint: netip.MustParseAddrPort("10.1.2.3:4567"),
}

func TestDiscoveryRoundTrip(t *testing.T) {
	from := [8]byte{'n', 'o', 'd', 'e', 'n', 'o', 'd', 'e'}
	for _, typ := range []byte{link.MsgAlive, link.MsgResponse} {
		b := link.EncodeDiscovery(typ, 5, from, sample)
		gotTyp, ttl, group, gotFrom, st, err := link.DecodeDiscovery(b)
		if err != nil || gotTyp != typ || ttl != 5 || group != 0 || gotFrom != from || st != sample {
			t.Fatalf("round trip of type %d: %d %d %d %q %+v %v", typ, gotTyp, ttl, group, gotFrom, st, err)
		}
		if len(b) != 20+32+16+25+14 {
			t.Errorf("alive is %d bytes, want 107", len(b))
		}
	}
	bye := link.EncodeDiscovery(link.MsgByeBye, 0, from, link.WireState{})
	if typ, _, _, gotFrom, _, err := link.DecodeDiscovery(bye); err != nil || typ != link.MsgByeBye || gotFrom != from || len(bye) != 20 {
		t.Fatalf("bye-bye: %d %q %v (%d bytes)", typ, gotFrom, err, len(bye))
	}
}

// TestDiscoveryBytes pins the encoding against the layout read from Ableton's headers.
func TestDiscoveryBytes(t *testing.T) {
	b := link.EncodeDiscovery(link.MsgAlive, 5, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, sample)
	want := []byte("_asdp_v\x01\x01\x05\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08tmln\x00\x00\x00\x18")
	want = binary.BigEndian.AppendUint64(want, 500_000)
	if !bytes.HasPrefix(b, want) {
		t.Fatalf("alive starts % x, want % x", b[:len(want)], want)
	}
	if !bytes.Contains(b, []byte("mep4\x00\x00\x00\x06\x0a\x01\x02\x03\x11\xd7")) {
		t.Errorf("no mep4 entry for 10.1.2.3:4567 in % x", b)
	}
}

func TestDiscoveryRejects(t *testing.T) {
	good := link.EncodeDiscovery(link.MsgAlive, 5, [8]byte{1}, sample)
	withUnknown := append(append([]byte(nil), good...), "mep6\x00\x00\x00\x02ab"...)
	if _, _, _, _, st, err := link.DecodeDiscovery(withUnknown); err != nil || st != sample {
		t.Errorf("an unknown entry is not skipped: %v", err)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"short header":   good[:19],
		"wrong magic":    append([]byte("_asdp_v\x02"), good[8:]...),
		"unknown type":   append(append([]byte(nil), good[:8]...), append([]byte{9}, good[9:]...)...),
		"cut in entry":   good[:len(good)-3],
		"no endpoint":    good[:len(good)-14],
		"oversized":      append(append([]byte(nil), good...), make([]byte, link.MaxMessageSize)...),
		"size past end":  setSize(good, 20, 0xffffffff),
		"wrong tmln len": setSize(good, 20, 23),
	}
	for name, b := range bad {
		if _, _, _, _, _, err := link.DecodeDiscovery(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func setSize(b []byte, at int, size uint32) []byte {
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint32(b[at+4:], size)
	return b
}

func TestMeasureRoundTrip(t *testing.T) {
	ping := link.EncodePing(111, 222)
	typ, _, hasSession, host, _, prev, err := link.DecodeMeasure(ping)
	if err != nil || typ != link.MsgPing || hasSession || host != 111 || prev != 222 {
		t.Fatalf("ping: %d %v %d %d %v", typ, hasSession, host, prev, err)
	}
	if first := link.EncodePing(111, 0); len(first) != 9+16 {
		t.Errorf("a first ping is %d bytes, want 25 (no _pgt)", len(first))
	}
	pong := link.EncodePong([8]byte{'a'}, 333, ping[9:])
	typ, session, hasSession, host, ghost, prev, err := link.DecodeMeasure(pong)
	if err != nil || typ != link.MsgPong || session != [8]byte{'a'} || !hasSession || host != 111 || ghost != 333 || prev != 222 {
		t.Fatalf("pong: %d %q %v %d %d %d %v", typ, session, hasSession, host, ghost, prev, err)
	}
	tooBig := append(append([]byte(nil), ping...), link.EncodePing(1, 2)[9:]...)
	if _, _, _, _, _, _, err := link.DecodeMeasure(tooBig); err == nil {
		t.Error("a ping with a payload over 32 bytes decoded")
	}
	for i := range len(ping) {
		if i == 9 || i == 25 {
			continue // entry boundaries: a valid shorter ping
		}
		if _, _, _, _, _, _, err := link.DecodeMeasure(ping[:i]); err == nil {
			t.Errorf("ping cut at %d decoded", i)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{100, -1e9, 101, 99, 1e9}, 100}, // outliers from stretched round trips
	} {
		if got := link.Median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzDecodeDiscovery: no input panics, and whatever decodes re-encodes to the same state.
func FuzzDecodeDiscovery(f *testing.F) {
	good := link.EncodeDiscovery(link.MsgAlive, 5, [8]byte{1}, sample)
	f.Add(good)
	f.Add(link.EncodeDiscovery(link.MsgByeBye, 0, [8]byte{1}, link.WireState{}))
	f.Add(good[:50])
	f.Add(setSize(good, 20, 0x7fffffff))
	f.Add(setSize(good, 20, 0xfffffff8))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, ttl, _, from, st, err := link.DecodeDiscovery(b)
		if err != nil || typ == link.MsgByeBye {
			return
		}
		if len(b) > link.MaxMessageSize {
			t.Fatalf("decoded %d bytes", len(b))
		}
		// The tempo travels as a float (BPM) in between, exact for any sane µs per beat.
		sane := st.MicrosPerBeat > 0 && st.MicrosPerBeat < 1<<40
		_, _, _, _, again, err := link.DecodeDiscovery(link.EncodeDiscovery(typ, ttl, from, st))
		if err != nil || (sane && again != st) {
			t.Fatalf("re-encoding %+v gave %+v, %v", st, again, err)
		}
	})
}

// FuzzDecodeMeasure: no input panics; a decoded ping is never over 32 bytes of payload.
func FuzzDecodeMeasure(f *testing.F) {
	f.Add(link.EncodePing(1, 2))
	f.Add(link.EncodePong([8]byte{1}, 3, link.EncodePing(1, 2)[9:]))
	f.Add([]byte("_link_v\x01\x02sess\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, _, _, _, _, _, err := link.DecodeMeasure(b)
		if err == nil && typ == link.MsgPing && len(b) > 9+32 {
			t.Fatalf("answered a ping of %d bytes", len(b))
		}
	})
}
