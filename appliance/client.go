package appliance

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Timing and sizes of one connection (the writer owns pings and deadlines).
const (
	writeWait = 10 * time.Second // time allowed to write one frame
	// A phone that vanished without closing its socket must show as reconnecting within seconds.
	// Any frame counts as a sign of life (the web app sends clock pings several times a second),
	// so the server pings only a connection that has been quiet for pingPeriod: an idle phone's
	// radio is not woken for nothing.
	pongWait       = 12 * time.Second // a peer silent for this long is gone
	pingPeriod     = 5 * time.Second  // must be well below pongWait
	sendQueueLen   = 256              // frames queued for a client before it counts as stuck…
	sendQueueBytes = 256 << 10        // …or bytes: a reader that never reads must not pin memory
	kernelSendBuf  = 64 << 10         // the socket's own send buffer, which would otherwise absorb MiBs first
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

// Client is one WebSocket connection. Its read goroutine owns room and pid; its write
// goroutine alone writes data frames; anyone may enqueue or kick.
type Client struct {
	hub      *Hub
	conn     *websocket.Conn
	remoteIP string
	device   string // deviceKey(remoteIP): what the door's caps and limits count by
	send     chan queued
	queued   atomic.Int64  // bytes in send
	done     chan struct{} // closed by kick: the writer stops, the connection is closed

	room *Room // the session this connection is seated in, or nil
	pid  string

	lastRead atomic.Int64 // unix ns of the last frame or pong read, for the writer's pings
	satDown  atomic.Bool  // it created or joined a session at least once
	invalid  int          // invalid frames in a row (read goroutine only)

	kickOnce sync.Once
}

func newClient(h *Hub, conn *websocket.Conn, remoteIP string) *Client {
	if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
		tcp.SetWriteBuffer(kernelSendBuf)
	}
	return &Client{hub: h, conn: conn, remoteIP: remoteIP, device: deviceKey(remoteIP),
		send: make(chan queued, sendQueueLen), done: make(chan struct{})}
}

// inSession reports whether c holds a seat: it sat down, and the seat was not taken over or
// removed since. Called on the read goroutine only.
func (c *Client) inSession() bool { return c.room != nil && c.room.holds(c) }

// seat records which seat this connection holds. Called on the read goroutine only
// (join, create and leave run there).
func (c *Client) seat(r *Room, pid string) {
	c.room, c.pid = r, pid
	if r != nil {
		c.satDown.Store(true)
	}
}

// enqueue queues a frame without blocking; a client whose queue is full, in frames or in bytes,
// is closed, and will resume and resync when it reconnects.
func (c *Client) enqueue(frame []byte) {
	if c.queued.Add(int64(len(frame))) > sendQueueBytes {
		c.tooSlow()
		return
	}
	select {
	case c.send <- queued{frame, time.Now()}:
	case <-c.done:
	default:
		c.tooSlow()
	}
}

func (c *Client) tooSlow() {
	select {
	case <-c.done:
		return // closed already
	default:
	}
	c.hub.connectionErrors.Add(1)
	c.hub.metrics.slowClient()
	c.hub.log.Warn("closing a client that is not reading; it will reconnect and resync", "remote", c.remoteIP, "participant", c.pid)
	c.kick(closeSlow, "too slow: reconnect to resync")
}

// kick closes the connection with a close code; safe from any goroutine, once. It never
// blocks its caller (often a room, mid-broadcast) on the peer's socket.
func (c *Client) kick(code int, reason string) {
	c.kickOnce.Do(func() {
		close(c.done)
		go func() {
			msg := websocket.FormatCloseMessage(code, reason)
			_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			c.conn.Close()
		}()
	})
}

// serve runs the connection: the writer in a goroutine, the reader here until the peer goes.
// A connection that has not sat down within joinWait is closed: an idle socket costs memory.
func (c *Client) serve() {
	idle := time.AfterFunc(joinWait, func() {
		if !c.satDown.Load() {
			c.kick(closeNoSession, "create or join a session")
		}
	})
	defer idle.Stop()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writePump()
	}()
	c.readPump()
	c.kick(websocket.CloseNormalClosure, "")
	<-writerDone
}

func (c *Client) readPump() {
	defer func() {
		if c.room != nil {
			c.room.drop(c)
		}
	}()
	c.conn.SetReadLimit(MaxFrameBytes)
	alive := func() error {
		c.lastRead.Store(time.Now().UnixNano())
		return c.conn.SetReadDeadline(time.Now().Add(pongWait))
	}
	alive()
	c.conn.SetPongHandler(func(string) error { return alive() })
	for {
		kind, frame, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || (ce.Code != websocket.CloseNormalClosure && ce.Code != websocket.CloseGoingAway) {
				select {
				case <-c.done: // we closed it ourselves
				default:
					c.hub.connectionErrors.Add(1)
				}
			}
			return
		}
		alive()
		if kind == websocket.TextMessage && !utf8.Valid(frame) {
			c.kick(websocket.CloseInvalidFramePayloadData, "text must be UTF-8")
			return
		}
		budget := c.spend(1)
		var req Request
		if kind != websocket.TextMessage {
			err = Errorf(EINVALIDMESSAGE, "Messages must be JSON text, not binary.")
		} else {
			req, err = DecodeRequest(frame)
		}
		if err != nil {
			if c.invalid++; c.invalid >= invalidInARow {
				c.kick(websocket.ClosePolicyViolation, "too many invalid messages")
				return
			}
			c.hub.metrics.rejectedFrame(err)
			if budget { // past the budget, junk is not even answered
				c.enqueue(errorFrame(req.ID, err))
			}
			continue
		}
		c.invalid = 0
		if _, sync := req.Data.(*RequestSyncData); budget && sync {
			budget = c.spend(syncCost - 1) // the whole state: the largest frame there is
		}
		if !budget {
			err := Errorf(ERATELIMITED, "Slow down: this device is sending too many messages. Nothing was changed.")
			c.hub.metrics.rejectedFrame(err)
			c.enqueue(errorFrame(req.ID, err))
			continue
		}
		c.hub.handle(c, req)
	}
}

// spend takes n tokens from the device's budget and, when c holds a seat, from the seat's; it
// reports false when either ran out. Read goroutine only.
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

func (c *Client) writePump() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case q := <-c.send:
			c.queued.Add(-int64(len(q.frame)))
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, q.frame); err != nil {
				c.kick(websocket.CloseAbnormalClosure, "")
				return
			}
			c.hub.metrics.sent(q.at)
		case <-ping.C:
			if time.Since(time.Unix(0, c.lastRead.Load())) < pingPeriod {
				continue // heard from it just now
			}
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.kick(websocket.CloseAbnormalClosure, "")
				return
			}
		}
	}
}
