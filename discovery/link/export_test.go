package link

import "net/netip"

// Internals the external tests exercise directly, in the shapes they need.

// WireState is a nodeState with exported fields, for building and checking datagrams.
type WireState struct {
	Session             [8]byte
	MicrosPerBeat       int64
	BeatOrigin          int64 // µbeats
	TimeOrigin          int64 // ghost µs
	Playing             bool
	StartBeats, StartAt int64
	Endpoint            netip.AddrPort
}

func (w WireState) state() nodeState {
	return nodeState{
		session:   w.Session,
		timeline:  timeline{tempo: tempoFromMicros(w.MicrosPerBeat), beatOrigin: beats(w.BeatOrigin), timeOrigin: w.TimeOrigin},
		startStop: startStop{playing: w.Playing, beats: beats(w.StartBeats), timestamp: w.StartAt},
		endpoint:  w.Endpoint,
	}
}

func wireState(st nodeState) WireState {
	return WireState{
		Session: st.session, MicrosPerBeat: st.timeline.tempo.microsPerBeat(),
		BeatOrigin: int64(st.timeline.beatOrigin), TimeOrigin: st.timeline.timeOrigin,
		Playing: st.startStop.playing, StartBeats: int64(st.startStop.beats), StartAt: st.startStop.timestamp,
		Endpoint: st.endpoint,
	}
}

// Message types, for tests that build datagrams.
const (
	MsgAlive, MsgResponse, MsgByeBye = msgAlive, msgResponse, msgByeBye
	MsgPing, MsgPong                 = msgPing, msgPong
	MaxMessageSize                   = maxMessageSize
)

// EncodeDiscovery builds a discovery datagram.
func EncodeDiscovery(typ, ttl byte, from [8]byte, st WireState) []byte {
	return encodeDiscovery(typ, ttl, from, st.state())
}

// DecodeDiscovery parses one.
func DecodeDiscovery(b []byte) (typ, ttl byte, group uint16, from [8]byte, st WireState, err error) {
	m, err := decodeDiscovery(b)
	return m.typ, m.ttl, m.group, m.from, wireState(m.state), err
}

// EncodePing and EncodePong build measurement datagrams.
var (
	EncodePing = encodePing
	EncodePong = func(session [8]byte, ghost int64, payload []byte) []byte { return encodePong(session, ghost, payload) }
)

// DecodeMeasure parses a measurement datagram.
func DecodeMeasure(b []byte) (typ byte, session [8]byte, hasSession bool, host, ghost, prevGhost int64, err error) {
	m, err := decodeMeasure(b)
	return m.typ, m.session, m.hasSession, m.hostTime, m.ghostTime, m.prevGhost, err
}

// Median is the ghost-time filter.
var Median = median
