package appliance

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

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
	sendQueueLen   = 256              // frames queued for a client before it counts as stuck
	closeTakenOver = 4002             // the seat was resumed by a newer connection
	closeSlow      = 4001             // the client did not read its frames fast enough
	closeGoingAway = websocket.CloseGoingAway

	// A client may send requestRate requests a second on average, in bursts of up to
	// requestBurst (a reconnect flushes the changes queued while offline); past that it gets
	// rate_limited. Every change costs an fsync, so one flooding phone must not own the disk.
	requestRate  = 20
	requestBurst = 100
)

// Client is one WebSocket connection. Its read goroutine owns room and pid; its write
// goroutine alone writes data frames; anyone may enqueue or kick.
type Client struct {
	hub      *Hub
	conn     *websocket.Conn
	remoteIP string
	send     chan queued
	done     chan struct{} // closed by kick: the writer stops, the connection is closed

	room *Room // the session this connection is seated in, or nil
	pid  string

	lastRead  atomic.Int64 // unix ns of the last frame or pong read, for the writer's pings
	tokens    float64      // request budget left (read goroutine only)
	tokenTime time.Time    // when tokens was last topped up

	kickOnce sync.Once
}

func newClient(h *Hub, conn *websocket.Conn, remoteIP string) *Client {
	return &Client{hub: h, conn: conn, remoteIP: remoteIP, send: make(chan queued, sendQueueLen), done: make(chan struct{})}
}

// inSession reports whether c holds a seat: it sat down, and the seat was not taken over or
// removed since. Called on the read goroutine only.
func (c *Client) inSession() bool { return c.room != nil && c.room.holds(c) }

// seat records which seat this connection holds. Called on the read goroutine only
// (join, create and leave run there).
func (c *Client) seat(r *Room, pid string) { c.room, c.pid = r, pid }

// enqueue queues a frame without blocking; a client whose queue is full is closed, and
// will resume and resync when it reconnects.
func (c *Client) enqueue(frame []byte) {
	select {
	case c.send <- queued{frame, time.Now()}:
	case <-c.done:
	default:
		c.hub.metrics.slowClient()
		c.hub.connectionErrors.Add(1)
		c.hub.log.Warn("closing a client that is not reading", "remote", c.remoteIP, "participant", c.pid)
		c.kick(closeSlow, "too slow: reconnect to resync")
	}
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
func (c *Client) serve() {
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
		if kind != websocket.TextMessage {
			c.hub.metrics.rejectedFrame(errNotAMessage())
			c.enqueue(errorFrame("", Errorf(EINVALIDMESSAGE, "Messages must be JSON text, not binary.")))
			continue
		}
		req, err := DecodeRequest(frame)
		if err == nil && !c.takeToken() {
			err = Errorf(ERATELIMITED, "Slow down: this device is sending too many messages. Nothing was changed.")
		}
		if err != nil {
			c.hub.metrics.rejectedFrame(err)
			c.enqueue(errorFrame(req.ID, err))
			continue
		}
		c.hub.handle(c, req)
	}
}

// takeToken spends one request from the client's budget (a token bucket), if any is left.
func (c *Client) takeToken() bool {
	now := time.Now()
	if c.tokenTime.IsZero() {
		c.tokens = requestBurst
	} else {
		c.tokens = min(requestBurst, c.tokens+now.Sub(c.tokenTime).Seconds()*requestRate)
	}
	c.tokenTime = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
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
