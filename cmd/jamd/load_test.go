package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkLoad runs the real jamd binary and drives it from a second process (this test
// binary again, as the load generator: one process cannot hold 10,000 sockets on both ends
// under the machine's limit of 20,000 descriptors). S rooms of P sockets are seated, then every
// host changes the tempo R times a second for N seconds, and every other member must receive
// each change. It reports what issue #12 asks of jamd beside the Socket.IO server it replaces:
//
//   - server CPU (user + system, from /proc/PID/stat) per 1,000 deliveries during the traffic
//   - server RSS growth per seated socket (from /proc/PID/status), seated and after the traffic
//   - fan-out p50 / p99: tempo change sent → each other member receives it
//   - lost deliveries (none allowed)
//
// Every change is committed (fsync) before it is delivered. Run it with:
//
//	make bench-load                                      # 200 × 10 and 1,000 × 10, disk and tmpfs
//	JAMD_LOAD=200x10 JAMD_BENCH_DIR=/dev/shm go test ./cmd/jamd -run '^$' -bench Load -benchtime 1x
//
// JAMD_LOAD is ROOMSxPER[@RATE/s][,SECONDS] (default 200x10@5,10). jamd runs with caps raised
// for one loopback device (see loadFlags).
func BenchmarkLoad(b *testing.B) {
	spec := cmpOr(os.Getenv("JAMD_LOAD"), "200x10@5,10")
	for b.Loop() {
		p := StartJamd(b, benchDataDir(b), "127.0.0.1:0", loadFlags(spec)...)
		gen := exec.Command(os.Args[0], "-test.run", "^TestLoadGenerator$", "-test.v")
		gen.Env = append(os.Environ(), "JAMD_LOADGEN="+p.URL, "JAMD_LOADGEN_PID="+strconv.Itoa(p.Cmd.Process.Pid), "JAMD_LOAD="+spec)
		gen.Stderr = os.Stderr
		out, err := gen.Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "load:") {
				b.Log(strings.TrimSpace(line))
			}
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "load: figure "); ok {
				for _, kv := range strings.Fields(f) {
					k, v, _ := strings.Cut(kv, "=")
					if x, err := strconv.ParseFloat(v, 64); err == nil {
						b.ReportMetric(x, k)
					}
				}
			}
		}
		if err != nil {
			b.Fatalf("load generator: %v\n%s", err, out)
		}
		p.Cmd.Process.Kill()
		p.Cmd.Wait()
	}
}

// loadFlags raise jamd's door for a load that comes from one loopback address: connections,
// sessions and creations far past a box's defaults, and a seat per socket in rooms of P.
func loadFlags(spec string) []string {
	l := parseLoad(spec)
	return []string{"--no-link", "--max-participants", strconv.Itoa(l.per),
		"--max-connections", "20000", "--max-connections-per-device", "20000",
		"--max-sessions", strconv.Itoa(max(50, l.rooms+100)), "--creates-per-minute", "100000", "--create-rate-limit", "0"}
}

type loadSpec struct {
	rooms, per int
	rate       float64
	seconds    float64
}

