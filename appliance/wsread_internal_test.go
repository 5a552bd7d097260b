package appliance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

// clientFrame frames payload as a client does (masked), with fin and opcode op.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

// readAll feeds data in pieces cut at cuts and returns what each was called with, "op:payload",
// and the error's code (0 for none).
func readAll(data []byte, cuts []int) (got []string, code int) {
	r := frameReader{limit: 64}
	each := func(op byte, payload []byte) bool {
		got = append(got, fmt.Sprintf("%x:%s", op, payload))
		return true
	}
	last := 0
	for _, cut := range append(cuts, len(data)) {
		cut = min(max(cut, last), len(data))
		if err := r.feed(data[last:cut], each); err != nil {
			return got, err.code
		}
		last = cut
	}
	return got, 0
}

func TestFrameReader(t *testing.T) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	long := bytes.Repeat([]byte("a"), 200)
	for _, tc := range []struct {
		name string
		data []byte
		want []string
		code int
	}{
		{"two messages in one read", cat(clientFrame(true, opText, []byte(`{"a":1}`)), clientFrame(true, opText, []byte(`{}`))),
			[]string{`1:{"a":1}`, `1:{}`}, 0},
		{"a fragmented message with a ping inside", cat(clientFrame(false, opText, []byte("he")), clientFrame(true, opPing, []byte("p")),
			clientFrame(false, opContinuation, []byte("ll")), clientFrame(true, opContinuation, []byte("o"))),
			[]string{"9:p", "1:hello"}, 0},
		{"binary, pong, close", cat(clientFrame(true, opBinary, []byte{1}), clientFrame(true, opPong, nil), clientFrame(true, opClose, []byte{3, 232})),
			[]string{"2:\x01", "a:", "8:\x03\xe8"}, 0},
		{"an empty text message", clientFrame(true, opText, nil), []string{"1:"}, 0},
		{"unmasked", []byte{0x81, 0x01, 'x'}, nil, closeProtocolError},
		{"reserved bits", append([]byte{0xc1}, clientFrame(true, opText, []byte("x"))[1:]...), nil, closeProtocolError},
		{"unknown opcode", clientFrame(true, 0x3, nil), nil, closeProtocolError},
		{"a fragmented ping", clientFrame(false, opPing, nil), nil, closeProtocolError},
		{"a long ping", clientFrame(true, opPing, long), nil, closeProtocolError},
		{"continuation first", clientFrame(true, opContinuation, []byte("x")), nil, closeProtocolError},
		{"a message inside a message", cat(clientFrame(false, opText, []byte("x")), clientFrame(true, opText, []byte("y"))), nil, closeProtocolError},
		{"too big at once", clientFrame(true, opText, long), nil, closeTooBig},
		{"too big in fragments", cat(clientFrame(false, opText, long[:40]), clientFrame(true, opContinuation, long[:40])), nil, closeTooBig},
		{"64-bit length past the limit", append([]byte{0x81, 0xff}, 0, 0, 0, 1, 0, 0, 0, 0), nil, closeTooBig},
		{"64-bit length out of range", append([]byte{0x81, 0xff}, bytes.Repeat([]byte{0xff}, 8)...), nil, closeProtocolError},
		{"at the limit", clientFrame(true, opText, long[:64]), []string{"1:" + string(long[:64])}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, then byte by byte: the same messages, the same end.
			for _, cuts := range [][]int{nil, byteCuts(len(tc.data))} {
				got, code := readAll(tc.data, cuts)
				if !slices.Equal(got, tc.want) || code != tc.code {
					t.Errorf("cut %v: got %q, code %d; want %q, code %d", cuts != nil, got, code, tc.want, tc.code)
				}
			}
		})
	}
}

func byteCuts(n int) []int {
	cuts := make([]int, n)
	for i := range cuts {
		cuts[i] = i
	}
	return cuts
}

// TestFrameReaderKeepsNothingBetweenFrames: an idle socket holds no buffer.
func TestFrameReaderKeepsNothingBetweenFrames(t *testing.T) {
	r := frameReader{limit: MaxFrameBytes}
	f := clientFrame(true, opText, []byte(`{"type":"clock:ping"}`))
	r.feed(f[:5], func(byte, []byte) bool { return true })
	if r.partial == nil {
		t.Fatal("half a frame was not kept")
	}
	r.feed(f[5:], func(byte, []byte) bool { return true })
	if r.partial != nil || r.msg != nil {
		t.Errorf("kept %d and %d bytes after a whole frame", len(r.partial), len(r.msg))
	}
}

// TestFrameReaderTrickle: a frame that comes a byte per read is kept in one buffer, not copied
// again with every byte (which would be 16 KiB² of copying for the largest).
func TestFrameReaderTrickle(t *testing.T) {
	f := clientFrame(true, opText, bytes.Repeat([]byte("x"), MaxFrameBytes))
	var got int
	allocs := testing.AllocsPerRun(3, func() {
		r := frameReader{limit: MaxFrameBytes}
		for i := range f {
			r.feed(f[i:i+1], func(_ byte, p []byte) bool { got = len(p); return true })
		}
	})
	if got != MaxFrameBytes {
		t.Fatalf("read a %d-byte message, want %d", got, MaxFrameBytes)
	}
	if allocs > 20 {
		t.Errorf("%v allocations for one frame a byte at a time", allocs)
	}
}

// FuzzFrameReader: any bytes, cut anywhere, give the same messages and the same end as the
// bytes read at once, never a payload past the limit, and never a panic.
func FuzzFrameReader(f *testing.F) {
	f.Add(clientFrame(true, opText, []byte(`{"type":"clock:ping","id":"1","data":{"t0":1}}`)), uint16(7))
	f.Add(append(clientFrame(false, opText, []byte("ab")), clientFrame(true, opContinuation, []byte("c"))...), uint16(3))
	f.Add(clientFrame(true, opClose, []byte{3, 232, 'b', 'y'}), uint16(1))
	f.Add([]byte{0x81, 0xfe, 0x01}, uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole, wholeCode := readAll(data, nil)
		var cuts []int
		for i := int(step%97) + 1; i < len(data); i += int(step%97) + 1 {
			cuts = append(cuts, i)
		}
		cut, cutCode := readAll(data, cuts)
		if !slices.Equal(whole, cut) || wholeCode != cutCode {
			t.Fatalf("whole: %q %d; cut every %d: %q %d", whole, wholeCode, step%97+1, cut, cutCode)
		}
		for _, m := range whole {
			limit := 64 // a message's; a control frame's is 125
			if m[0] >= '8' {
				limit = 125
			}
			if len(m)-len("1:") > limit {
				t.Fatalf("a %d-byte %c frame past the limit of %d", len(m)-2, m[0], limit)
			}
		}
	})
}
