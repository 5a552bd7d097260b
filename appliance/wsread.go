package appliance

import "encoding/binary"

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// WebSocket close codes the reader answers a broken frame with (RFC 6455 §7.4.1).
const (
	closeProtocolError = 1002
	closeTooBig        = 1009
)

// frameError is a client's breach of RFC 6455: the connection is closed with code.
type frameError struct {
	code   int
	reason string
}

// frameReader turns the bytes a client sends into whole messages and control frames as they
// arrive. A socket is read only when it has data (see poller_linux.go), so a frame may come in
// several pieces, or several frames in one read: the reader keeps the start of an unfinished
// frame, and nothing at all between frames, so an idle socket holds no buffer.
type frameReader struct {
	limit   int    // the largest message payload allowed
	partial []byte // the start of a frame not yet whole; nil between frames
	msg     []byte // a fragmented message's payload so far
	msgOp   byte   // its opcode; 0 when no fragmented message is open
}

// feed parses data, which it does not keep, and calls each for every whole message (text or
// binary, fragments joined) and every control frame, in order, with a payload each may keep.
// each returns false when the connection is done: feed stops there. A breach of the protocol is
// returned (after each was called for everything before it); the reader must not be fed after.
func (r *frameReader) feed(data []byte, each func(op byte, payload []byte) bool) *frameError {
	owned := false // data is r.partial's buffer, sized for its frame once the header came
	if len(r.partial) > 0 {
		data, owned = append(r.partial, data...), true
		r.partial = nil
	}
	for len(data) > 0 {
		fin, op, payload, n, size, ferr := r.frame(data)
		if ferr != nil {
			return ferr
		}
		if n == 0 { // not whole yet: keep what came, in a buffer with room for the whole frame
			if owned && cap(data) >= size {
				r.partial = data // a frame trickling in is appended in place, not copied again
			} else {
				r.partial = append(make([]byte, 0, max(size, len(data))), data...)
			}
			return nil
		}
		data = data[n:]
		switch {
		case op >= opClose:
			if !each(op, payload) {
				return nil
			}
		case op == opContinuation:
			if r.msgOp == 0 {
				return &frameError{closeProtocolError, "continuation frame without a message"}
			}
			r.msg = append(r.msg, payload...)
			if fin {
				op, msg := r.msgOp, r.msg
				r.msgOp, r.msg = 0, nil
				if !each(op, msg) {
					return nil
				}
			}
		case r.msgOp != 0:
			return &frameError{closeProtocolError, "new message inside a fragmented one"}
		case fin:
			if !each(op, payload) {
				return nil
			}
		default:
			r.msgOp, r.msg = op, payload
		}
	}
	return nil
}

// frame parses the frame at the start of b. n is 0 when b does not hold all of it yet, and size
// is then the frame's whole length if its header has come (else 0); the payload is unmasked into
// a slice of its own.
func (r *frameReader) frame(b []byte) (fin bool, op byte, payload []byte, n, size int, ferr *frameError) {
	if len(b) < 2 {
		return false, 0, nil, 0, 0, nil
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0f
	switch {
	case b[0]&0x70 != 0:
		return false, 0, nil, 0, 0, &frameError{closeProtocolError, "reserved bits set"}
	case op > opBinary && op < opClose || op > opPong:
		return false, 0, nil, 0, 0, &frameError{closeProtocolError, "unknown opcode"}
	case b[1]&0x80 == 0:
		return false, 0, nil, 0, 0, &frameError{closeProtocolError, "a client's frames must be masked"}
	}
	length, head := uint64(b[1]&0x7f), 2
	switch length {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0, 0, nil
		}
		length, head = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0, 0, nil
		}
		length, head = binary.BigEndian.Uint64(b[2:]), 10
		if length>>63 != 0 {
			return false, 0, nil, 0, 0, &frameError{closeProtocolError, "length out of range"}
		}
	}
	if op >= opClose && (!fin || length > 125) {
		return false, 0, nil, 0, 0, &frameError{closeProtocolError, "control frames are short and whole"}
	}
	if op < opClose && length > uint64(r.limit-len(r.msg)) {
		return false, 0, nil, 0, 0, &frameError{closeTooBig, "message too big"}
	}
	end := head + 4 + int(length)
	if len(b) < end {
		return false, 0, nil, 0, end, nil
	}
	key := b[head : head+4]
	payload = make([]byte, length)
	for i, c := range b[head+4 : end] {
		payload[i] = c ^ key[i&3]
	}
	return fin, op, payload, end, end, nil
}
