package appliance

import (
	"bytes"
	"encoding/binary"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Reading. Where the hub has a poller (Linux: poller_linux.go), no goroutine waits on an idle
// socket: the poller reads every socket that has data, parses its frames (frameReader) and
// queues the messages in the connection's inbox. A goroutine of the connection's, started when
// a message arrives and gone once the inbox is empty (work), handles them one at a time and in
// order: a change may wait for the disk without holding up anyone else's socket. An idle
// connection costs its Client and nothing else: no stack, no read buffer.
//
// Elsewhere (readLoop) a goroutine per connection reads the socket and handles each message
// itself, as it comes.

// goroutineReads makes new hubs read with a goroutine per connection even where there is epoll:
// for the tests of that path.
var goroutineReads bool

// Bounds of what a connection's reading holds. Past inboxMax messages or inboxMaxBytes waiting (a
// device flooding), its socket is not read until they are handled, so the flood waits in the
// kernel's buffers and the sender's. A read takes at most pollBufferSize (a larger message comes
// in several), and the poller reads a socket at most readsPerWake times before it serves the
// others. With one read's messages and a frame's start on top of a full inbox, a connection
// holds at most about 80 KiB of what it sent.
const (
	inboxMax       = 64
	inboxMaxBytes  = 32 << 10
	inboundCost    = 64 // bytes counted per queued message on top of its payload
	pollBufferSize = 4 << 10
	readsPerWake   = 16
)

// inbound is a message or control frame read from the client, or (op opEnd) the end of what it
// sends: why is the close code and reason to answer with.
type inbound struct {
	op      byte
	payload []byte
	why     *frameError // opEnd only
}

const opEnd = 0xff

// peerGone ends a socket that closed or failed without a close frame (as gorilla's 1006 did, it
// counts as a connection error).
var peerGone = &frameError{websocket.CloseNormalClosure, ""}

// reading is a Client's read side.
type reading struct {
	rmu    sync.Mutex  // held while reading the socket: serialises the poller and work
	rd     frameReader // under rmu
	readTo bool        // under rmu: the end of the socket was read (or its frames broke the protocol)
	imu    sync.Mutex  // guards the fields below; those above the inbox are set once, by start
	polled bool        // the hub's poller reads the socket
	pollID int32       // its id in the poller
	idle   *time.Timer // closes a connection that has not sat down within joinWait
	onEnd  func()      // runs once, when the connection has ended (see finish)
	inbox  []inbound   // read, not yet handled, oldest first
	queued int         // bytes in inbox: payloads, and inboundCost each
	busy   bool        // a goroutine is handling the inbox (work)
	paused bool        // the socket is not read until the inbox drains
	ended  bool        // the socket is closed: handle what is left, then end
}

// start runs the connection once the hub has registered it. onEnd runs once it has ended: its
// socket closed and every message it sent handled.
func (c *Client) start(onEnd func()) {
	c.imu.Lock()
	c.onEnd = onEnd
	c.idle = time.AfterFunc(joinWait, func() {
		if !c.satDown.Load() {
			c.kick(closeNoSession, "create or join a session")
		}
	})
	if c.ended { // kicked (the hub is closing) and closed already
		c.imu.Unlock()
		c.end()
		return
	}
	p := c.hub.poller
	c.polled = p != nil && c.raw != nil && p.add(c) == nil
	c.imu.Unlock()
	if !c.polled {
		go c.readLoop()
	}
}

// readLoop reads and handles the connection's messages until its socket closes, where there is
// no poller.
func (c *Client) readLoop() {
	buf := make([]byte, readBufferSize)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 && !c.kicked() {
			c.lastRead.Store(time.Now().UnixNano())
			if why := c.rd.feed(buf[:n], c.handleFrame); why != nil {
				c.receive(inbound{op: opEnd, why: why})
				break
			}
		}
		if err != nil {
			c.receive(inbound{op: opEnd, why: peerGone})
			break
		}
	}
	<-c.closed
	c.end()
}

func (c *Client) handleFrame(op byte, payload []byte) bool {
	return c.receive(inbound{op: op, payload: payload})
}

