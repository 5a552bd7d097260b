package appliance

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFullSendQueueClosesWith4001 stands a client whose writer is stuck (as when the phone stops
// reading and the socket's buffers are full, which loopback cannot be made to show quickly) and
// checks that enqueue never blocks and closes it with 4001 instead.
func TestFullSendQueueClosesWith4001(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames int
		frame  []byte
	}{
		{"frames", sendQueueLen + 1, []byte(`{"type":"x"}`)},
		{"bytes", sendQueueBytes/(16<<10) + 1, make([]byte, 16<<10)}, // a few big frames, far from sendQueueLen
	} {
		t.Run(tc.name, func(t *testing.T) { testStuckClient(t, tc.frames, tc.frame) })
	}
}

func testStuckClient(t *testing.T, frames int, frame []byte) {
	hub := &Hub{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	serverSide := make(chan *Client, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		c := newClient(hub, conn.NetConn(), "127.0.0.1")
		c.writing = true // as if a writer were stuck on a full socket: nothing drains the queue
		serverSide <- c
	}))
	defer srv.Close()
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := <-serverSide

	start := time.Now()
	for range frames {
		c.enqueue(frame)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("enqueue blocked for %v", d)
	}
	c.wmu.Lock()
	c.writing = false // the stuck write gives up (its deadline): the close frame goes out
	c.wmu.Unlock()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = peer.ReadMessage()
	if !websocket.IsCloseError(err, closeSlow) {
		t.Errorf("peer saw %v, want close 4001", err)
	}
	if hub.connectionErrors.Load() != 1 {
		t.Errorf("connection errors = %d, want 1", hub.connectionErrors.Load())
	}
	c.enqueue([]byte(`{}`)) // after the kick: dropped, no panic, no block
}
