package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"jamd/appliance"
)

// The states bucket holds, per room code, the session's shared state and last activity as a
// small binary record: the changes that happen most (tempo, key, playback, pattern) rewrite
// these ~90 bytes instead of the whole session as JSON, and many of them share a page. A state
// record, when present, is newer than the state inside the session's JSON record; PutSession
// writes the whole session and drops it.
var statesBucket = []byte("states")

// stateFormat is the first byte of a state record.
const stateFormat = 1

var errBadState = errors.New("malformed state record")

// appendState encodes lastActive and st.
func appendState(b []byte, lastActive time.Time, st appliance.State) []byte {
	b = append(b, stateFormat)
	b = binary.AppendVarint(b, lastActive.UnixNano())
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.Tempo))
	playing := byte(0)
	if st.IsPlaying {
		playing = 1
	}
	b = append(b, playing)
	b = appendString(b, st.Key)
	b = appendString(b, st.Scale)
	for _, f := range []float64{st.Anchor.ServerTime, st.Anchor.Beat, st.Anchor.TempoBefore} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	for _, row := range []*[appliance.Steps]bool{&st.Pattern.Kick, &st.Pattern.Snare, &st.Pattern.Hihat, &st.Pattern.Clap} {
		var bits uint16
		for i, on := range row {
			if on {
				bits |= 1 << i
			}
		}
		b = binary.LittleEndian.AppendUint16(b, bits)
	}
	return binary.AppendVarint(b, st.Version)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeState reads a record appendState wrote.
func decodeState(b []byte) (lastActive time.Time, st appliance.State, err error) {
	d := stateDecoder{b: b}
	if d.byte() != stateFormat {
		return time.Time{}, st, errBadState
	}
	lastActive = time.Unix(0, d.varint()).UTC()
	st.Tempo = d.float()
	st.IsPlaying = d.byte() == 1
	st.Key, st.Scale = d.string(), d.string()
	st.Anchor.ServerTime, st.Anchor.Beat, st.Anchor.TempoBefore = d.float(), d.float(), d.float()
	for _, row := range []*[appliance.Steps]bool{&st.Pattern.Kick, &st.Pattern.Snare, &st.Pattern.Hihat, &st.Pattern.Clap} {
		bits := d.uint16()
		for i := range row {
			row[i] = bits&(1<<i) != 0
		}
	}
	st.Version = d.varint()
	if d.bad || len(d.b) != 0 {
		return time.Time{}, appliance.State{}, errBadState
	}
	return lastActive, st, nil
}

// stateDecoder reads a state record; a read past its end sets bad.
type stateDecoder struct {
	b   []byte
	bad bool
}

func (d *stateDecoder) take(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.bad, d.b = true, nil
		return make([]byte, max(n, 0))
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *stateDecoder) byte() byte     { return d.take(1)[0] }
func (d *stateDecoder) uint16() uint16 { return binary.LittleEndian.Uint16(d.take(2)) }
func (d *stateDecoder) float() float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(d.take(8)))
}
func (d *stateDecoder) string() string { n := d.uvarint(); return string(d.take(int(min(n, 1<<16)))) }
func (d *stateDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	d.skip(n)
	return v
}

func (d *stateDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	d.skip(n)
	return v
}

// skip moves past a varint of n bytes; n <= 0 is binary's word for a malformed one.
func (d *stateDecoder) skip(n int) {
	if n <= 0 {
		d.bad, d.b = true, nil
		return
	}
	d.b = d.b[n:]
}