// readSocket reads what the socket holds into buf and queues the messages in it: until a short
// read (the socket is drained: the next data will wake the poller again), or with drain until the
// kernel has nothing more (after a hang-up, so that its end is seen; or after a pause, when the
// poller's wake-ups were passed over). It stops while the inbox is full, and after readsPerWake
// full reads, reporting more: the socket may hold more, and no wake-up will say so.
func (c *Client) readSocket(buf []byte, drain bool) (more bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for reads := 0; !c.readTo; reads++ {
		if reads == readsPerWake {
			return true
		}
		c.imu.Lock()
		c.paused = len(c.inbox) >= inboxMax || c.queued >= inboxMaxBytes
		paused := c.paused
		c.imu.Unlock()
		if paused {
			return false
		}
		var n int
		var errno syscall.Errno
		if err := c.raw.Read(func(fd uintptr) bool {
			n, errno = rawRead(fd, buf)
			return true // never wait: the poller says when there is more
		}); err != nil {
			errno = syscall.EBADF // closed by kick: its end is on its way
		}
		if errno == syscall.EAGAIN {
			return false
		}
		if errno != 0 || n == 0 {
			c.readTo = true
			c.queue(opEnd, nil, peerGone)
			return false
		}
		c.lastRead.Store(time.Now().UnixNano())
		if why := c.rd.feed(buf[:n], c.queueFrame); why != nil {
			c.readTo = true
			c.queue(opEnd, nil, why)
			return false
		}
		if c.kicked() { // what follows is not handled: stop reading
			c.readTo = true
			return false
		}
		if n < len(buf) && !drain {
			return false
		}
	}
	return false
}

// queueFrame queues a message for work, or handles it at once when it is cheap and nothing of
// the connection's is waiting: pongs, pings, and the web app's clock pings (several a second
// from every phone) then cost no goroutine. It runs with rmu held, and while the inbox is idle no
// goroutine handles the connection and none can start but through this reader: handling the
// message here keeps the order, and owns what work would. Only a request that decodes as a
// clock:ping (or not at all) is handled here: anything else may wait for the disk.
func (c *Client) queueFrame(op byte, payload []byte) bool {
	cheap := op == opPing || op == opPong || op == opText && bytes.HasPrefix(payload, clockPingPrefix)
	if cheap {
		c.imu.Lock()
		cheap = !c.busy
		c.imu.Unlock()
	}
	switch {
	case !cheap || c.kicked():
	case op != opText:
		return c.receive(inbound{op: op, payload: payload})
	case utf8.Valid(payload):
		req, err := DecodeRequest(payload)
		if _, ping := req.Data.(*PingData); ping || err != nil {
			c.request(req, err)
			return true
		}
	}
	c.queue(op, payload, nil)
	return true
}

// clockPingPrefix starts a clock:ping as the web app writes it (session/connection.ts); another
// spelling is handled by work, as any message.
var clockPingPrefix = []byte(`{"type":"clock:ping"`)

// queue adds a message to the inbox, and starts a goroutine to handle it when none is. After
// the socket closed, nothing more is taken.
func (c *Client) queue(op byte, payload []byte, why *frameError) {
	c.imu.Lock()
	if c.ended {
		c.imu.Unlock()
		return
	}
	c.inbox = append(c.inbox, inbound{op, payload, why})
	c.queued += len(payload) + inboundCost
	start := !c.busy
	c.busy = true
	c.imu.Unlock()
	if start {
		go c.work()
	}
}

// readBufs are read buffers for work, which reads a socket it paused (the poller has its own).
var readBufs = sync.Pool{New: func() any { b := make([]byte, pollBufferSize); return &b }}

// work handles the inbox until it is empty, then returns; it ends the connection if its socket
// has closed. One runs at a time per connection.
func (c *Client) work() {
	for {
		c.imu.Lock()
		if len(c.inbox) == 0 {
			if c.paused && !c.ended {
				c.paused = false
				c.imu.Unlock()
				buf := readBufs.Get().(*[]byte)
				for c.readSocket(*buf, true) {
				}
				readBufs.Put(buf)
				continue
			}
			c.busy = false
			ended := c.ended
			c.imu.Unlock()
			if ended {
				c.end()
			}
			return
		}
		m := c.inbox[0]
		c.inbox[0] = inbound{}
		c.inbox = c.inbox[1:]
		c.queued -= len(m.payload) + inboundCost
		if len(c.inbox) == 0 {
			c.inbox = nil // an idle connection keeps no array
		}
		c.imu.Unlock()
		c.receive(m)
	}
}

