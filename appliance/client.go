package appliance

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Timing and sizes of one connection (the hub's pinger sends pings; writes carry deadlines).
const (
	writeWait = 10 * time.Second // time allowed to write one frame
	// A phone that vanished without closing its socket must show as reconnecting within seconds.
	// Any frame counts as a sign of life (the web app sends clock pings several times a second),
	// so the server pings only a connection that has been quiet for pingPeriod: an idle phone's
	// radio is not woken for nothing.
	pongWait   = 12 * time.Second // a peer silent for this long is gone
	pingPeriod = 5 * time.Second  // must be well below pongWait
	// Sockets seated together would fall quiet together, and be pinged in one burst of writes
	// every pingPeriod (thousands under load, tens of ms of CPU that delay deliveries): each
	// socket's gap is shortened by a random part of pingSpread, and the pinger looks every quarter.
	pingSpread     = time.Second
	sendQueueLen   = 256              // frames queued for a client before it counts as stuck…
	sendQueueBytes = 256 << 10        // …or bytes: a reader that never reads must not pin memory
	kernelSendBuf  = 64 << 10         // the socket's own send buffer, which would otherwise absorb MiBs first
	readBufferSize = 1024             // per connection: client frames are a few hundred bytes
	joinWait       = 15 * time.Second // a connection that has not sat down by then is closed
	syncCost       = 5                // tokens a state:request-sync costs
	invalidInARow  = 10               // invalid frames in a row that close the connection

	closeTakenOver = 4002 // the seat was resumed by a newer connection
	closeSlow      = 4001 // the client did not read its frames fast enough
	closeNoSession = 4003 // the connection did not create or join a session within joinWait
	closeGoingAway = websocket.CloseGoingAway

	// Every frame a client sends costs a token, whatever it holds, from two budgets: its seat's
	// (so reconnecting does not refill it) and its device's (so opening more sockets does not
	// either). Past either, a request gets rate_limited. Every change costs an fsync, so one
	// flooding phone must not own the disk. A burst covers a reconnect flushing the changes
	// queued while offline; a device gets two seats' worth (a second tab) for every
	// DefaultMaxConnectionsPerDevice connections it may hold (see Config.deviceSeats).
	seatRate, seatBurst = 20, 100
)

// Client is one WebSocket connection. The goroutine handling its messages (see read.go) owns
// room, pid and invalid; anyone may send or kick.
//
// Writing. A server frame is the same bytes for every recipient (server frames are not masked),
// so a broadcast frames its message once (wsFrame) and every member's socket gets those bytes.
// A frame queued for an idle socket is written at once by whoever queues it, in one
// non-blocking write: with nothing waiting, that is one syscall per delivery, with no channel,
// no goroutine to wake and no buffer kept per connection. Only when the kernel's send buffer is
// full (a phone reading slowly) do frames wait in pending, and a writer goroutine, started then
// and gone once pending is empty, writes everything waiting in one write, under writeWait.
// All data and control frames go this way (pings, pongs, the close frame), so no two writes of
// ours ever interleave on the socket.
type Client struct {
	hub      *Hub
	nc       net.Conn
	raw      syscall.RawConn // the socket, for non-blocking reads and writes; nil: use nc
	remoteIP string
	device   string        // deviceKey(remoteIP): what the door's caps and limits count by
	done     chan struct{} // closed by kick: nothing more is written but the close frame
	closed   chan struct{} // closed once kick has closed the socket

	wmu          sync.Mutex
	pending      []queued // frames (or the rest of one) waiting for the socket, oldest first
	pendingBytes int
	writing      bool // a goroutine owns the socket's write side (the writer, or kick's close)
	dropped      bool // kicked: frames are dropped

	reading // read.go

	room *Room // the session this connection is seated in, or nil
	pid  string

	lastRead atomic.Int64  // unix ns of the last bytes read, for the hub's pings
	lastPing atomic.Int64  // unix ns of the last ping sent
	pingGap  time.Duration // quiet this long, it is pinged: pingPeriod less up to pingSpread
	satDown  atomic.Bool   // it created or joined a session at least once
	invalid  int           // invalid frames in a row

	kickOnce sync.Once
}

func newClient(h *Hub, nc net.Conn, remoteIP string) *Client {
	c := &Client{hub: h, nc: nc, remoteIP: remoteIP, device: deviceKey(remoteIP),
		done: make(chan struct{}), closed: make(chan struct{})}
	c.rd.limit = MaxFrameBytes
	c.pingGap = pingPeriod - rand.N(pingSpread)
	c.lastRead.Store(time.Now().UnixNano())
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetWriteBuffer(kernelSendBuf)
		c.raw, _ = tcp.SyscallConn()
	}
	return c
}

// inSession reports whether c holds a seat: it sat down, and the seat was not taken over or
// removed since. Called only where c's messages are handled (read.go).
func (c *Client) inSession() bool { return c.room != nil && c.room.holds(c) }

// seat records which seat this connection holds. Called only where c's messages are handled
// (join, create and leave run there).
func (c *Client) seat(r *Room, pid string) {
	c.room, c.pid = r, pid
	if r != nil {
		c.satDown.Store(true)
	}
}