func parseLoad(spec string) loadSpec {
	l := loadSpec{rooms: 200, per: 10, rate: 5, seconds: 10}
	shape, secs, _ := strings.Cut(spec, ",")
	shape, rate, _ := strings.Cut(shape, "@")
	r, p, _ := strings.Cut(shape, "x")
	if n, err := strconv.Atoi(r); err == nil && n > 0 {
		l.rooms = n
	}
	if n, err := strconv.Atoi(p); err == nil && n > 1 {
		l.per = n
	}
	if x, err := strconv.ParseFloat(rate, 64); err == nil && x > 0 {
		l.rate = x
	}
	if x, err := strconv.ParseFloat(secs, 64); err == nil && x > 0 {
		l.seconds = x
	}
	return l
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loadRoom is one room of the load: its host, and when each tempo was sent (the tempo is the
// change's id within the room).
type loadRoom struct {
	code   string
	host   *websocket.Conn
	guests int

	mu     sync.Mutex
	sentAt map[int]time.Time
}

// TestLoadGenerator is BenchmarkLoad's second process; it skips unless JAMD_LOADGEN names the
// jamd to drive. Every loop is bounded in count and time.
func TestLoadGenerator(t *testing.T) {
	base := os.Getenv("JAMD_LOADGEN")
	if base == "" {
		t.Skip("run by BenchmarkLoad")
	}
	if !strings.HasPrefix(base, "http://127.") && !strings.HasPrefix(base, "http://localhost") {
		t.Fatalf("refusing to load %s: loopback only", base)
	}
	pid, _ := strconv.Atoi(os.Getenv("JAMD_LOADGEN_PID"))
	l := parseLoad(os.Getenv("JAMD_LOAD"))
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}

	var lat []time.Duration
	var latMu sync.Mutex
	var delivered, stray atomic.Int64
	var conns []*websocket.Conn
	var connsMu sync.Mutex
	var readers sync.WaitGroup
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	// dial opens a socket and sends its frames to each until it closes; replies go to replies.
	dial := func(room *loadRoom, guest bool, replies chan<- json.RawMessage) (*websocket.Conn, error) {
		c, _, err := dialer.Dial(wsURL, nil)
		if err != nil {
			return nil, err
		}
		connsMu.Lock()
		conns = append(conns, c)
		connsMu.Unlock()
		readers.Go(func() {
			var f struct {
				Type string
				Re   string
				Data json.RawMessage
			}
			var d struct{ Tempo float64 }
			for {
				_, raw, err := c.ReadMessage()
				if err != nil {
					return
				}
				at := time.Now()
				if guest && bytes.HasPrefix(raw, []byte(`{"type":"state:tempo-change","data":`)) {
					f.Data = nil
					if json.Unmarshal(raw, &f) != nil || json.Unmarshal(f.Data, &d) != nil {
						stray.Add(1)
						continue
					}
					room.mu.Lock()
					sent, ok := room.sentAt[int(d.Tempo)]
					room.mu.Unlock()
					if !ok {
						stray.Add(1)
						continue
					}
					delivered.Add(1)
					latMu.Lock()
					lat = append(lat, at.Sub(sent))
					latMu.Unlock()
					continue
				}
				f.Re, f.Data = "", nil
				if json.Unmarshal(raw, &f) == nil && f.Re != "" && f.Re != "t" {
					select {
					case replies <- append(json.RawMessage(`{"type":"`+f.Type+`","data":`), append(f.Data, '}')...):
					default:
					}
				}
			}
		})
		return c, nil
	}
	request := func(c *websocket.Conn, replies chan json.RawMessage, typ, data string) (json.RawMessage, error) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"`+typ+`","id":"r","data":`+data+`}`)); err != nil {
			return nil, err
		}
		select {
		case r := <-replies:
			return r, nil
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("%s: no reply in 10 s", typ)
		}
	}

	settle := func() { time.Sleep(time.Second) }
	settle()
	rssBefore := procRSS(pid)
	seatStart := time.Now()
	rooms := make([]*loadRoom, l.rooms)
	var seatErrs atomic.Int64
	// Seat with 64 workers: hosts create, then guests join.
	work := func(n int, do func(i int)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < n && time.Since(seatStart) < 5*time.Minute; i = int(next.Add(1) - 1) {
					do(i)
				}
			})
		}
		wg.Wait()
	}
	work(l.rooms, func(i int) {
		room := &loadRoom{sentAt: map[int]time.Time{}}
		replies := make(chan json.RawMessage, 1)
		c, err := dial(room, false, replies)
		if err != nil {
			seatErrs.Add(1)
			return
		}
		r, err := request(c, replies, "session:create", `{"userName":"Host"}`)
		var w struct{ Data struct{ RoomCode string } }
		if err != nil || json.Unmarshal(r, &w) != nil || w.Data.RoomCode == "" {
			seatErrs.Add(1)
			return
		}
		room.code, room.host = w.Data.RoomCode, c
		rooms[i] = room
	})
	var jobs [][2]int
	for i, r := range rooms {
		if r != nil {
			for g := 1; g < l.per; g++ {
				jobs = append(jobs, [2]int{i, g})
			}
		}
	}
	work(len(jobs), func(j int) {
		room := rooms[jobs[j][0]]
		replies := make(chan json.RawMessage, 1)
		c, err := dial(room, true, replies)
		if err != nil {
			seatErrs.Add(1)
			return
		}
		r, err := request(c, replies, "session:join", fmt.Sprintf(`{"roomCode":%q,"userName":"G%d"}`, room.code, jobs[j][1]))
		if err != nil || !bytes.Contains(r, []byte(`"type":"session:joined"`)) {
			seatErrs.Add(1)
			return
		}
		room.mu.Lock()
		room.guests++
		room.mu.Unlock()
	})
	seated := len(conns) - int(seatErrs.Load())
	seatTime := time.Since(seatStart)
	fmt.Printf("load: seated %d of %d sockets in %.1f s, %d failed\n", seated, l.rooms*l.per, seatTime.Seconds(), seatErrs.Load())
	if seatErrs.Load() > 0 {
		t.Errorf("%d sockets could not be seated", seatErrs.Load())
	}
	settle()
	rssSeated := procRSS(pid)

	// Traffic: each host sends sends changes, one every period, the hosts' phases spread out.
	period := time.Duration(float64(time.Second) / l.rate)
	sends := max(1, int(l.seconds*l.rate))
	var expected atomic.Int64
	cpu0 := procCPU(pid)
	start := time.Now().Add(50 * time.Millisecond)
	var hosts sync.WaitGroup
	for i, room := range rooms {
		if room == nil {
			continue
		}
		hosts.Go(func() {
			offset := time.Duration(int64(period) * int64(i) / int64(len(rooms)))
			for n := range sends {
				time.Sleep(time.Until(start.Add(offset + time.Duration(n)*period)))
				tempo := 60 + (i*7+n)%200
				room.mu.Lock()
				room.sentAt[tempo] = time.Now()
				expected.Add(int64(room.guests))
				room.mu.Unlock()
				room.host.WriteMessage(websocket.TextMessage, []byte(`{"type":"state:tempo-change","id":"t","data":{"tempo":`+strconv.Itoa(tempo)+`}}`))
			}
		})
	}
	hosts.Wait()
	for deadline := time.Now().Add(5 * time.Second); delivered.Load() < expected.Load() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	wall := time.Since(start)
	cpu1 := procCPU(pid)
	settle()
	rssAfter := procRSS(pid)

	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	lost := expected.Load() - delivered.Load()
	cpuMs := (cpu1 - cpu0).Seconds() * 1000
	fmt.Printf("load: %d rooms × %d, %g changes/s per host for %g s: %d deliveries, %d lost, %d stray\n",
		l.rooms, l.per, l.rate, l.seconds, delivered.Load(), lost, stray.Load())
	fmt.Printf("load: server CPU %.0f%% of a core; RSS %d → %d KiB seated → %d KiB after traffic\n",
		100*cpuMs/float64(wall.Milliseconds()), rssBefore, rssSeated, rssAfter)
	fmt.Printf("load: figure cpu-ms/1k-deliveries=%.2f KiB-RSS/socket=%.1f KiB-RSS/socket-after=%.1f fanout-p50-ms=%.2f fanout-p99-ms=%.2f lost=%d\n",
		1000*cpuMs/float64(max(1, delivered.Load())), float64(rssSeated-rssBefore)/float64(max(1, seated)),
		float64(rssAfter-rssBefore)/float64(max(1, seated)), pct(0.5), pct(0.99), lost)
	if lost != 0 {
		t.Errorf("%d deliveries lost", lost)
	}
}

// procCPU is the user + system CPU time of process pid so far.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// procRSS is the resident set of process pid, in KiB.
func procRSS(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