// finish runs once kick has closed the socket. A polled connection ends once its inbox is
// handled (after any read in progress has queued what it read; later reads fail); readLoop
// ends its own.
func (c *Client) finish() {
	close(c.closed)
	c.rmu.Lock()
	c.rmu.Unlock()
	c.imu.Lock()
	c.ended = true
	start := c.polled && !c.busy
	c.busy = c.busy || start
	c.imu.Unlock()
	if start {
		go c.work()
	}
}

// end gives up the connection's seat (it shows as reconnecting) and runs onEnd.
func (c *Client) end() {
	c.idle.Stop()
	if c.polled {
		c.hub.poller.forget(c)
	}
	if c.room != nil {
		c.room.drop(c)
	}
	if c.onEnd != nil {
		c.onEnd()
	}
}

// handling reports whether the connection has messages waiting to be handled, or one being
// handled: it is not silent, only queued behind its own requests (its socket is not read while
// its inbox is full).
func (c *Client) handling() bool {
	c.imu.Lock()
	defer c.imu.Unlock()
	return c.busy || c.paused
}

// kicked reports whether the connection is closing: what the client sends now is not handled.
func (c *Client) kicked() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// receive handles one message or control frame from the client, in order. It returns false when
// the connection is done: whatever the client sends after that is not handled.
func (c *Client) receive(m inbound) bool {
	if c.kicked() {
		return false
	}
	switch m.op {
	case opEnd:
		c.hub.connectionErrors.Add(1)
		c.kick(m.why.code, m.why.reason)
		return false
	case opPing:
		c.send(wsFrame(websocket.PongMessage, m.payload), time.Now())
		return true
	case opPong:
		return true
	case opClose:
		code := closeCode(m.payload)
		if len(m.payload) > 2 && !utf8.Valid(m.payload[2:]) {
			code = websocket.CloseInvalidFramePayloadData // the reason must be text
		}
		if code != websocket.CloseNormalClosure && code != websocket.CloseGoingAway && code != websocket.CloseNoStatusReceived {
			c.hub.connectionErrors.Add(1)
		}
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		c.kick(code, "") // the answer, and the only close frame we send (browsers refuse a second)
		return false
	case opText:
		if !utf8.Valid(m.payload) {
			c.kick(websocket.CloseInvalidFramePayloadData, "text must be UTF-8")
			return false
		}
	}
	if m.op != opText {
		return c.request(Request{}, Errorf(EINVALIDMESSAGE, "Messages must be JSON text, not binary."))
	}
	return c.request(DecodeRequest(m.payload))
}

// request answers one decoded request (or the error decoding it), within the budgets.
func (c *Client) request(req Request, err error) bool {
	budget := c.spend(1)
	if err != nil {
		if c.invalid++; c.invalid >= invalidInARow {
			c.kick(websocket.ClosePolicyViolation, "too many invalid messages")
			return false
		}
		c.hub.metrics.rejectedFrame(err)
		if budget { // past the budget, junk is not even answered
			c.enqueue(errorFrame(req.ID, err))
		}
		return true
	}
	c.invalid = 0
	if _, sync := req.Data.(*RequestSyncData); budget && sync {
		budget = c.spend(syncCost - 1) // the whole state: the largest frame there is
	}
	if !budget {
		err := Errorf(ERATELIMITED, "Slow down: this device is sending too many messages. Nothing was changed.")
		c.hub.metrics.rejectedFrame(err)
		c.enqueue(errorFrame(req.ID, err))
		return true
	}
	c.hub.handle(c, req)
	return true
}

// closeCode is the status code of a close frame's payload: 1005 when it has none, and 1002
// (protocol error) for one a client may not send (RFC 6455 §7.4).
func closeCode(payload []byte) int {
	if len(payload) == 0 {
		return websocket.CloseNoStatusReceived
	}
	if len(payload) < 2 {
		return websocket.CloseProtocolError
	}
	switch code := int(binary.BigEndian.Uint16(payload)); {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return code
	}
	return websocket.CloseProtocolError
}

// spend takes n tokens from the device's budget and, when c holds a seat, from the seat's; it
// reports false when either ran out.
func (c *Client) spend(n int) bool {
	now := c.hub.now()
	seats := float64(c.hub.cfg.deviceSeats())
	for range n {
		if !c.hub.buckets.take("d/"+c.device, seats*seatRate, seats*seatBurst, now) ||
			c.pid != "" && !c.hub.buckets.take("s/"+c.pid, seatRate, seatBurst, now) {
			return false
		}
	}
	return true
}