// wsFrame frames payload as one WebSocket message of type op (the same bytes for every
// recipient: server frames are not masked).
func wsFrame(op int, payload []byte) []byte {
	n := len(payload)
	var f []byte
	switch {
	case n < 126:
		f = append(make([]byte, 0, 2+n), byte(0x80|op), byte(n))
	case n <= 0xffff:
		f = append(make([]byte, 0, 4+n), byte(0x80|op), 126, byte(n>>8), byte(n))
	default:
		f = append(make([]byte, 0, 10+n), byte(0x80|op), 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(f, payload...)
}

// enqueue queues a text message (one JSON frame) without blocking. A client whose queue is
// full, in frames or in bytes, is closed, and will resume and resync when it reconnects.
func (c *Client) enqueue(msg []byte) { c.send(textFrame(msg), time.Now()) }

// textFrame frames msg (one JSON frame) as a WebSocket text message.
func textFrame(msg []byte) []byte { return wsFrame(websocket.TextMessage, msg) }

// send writes a framed message now if the socket takes it without blocking, or queues it.
func (c *Client) send(frame []byte, at time.Time) {
	c.wmu.Lock()
	if c.dropped {
		c.wmu.Unlock()
		return
	}
	if c.writing || len(c.pending) > 0 || c.raw == nil {
		if len(c.pending) >= sendQueueLen || c.pendingBytes+len(frame) > sendQueueBytes {
			c.wmu.Unlock()
			c.tooSlow()
			return
		}
		c.pending = append(c.pending, queued{frame, at})
		c.pendingBytes += len(frame)
		start := !c.writing
		c.writing = true
		c.wmu.Unlock()
		if start {
			go c.writer()
		}
		return
	}
	n, err := c.tryWrite(frame)
	if err != nil {
		c.wmu.Unlock()
		c.kick(websocket.CloseAbnormalClosure, "")
		return
	}
	if n == len(frame) {
		c.wmu.Unlock()
		c.hub.metrics.sent(at)
		return
	}
	// The kernel's send buffer is full: the rest waits for the writer.
	c.pending = append(c.pending, queued{frame[n:], at})
	c.pendingBytes += len(frame) - n
	c.writing = true
	c.wmu.Unlock()
	go c.writer()
}

// tryWrite makes one non-blocking write of frame to the socket; it returns how much was written
// (0 when the send buffer is full). Call with wmu held and no writer running.
func (c *Client) tryWrite(frame []byte) (n int, err error) {
	var errno syscall.Errno
	err = c.raw.Write(func(fd uintptr) bool {
		n, errno = rawWrite(fd, frame)
		return true // written or not, never wait here
	})
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return n, nil
}

// writer writes what is pending until nothing is, each round in one write bounded by writeWait,
// then leaves: an idle connection has no writer goroutine.
func (c *Client) writer() {
	var bufs net.Buffers
	for {
		c.wmu.Lock()
		batch := c.pending
		if c.dropped || len(batch) == 0 {
			c.pending, c.pendingBytes, c.writing = nil, 0, false
			c.wmu.Unlock()
			return
		}
		c.pending, c.pendingBytes = nil, 0
		c.wmu.Unlock()
		bufs = bufs[:0]
		for _, q := range batch {
			bufs = append(bufs, q.frame)
		}
		c.nc.SetWriteDeadline(time.Now().Add(writeWait))
		_, err := bufs.WriteTo(c.nc)
		c.nc.SetWriteDeadline(time.Time{})
		if err != nil {
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			c.kick(websocket.CloseAbnormalClosure, "")
			return
		}
		for _, q := range batch {
			c.hub.metrics.sent(q.at)
		}
	}
}

// ping sends a ping to a connection not heard from for its pingGap, at most once a pingGap,
// and closes one not heard from for pongWait (the hub's pinger calls it for every connection).
func (c *Client) ping(now time.Time) {
	if now.Sub(time.Unix(0, c.lastRead.Load())) > pongWait && !c.handling() {
		c.hub.connectionErrors.Add(1)
		c.kick(websocket.CloseNormalClosure, "") // gone without closing: its seat shows as reconnecting
		return
	}
	if now.Sub(time.Unix(0, c.lastRead.Load())) < c.pingGap || now.Sub(time.Unix(0, c.lastPing.Load())) < c.pingGap {
		return
	}
	c.lastPing.Store(now.UnixNano())
	c.send(pingFrame, now)
}

var pingFrame = wsFrame(websocket.PingMessage, nil)

func (c *Client) tooSlow() {
	select {
	case <-c.done:
		return // closed already
	default:
	}
	c.hub.connectionErrors.Add(1)
	c.hub.metrics.slowClient()
	c.hub.log.Warn("closing a client that is not reading; it will reconnect and resync", "remote", c.remoteIP)
	c.kick(closeSlow, "too slow: reconnect to resync")
}

// kick closes the connection with a close code; safe from any goroutine, once. It never
// blocks its caller (often a room, mid-broadcast) on the peer's socket: the close frame goes out
// from a goroutine of its own once the socket is free (within a second), then the socket closes
// and the connection ends (see finish).
func (c *Client) kick(code int, reason string) {
	c.kickOnce.Do(func() {
		close(c.done)
		c.wmu.Lock()
		c.dropped = true
		c.pending, c.pendingBytes = nil, 0
		c.wmu.Unlock()
		go func() {
			deadline := time.Now().Add(time.Second)
			c.nc.SetWriteDeadline(deadline) // a writer stuck on a full socket gives up by then
			for {
				c.wmu.Lock()
				free := !c.writing
				c.writing = true
				c.wmu.Unlock()
				if free {
					c.nc.SetWriteDeadline(deadline)
					c.nc.Write(wsFrame(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason)))
					break
				}
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Closing a socket with unread data in it sends a reset, and the browser would see
			// 1006 instead of our code: wait (until the deadline) for the peer to close its side.
			if tcp, ok := c.nc.(*net.TCPConn); ok && tcp.CloseWrite() == nil {
				tcp.SetReadDeadline(deadline)
				io.Copy(io.Discard, tcp)
			}
			c.nc.Close()
			c.finish()
		}()
	})
}
