package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkSeat50x10 runs the real jamd binary, seats 50 sessions of 10 participants over
// loopback, and reports (p50/p99):
//   - create: session:create sent → session:created received
//   - join: session:join sent → the host receives session:user-joined
//   - fanout: state:tempo-change sent → each of the 9 others receives it
//
// and the server's resident memory per connection. In "one-at-a-time" each session acts after the
// previous one is done (what a musician feels); in "all-at-once" the 50 sessions act side by
// side, and every commit waits its turn at the disk. Run it with:
//
//	go test ./cmd/jamd -run '^$' -bench Seat50x10 -benchtime 1x
func BenchmarkSeat50x10(b *testing.B) {
	b.Run("one-at-a-time", func(b *testing.B) { benchSeat(b, 1) })
	b.Run("all-at-once", func(b *testing.B) { benchSeat(b, 50) })
}

// benchSeat runs the scenario with at most parallel sessions acting at once.
func benchSeat(b *testing.B, parallel int) {
	const sessions, seats, rounds = 50, 10, 20
	turn := make(chan struct{}, parallel)
	for b.Loop() {
		p := StartJamd(b, benchDataDir(b), "127.0.0.1:0", "--create-rate-limit", "0")
		rssBefore := rssKB(b, p.Cmd.Process.Pid)

		var mu sync.Mutex
		var create, join, fanout []time.Duration
		var wg sync.WaitGroup
		members := make([][]*benchClient, sessions)
		for s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				turn <- struct{}{}
				defer func() { <-turn }()
				host := benchDial(b, p.URL)
				start := time.Now()
				created := host.request("session:create", `{"userName":"Host"}`)
				c := time.Since(start)
				var w struct{ RoomCode string }
				json.Unmarshal(created.Data, &w)
				room := []*benchClient{host}
				var joins []time.Duration
				for i := 1; i < seats; i++ {
					g := benchDial(b, p.URL)
					start := time.Now()
					g.send("session:join", "j", fmt.Sprintf(`{"roomCode":%q,"userName":"Guest %d"}`, w.RoomCode, i))
					ev := host.waitType("session:user-joined")
					joins = append(joins, ev.at.Sub(start))
					g.waitRe("j")
					room = append(room, g)
				}
				members[s] = room
				mu.Lock()
				create = append(create, c)
				join = append(join, joins...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		rssSeated := rssKB(b, p.Cmd.Process.Pid)

		for s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room := members[s]
				var lat []time.Duration
				for r := range rounds {
					turn <- struct{}{}
					start := time.Now()
					room[0].send("state:tempo-change", "t", `{"tempo":`+strconv.Itoa(100+r)+`}`)
					for _, g := range room[1:] {
						lat = append(lat, g.waitType("state:tempo-change").at.Sub(start))
					}
					room[0].waitRe("t")
					<-turn
					if parallel > 1 {
						time.Sleep(20 * time.Millisecond) // a change every 20 ms in every room: far busier than any band
					}
				}
				mu.Lock()
				fanout = append(fanout, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()

		conns := float64(sessions * seats)
		report(b, "create", create)
		report(b, "join", join)
		report(b, "fanout", fanout)
		b.ReportMetric(float64(rssSeated-rssBefore)/conns, "KiB-RSS/conn")
		for _, room := range members {
			for _, c := range room {
				c.conn.Close()
			}
		}
		p.Cmd.Process.Kill()
		p.Cmd.Wait()
	}
}

// benchDataDir is a fresh data dir under $JAMD_BENCH_DIR when set (point it at a tmpfs such as
// /dev/shm to see the server's own cost without the disk's fsync), else under the test's temp dir.
func benchDataDir(b *testing.B) string {
	parent := os.Getenv("JAMD_BENCH_DIR")
	if parent == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "jamd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func report(b *testing.B, name string, d []time.Duration) {
	slices.Sort(d)
	pct := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), name+"-p50-ms")
	b.ReportMetric(pct(0.99), name+"-p99-ms")
	b.Logf("%-6s n=%-5d p50=%.2fms p99=%.2fms max=%.2fms", name, len(d), pct(0.5), pct(0.99), pct(1))
}

func rssKB(b *testing.B, pid int) int {
	n := procRSS(pid)
	if n == 0 {
		b.Fatal("no VmRSS")
	}
	return n
}

type timedFrame struct {
	Type string
	Re   string
	Data json.RawMessage
	at   time.Time
}

// benchClient timestamps every frame the moment it arrives.
type benchClient struct {
	b      testing.TB
	conn   *websocket.Conn
	frames chan timedFrame
}

func benchDial(b testing.TB, base string) *benchClient {
	return benchDialWith(b, websocket.DefaultDialer, base)
}

// benchDialWith dials with d (the Link test's dials inside a network namespace).
func benchDialWith(b testing.TB, d *websocket.Dialer, base string) *benchClient {
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &benchClient{b: b, conn: conn, frames: make(chan timedFrame, 4096)}
	go func() {
		defer close(c.frames)
		for {
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			f := timedFrame{at: time.Now()}
			json.Unmarshal(raw, &f)
			c.frames <- f
		}
	}()
	return c
}

func (c *benchClient) send(typ, id, data string) {
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"`+typ+`","id":"`+id+`","data":`+data+`}`)); err != nil {
		c.b.Error(err)
	}
}

func (c *benchClient) request(typ, data string) timedFrame {
	c.send(typ, "r", data)
	return c.waitRe("r")
}

func (c *benchClient) waitRe(re string) timedFrame {
	return c.wait(func(f timedFrame) bool { return f.Re == re })
}

func (c *benchClient) waitType(typ string) timedFrame {
	return c.wait(func(f timedFrame) bool { return f.Type == typ && f.Re == "" })
}

// wait discards frames until one matches; every wait is bounded.
func (c *benchClient) wait(match func(timedFrame) bool) timedFrame {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.b.Error("connection closed")
				return timedFrame{at: time.Now()}
			}
			if f.Type == "error" {
				c.b.Errorf("error frame: %s", f.Data)
			}
			if match(f) {
				return f
			}
		case <-timeout:
			c.b.Error("timed out")
			return timedFrame{at: time.Now()}
		}
	}
}
