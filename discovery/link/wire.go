package link

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

// The wire format of Link 3.0.x: every integer is big-endian; every message starts with an
// 8-byte magic; a payload is a run of entries, each a 4-byte key, a 4-byte size and size bytes.
const (
	// maxMessageSize is the largest datagram a Link peer reads; larger ones are not Link.
	maxMessageSize = 512
	// discoveryHeaderSize is magic, type, TTL, group and node ID.
	discoveryHeaderSize = 8 + 1 + 1 + 2 + 8
	// linkHeaderSize is magic and type.
	linkHeaderSize = 8 + 1
	// maxPingPayload bounds what a ping may carry: a host time and a previous ghost time.
	maxPingPayload  = 2 * (entryHeaderSize + 8)
	entryHeaderSize = 8
)

var (
	discoveryMagic = [8]byte{'_', 'a', 's', 'd', 'p', '_', 'v', 1}
	measureMagic   = [8]byte{'_', 'l', 'i', 'n', 'k', '_', 'v', 1}
)

// Discovery message types (multicast announcements and their unicast answers).
const (
	msgAlive    = 1 // "I am here, this is my state", multicast every 250 ms
	msgResponse = 2 // the same state, unicast back to whoever sent an alive
	msgByeBye   = 3 // "I am leaving", multicast, no payload
)

// Measurement message types (unicast between measurement endpoints).
const (
	msgPing = 1
	msgPong = 2
)

// Payload entry keys: four ASCII characters read as a big-endian uint32.
const (
	keyTimeline      = 0x746d6c6e // "tmln": µs per beat, beat origin (µbeats), time origin (ghost µs)
	keySession       = 0x73657373 // "sess": the session ID, 8 bytes
	keyStartStop     = 0x73747374 // "stst": playing (1 byte), beats (µbeats), timestamp (ghost µs)
	keyEndpoint      = 0x6d657034 // "mep4": IPv4 address and port of the measurement endpoint
	keyHostTime      = 0x5f5f6874 // "__ht": sender's host time, µs
	keyGhostTime     = 0x5f5f6774 // "__gt": responder's ghost time, µs
	keyPrevGhostTime = 0x5f706774 // "_pgt": the ghost time of the previous pong, echoed back
)

// The sizes of the entries we understand; an entry of a known key with any other size makes the
// whole message invalid, as it does for Ableton's implementation.
var entrySize = map[uint32]uint32{
	keyTimeline: 24, keySession: 8, keyStartStop: 17, keyEndpoint: 6,
	keyHostTime: 8, keyGhostTime: 8, keyPrevGhostTime: 8,
}

var errMalformed = errors.New("malformed Link message")

// nodeID names a peer, and a session by the ID of the peer that founded it.
type nodeID [8]byte

// newNodeID returns a random ID of printable ASCII, as Ableton's peers make theirs, so that
// logs on both sides show the same text.
func newNodeID() nodeID {
	var id nodeID
	_, _ = rand.Read(id[:])
	for i := range id {
		id[i] = 33 + id[i]%94
	}
	return id
}

func (id nodeID) String() string { return hex.EncodeToString(id[:]) }

// less orders IDs byte by byte; it breaks ties between sessions of about the same age.
func (id nodeID) less(other nodeID) bool {
	for i := range id {
		if id[i] != other[i] {
			return id[i] < other[i]
		}
	}
	return false
}

// nodeState is what a peer announces: its session, that session's timeline and start/stop
// state (both on the session's ghost clock) and where to measure it.
type nodeState struct {
	session   nodeID
	timeline  timeline
	startStop startStop
	endpoint  netip.AddrPort
}

// discoveryMsg is a decoded discovery datagram.
type discoveryMsg struct {
	typ   byte
	ttl   byte // seconds the state stays valid
	group uint16
	from  nodeID
	state nodeState // for alive and response
}

// measureMsg is a decoded ping or pong. A zero field was absent (Link does the same).
type measureMsg struct {
	typ        byte
	session    nodeID
	hasSession bool
	hostTime   int64
	ghostTime  int64
	prevGhost  int64
	payload    []byte // the raw payload, which a pong echoes
}

// entries walks a payload and calls fn for each entry whose key it knows. It fails on a
// truncated entry header, a size that runs past the end, or a known key of the wrong size.
func entries(p []byte, fn func(key uint32, v []byte)) error {
	for len(p) > 0 {
		if len(p) < entryHeaderSize {
			return fmt.Errorf("%w: %d stray bytes", errMalformed, len(p))
		}
		key := binary.BigEndian.Uint32(p)
		size := binary.BigEndian.Uint32(p[4:])
		p = p[entryHeaderSize:]
		// Compared as uint64: on 32-bit platforms int(size) could wrap negative.
		if uint64(size) > uint64(len(p)) {
			return fmt.Errorf("%w: entry %#x of %d bytes in %d", errMalformed, key, size, len(p))
		}
		v := p[:size]
		p = p[size:]
		want, known := entrySize[key]
		if !known {
			continue // newer peers add entries (mep6, ...): skip what we do not know
		}
		if size != want {
			return fmt.Errorf("%w: entry %#x has %d bytes, want %d", errMalformed, key, size, want)
		}
		fn(key, v)
	}
	return nil
}

