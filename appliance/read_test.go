package appliance_test

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"jamd/appliance"
)

// TestReadingSockets drives the read side through a real socket, with the hub's poller and with a
// goroutine per connection (where there is no epoll): fragmented messages, client pings, a flood
// that outruns the handler, a close frame, and a socket that ends right after a message.
func TestReadingSockets(t *testing.T) {
	for _, mode := range []string{"poller", "goroutine per connection"} {
		t.Run(mode, func(t *testing.T) {
			if mode != "poller" {
				appliance.ReadWithGoroutines(t)
			}
			ts := MustServer(t, appliance.Config{})
			defer ts.Close(t)
			host := ts.Dial(t)
			code := host.MustCreate("Ana").RoomCode

			// A 2 KiB request written in 256-byte fragments, with a ping between two of them.
			conn, _, err := (&websocket.Dialer{WriteBufferSize: 256}).Dial("ws://"+ts.Addr+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			pong := make(chan string, 1)
			conn.SetPongHandler(func(s string) error { pong <- s; return nil })
			w, _ := conn.NextWriter(websocket.TextMessage)
			join := `{"type":"session:join","id":"j","data":{"roomCode":"` + code + `","userName":"Bo"}` + strings.Repeat(" ", 2048) + `}`
			w.Write([]byte(join[:1000]))
			conn.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
			w.Write([]byte(join[1000:]))
			w.Close()
			replies := make(chan []byte, 2500)
			var readErr error // how the socket ended, once replies is closed
			go func() {
				for {
					_, b, err := conn.ReadMessage()
					if err != nil {
						readErr = err
						close(replies)
						return
					}
					replies <- b
				}
			}()
			if b := <-replies; !bytes.Contains(b, []byte(`"type":"session:joined"`)) {
				t.Fatalf("the fragmented join was answered with %s", b)
			}
			select {
			case s := <-pong:
				if s != "hi" {
					t.Errorf("pong %q, want hi", s)
				}
			case <-time.After(5 * time.Second):
				t.Error("no pong to a ping sent between fragments")
			}

			// 2,000 requests in one go (100 KiB), far more than the inbox holds or one wake-up reads: every
			// one is answered, in order
			// (rate_limited past the budget).
			var flood bytes.Buffer
			for i := range 2000 {
				flood.WriteString(`{"type":"clock:ping","id":"` + strconv.Itoa(i) + `","data":{"t0":1}}` + "\n")
			}
			for _, line := range strings.Split(strings.TrimSpace(flood.String()), "\n") {
				conn.WriteMessage(websocket.TextMessage, []byte(line))
			}
			for i := range 2000 {
				select {
				case b := <-replies:
					if !bytes.Contains(b, []byte(`"re":"`+strconv.Itoa(i)+`"`)) {
						t.Fatalf("answer %d: %s", i, b)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("only %d of 2000 answered", i)
				}
			}

			// A close frame is answered with the same code.
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
			for range replies {
			}
			if !websocket.IsCloseError(readErr, websocket.CloseGoingAway) {
				t.Errorf("our close 1001 was answered with %v", readErr)
			}

			// A leave followed at once by the end of the socket, with no close frame: the leave
			// still counts (the host hears the guest left, not that it dropped).
			cy := ts.Dial(t)
			cyID := cy.MustJoin(code, "Cy").You.ID
			raw := cy.Conn.NetConn()
			cy.Send("session:leave", "l", nil)
			raw.(*net.TCPConn).CloseWrite()
			host.Expect(func(f Frame) bool {
				return f.Type == "session:user-left" && strings.Contains(string(f.Data), cyID) &&
					strings.Contains(string(f.Data), `"reason":"left"`)
			}, "Cy leaving")
		})
	}
}