func i64(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

func decodeTimeline(v []byte) timeline {
	return timeline{
		tempo:      tempoFromMicros(i64(v)),
		beatOrigin: beats(i64(v[8:])),
		timeOrigin: i64(v[16:]),
	}
}

func decodeStartStop(v []byte) startStop {
	return startStop{playing: v[0] != 0, beats: beats(i64(v[1:])), timestamp: i64(v[9:])}
}

// decodeDiscovery parses a datagram received on the discovery port.
func decodeDiscovery(b []byte) (discoveryMsg, error) {
	var m discoveryMsg
	if len(b) > maxMessageSize || len(b) < discoveryHeaderSize || [8]byte(b[:8]) != discoveryMagic {
		return m, errMalformed
	}
	m.typ, m.ttl = b[8], b[9]
	m.group = binary.BigEndian.Uint16(b[10:])
	m.from = nodeID(b[12:20])
	switch m.typ {
	case msgAlive, msgResponse:
	case msgByeBye:
		return m, nil
	default:
		return m, fmt.Errorf("%w: discovery type %d", errMalformed, m.typ)
	}
	var seen uint8
	err := entries(b[discoveryHeaderSize:], func(key uint32, v []byte) {
		switch key {
		case keyTimeline:
			m.state.timeline = decodeTimeline(v)
			seen |= 1
		case keySession:
			m.state.session = nodeID(v)
			seen |= 2
		case keyStartStop:
			m.state.startStop = decodeStartStop(v)
		case keyEndpoint:
			addr := netip.AddrFrom4([4]byte(v[:4]))
			m.state.endpoint = netip.AddrPortFrom(addr, binary.BigEndian.Uint16(v[4:]))
			seen |= 4
		}
	})
	if err == nil && seen != 7 {
		// Ableton's peers take a state with entries missing, as zeros; we do not: every Link
		// version sends these three (start/stop came with Link 3), and a state cut short at an
		// entry boundary would otherwise move a peer into the zero session.
		err = fmt.Errorf("%w: state without timeline, session or endpoint", errMalformed)
	}
	return m, err
}

// decodeMeasure parses a datagram received on a measurement endpoint.
func decodeMeasure(b []byte) (measureMsg, error) {
	var m measureMsg
	if len(b) > maxMessageSize || len(b) < linkHeaderSize || [8]byte(b[:8]) != measureMagic {
		return m, errMalformed
	}
	m.typ = b[8]
	if m.typ != msgPing && m.typ != msgPong {
		return m, fmt.Errorf("%w: measurement type %d", errMalformed, m.typ)
	}
	m.payload = b[linkHeaderSize:]
	if m.typ == msgPing && len(m.payload) > maxPingPayload {
		return m, fmt.Errorf("%w: ping payload of %d bytes", errMalformed, len(m.payload))
	}
	err := entries(m.payload, func(key uint32, v []byte) {
		switch key {
		case keySession:
			m.session, m.hasSession = nodeID(v), true
		case keyHostTime:
			m.hostTime = i64(v)
		case keyGhostTime:
			m.ghostTime = i64(v)
		case keyPrevGhostTime:
			m.prevGhost = i64(v)
		}
	})
	return m, err
}

func appendEntry(b []byte, key uint32, size int) []byte {
	b = binary.BigEndian.AppendUint32(b, key)
	return binary.BigEndian.AppendUint32(b, uint32(size))
}

func appendInt(b []byte, key uint32, v int64) []byte {
	return binary.BigEndian.AppendUint64(appendEntry(b, key, 8), uint64(v))
}

// encodeDiscovery builds an alive, response or bye-bye (which carries no state).
func encodeDiscovery(typ, ttl byte, from nodeID, st nodeState) []byte {
	b := make([]byte, 0, 128)
	b = append(b, discoveryMagic[:]...)
	b = append(b, typ, ttl, 0, 0) // group 0: the only group Link uses
	b = append(b, from[:]...)
	if typ == msgByeBye {
		return b
	}
	b = appendEntry(b, keyTimeline, 24)
	b = binary.BigEndian.AppendUint64(b, uint64(st.timeline.tempo.microsPerBeat()))
	b = binary.BigEndian.AppendUint64(b, uint64(st.timeline.beatOrigin))
	b = binary.BigEndian.AppendUint64(b, uint64(st.timeline.timeOrigin))
	b = append(appendEntry(b, keySession, 8), st.session[:]...)
	b = appendEntry(b, keyStartStop, 17)
	playing := byte(0)
	if st.startStop.playing {
		playing = 1
	}
	b = append(b, playing)
	b = binary.BigEndian.AppendUint64(b, uint64(st.startStop.beats))
	b = binary.BigEndian.AppendUint64(b, uint64(st.startStop.timestamp))
	if st.endpoint.Addr().Is4() {
		b = appendEntry(b, keyEndpoint, 6)
		a := st.endpoint.Addr().As4()
		b = append(b, a[:]...)
		b = binary.BigEndian.AppendUint16(b, st.endpoint.Port())
	}
	return b
}

// encodePing builds a ping; prevGhost is omitted while zero (the first ping of a measurement).
func encodePing(hostTime, prevGhost int64) []byte {
	b := append(make([]byte, 0, linkHeaderSize+maxPingPayload), measureMagic[:]...)
	b = appendInt(append(b, msgPing), keyHostTime, hostTime)
	if prevGhost != 0 {
		b = appendInt(b, keyPrevGhostTime, prevGhost)
	}
	return b
}

// encodePong answers a ping: our session and ghost time, then the ping's payload verbatim.
func encodePong(session nodeID, ghostTime int64, pingPayload []byte) []byte {
	b := append(make([]byte, 0, 64), measureMagic[:]...)
	b = append(appendEntry(append(b, msgPong), keySession, 8), session[:]...)
	b = appendInt(b, keyGhostTime, ghostTime)
	return append(b, pingPayload...)
}
