package appliance_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"jamd/appliance"
	"jamd/store"
)

const adminToken = "s3cret"

var bearer = http.Header{"Authorization": {"Bearer " + adminToken}}

// Scrape GETs url/metrics with header and parses it with Prometheus's own text parser.
func Scrape(tb testing.TB, url string, header http.Header) map[string]*dto.MetricFamily {
	tb.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// Value is the value of the sample of family name whose labels include want (counter, gauge,
// or a histogram's count), or -1 when there is none.
func Value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == want[i] && l.GetValue() == want[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAfterTraffic scrapes a real server after real traffic: sessions, seats, changes,
// a bad frame, a flood past the request rate, a refused origin.
func TestMetricsAfterTraffic(t *testing.T) {
	ts := MustServer(t, appliance.Config{AdminToken: adminToken, CreateRateLimit: 1})
	if st := GetJSON(t, ts.URL+"/metrics", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without the token: %d, want 401", st)
	}

	host, guest := ts.Dial(t), ts.Dial(t)
	w := host.MustCreate("Ana")
	guest.MustJoin(w.RoomCode, "Ben")
	host.MustRequest("state:tempo-change", map[string]any{"tempo": 96}, "state:tempo-change")
	guest.MustRequest("pattern:set-step", map[string]any{"track": "kick", "step": 0, "on": true}, "pattern:set-step")
	guest.MustRequest("pattern:set-step", map[string]any{"track": "kick", "step": 4, "on": true}, "pattern:set-step")
	host.SendRaw(`not json`)
	host.ExpectType("error")
	third := ts.Dial(t)
	third.MustError("session:create", map[string]any{"userName": "Cy"}, "rate_limited") // --create-rate-limit 1
	for range 120 {
		guest.Send("clock:ping", "", map[string]any{"t0": 1})
	}
	guest.Expect(func(f Frame) bool {
		var e ErrorData
		return f.Type == "error" && json.Unmarshal(f.Data, &e) == nil && e.Code == "rate_limited"
	}, "rate_limited")
	if _, err := ts.DialHeader(t, http.Header{"Origin": {"http://evil.example"}}); err == nil {
		t.Fatal("a foreign origin was let in")
	}

	fams := Scrape(t, ts.URL, bearer)
	types := map[string]dto.MetricType{
		"jamd_sessions": dto.MetricType_GAUGE, "jamd_seats": dto.MetricType_GAUGE, "jamd_websockets": dto.MetricType_GAUGE,
		"jamd_sessions_created_total": dto.MetricType_COUNTER, "jamd_sessions_ended_total": dto.MetricType_COUNTER,
		"jamd_changes_committed_total": dto.MetricType_COUNTER, "jamd_commit_duration_seconds": dto.MetricType_HISTOGRAM,
		"jamd_fanout_duration_seconds": dto.MetricType_HISTOGRAM, "jamd_slow_clients_closed_total": dto.MetricType_COUNTER,
		"jamd_rate_limited_total": dto.MetricType_COUNTER, "jamd_connections_refused_total": dto.MetricType_COUNTER,
		"jamd_frames_rejected_total": dto.MetricType_COUNTER, "jamd_store_size_bytes": dto.MetricType_GAUGE,
		"jamd_build_info": dto.MetricType_GAUGE, "go_goroutines": dto.MetricType_GAUGE,
		"go_memstats_heap_inuse_bytes": dto.MetricType_GAUGE, "process_resident_memory_bytes": dto.MetricType_GAUGE,
		"process_open_fds": dto.MetricType_GAUGE,
	}
	for name, typ := range types {
		f := fams[name]
		if f == nil {
			t.Errorf("no %s in /metrics", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %s, want %s", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	for _, c := range []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{
		{"jamd_sessions", nil, 1, false},
		{"jamd_seats", []string{"presence", "connected"}, 2, false},
		{"jamd_seats", []string{"presence", "away"}, 0, false},
		{"jamd_websockets", nil, 3, false},
		{"jamd_sessions_created_total", nil, 1, false},
		{"jamd_changes_committed_total", []string{"type", "state:tempo-change"}, 1, false},
		{"jamd_changes_committed_total", []string{"type", "pattern:set-step"}, 2, false},
		{"jamd_commit_duration_seconds", nil, 5, true}, // create, join, three changes
		{"jamd_fanout_duration_seconds", nil, 8, true},
		{"jamd_frames_rejected_total", []string{"code", "invalid_message"}, 1, false},
		{"jamd_rate_limited_total", []string{"limit", "requests"}, 1, true},
		{"jamd_rate_limited_total", []string{"limit", "sessions"}, 1, false},
		{"jamd_connections_refused_total", []string{"reason", "origin"}, 1, false},
		{"jamd_store_size_bytes", nil, 1, true},
	} {
		got := Value(fams, c.name, c.labels...)
		if got < 0 || (!c.atLeast && got != c.want) || (c.atLeast && got < c.want) {
			t.Errorf("%s%v = %v, want %v (at least: %v)", c.name, c.labels, got, c.want, c.atLeast)
		}
	}
}

// TestMetricsPublic: --metrics-public serves /metrics without the token.
func TestMetricsPublic(t *testing.T) {
	ts := MustServer(t, appliance.Config{AdminToken: adminToken, MetricsPublic: true})
	if fams := Scrape(t, ts.URL, nil); fams["jamd_sessions"] == nil {
		t.Fatal("no jamd_sessions")
	}
}

// TestBackupDuringAFlood takes a backup while four rooms change as fast as they can, checks it
// is a valid database, and starts a second server on it that serves the same sessions.
func TestBackupDuringAFlood(t *testing.T) {
	ts := MustServer(t, appliance.Config{AdminToken: adminToken})
	if st := GetJSON(t, ts.URL+"/api/backup", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /api/backup without the token: %d, want 401", st)
	}
	var codes []string
	var clients []*Client
	for i := range 4 {
		c := ts.Dial(t)
		codes = append(codes, c.MustCreate("Player "+string(rune('A'+i))).RoomCode)
		clients = append(clients, c)
	}
	ctx, stop := context.WithCancel(context.Background())
	var flooding sync.WaitGroup
	var changes atomic.Int64
	for _, c := range clients {
		flooding.Go(func() {
			for step := 0; ctx.Err() == nil; step++ {
				c.Send("state:tempo-change", "", map[string]any{"tempo": 60 + step%200})
				c.ExpectType("state:tempo-change")
				changes.Add(1)
			}
		})
	}
	for changes.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/backup", nil)
	req.Header = bearer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	before := changes.Load()
	time.Sleep(50 * time.Millisecond) // the flood goes on after the backup
	stop()
	flooding.Wait()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/backup: %v %s", err, resp.Status)
	}
	if changes.Load() <= before {
		t.Errorf("no change was committed after the backup (%d before, %d after)", before, changes.Load())
	}
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "jamd-") {
		t.Errorf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "jamd.db")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := store.Check(path)
	if err != nil || n != len(codes) {
		t.Fatalf("store.Check(backup) = %d, %v; want %d sessions", n, err, len(codes))
	}
	second := MustServerAt(t, appliance.Config{AdminToken: adminToken}, dir, nil)
	var list struct{ Sessions []appliance.SessionSummary }
	if st := GetJSON(t, second.URL+"/api/sessions", http.Header{"Authorization": {"Bearer " + adminToken}}, &list); st != 200 {
		t.Fatalf("the server on the backup lists sessions with %d", st)
	}
	tempos := map[string]float64{}
	for _, s := range list.Sessions {
		tempos[s.RoomCode] = s.Tempo
	}
	for _, code := range codes {
		if tempos[code] < 60 {
			t.Errorf("the server on the backup has %s at tempo %v (sessions %+v)", code, tempos[code], list.Sessions)
		}
	}
}

// TestEndSession: the operator lists the sessions and ends one; every member hears why, holds
// no seat any more, and the session is gone from the list, the store and the metrics.
func TestEndSession(t *testing.T) {
	ts := MustServer(t, appliance.Config{AdminToken: adminToken})
	host, guest := ts.Dial(t), ts.Dial(t)
	w := host.MustCreate("Ana")
	guest.MustJoin(w.RoomCode, "Ben")
	other := ts.Dial(t).MustCreate("Cy")

	var list struct {
		Sessions []appliance.SessionSummary `json:"sessions"`
	}
	if st := GetJSON(t, ts.URL+"/api/sessions", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /api/sessions without the token: %d", st)
	}
	if st := GetJSON(t, ts.URL+"/api/sessions", bearer, &list); st != 200 || len(list.Sessions) != 2 {
		t.Fatalf("GET /api/sessions: %d %+v", st, list)
	}
	s := list.Sessions[0]
	if s.RoomCode != w.RoomCode || s.Participants != 2 || s.Connected != 2 || s.Tempo != 120 || s.IsPlaying {
		t.Fatalf("first session listed: %+v", s)
	}

	post := func(code, body string, header http.Header) (int, map[string]any) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/sessions/"+code+"/end", strings.NewReader(body))
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if st, _ := post(w.RoomCode, "", nil); st != http.StatusUnauthorized {
		t.Fatalf("end without the token: %d", st)
	}
	if st, _ := post("ZZZZZZ", "", bearer); st != http.StatusNotFound {
		t.Fatalf("end of no session: %d", st)
	}
	st, v := post(strings.ToLower(w.RoomCode), `{"reason": "Closing time:\n the room is booked at 22:00."}`, bearer)
	if st != 200 || v["told"] != 2.0 {
		t.Fatalf("end: %d %v", st, v)
	}
	for _, c := range []*Client{host, guest} {
		var ended struct {
			RoomCode string `json:"roomCode"`
			Reason   string `json:"reason"`
		}
		c.ExpectType("session:ended").Decode(t, &ended)
		if ended.RoomCode != w.RoomCode || ended.Reason != "Closing time: the room is booked at 22:00." {
			t.Errorf("session:ended %+v", ended)
		}
		c.MustError("state:tempo-change", map[string]any{"tempo": 90}, "not_in_session")
	}
	host.MustCreate("Ana") // the connection is free to start again
	ts.Dial(t).MustError("session:join", map[string]any{"roomCode": w.RoomCode, "userName": "Dee"}, "room_not_found")
	if st, _ := post(w.RoomCode, "", bearer); st != http.StatusNotFound {
		t.Fatalf("second end: %d", st)
	}
	sessions, err := ts.DB.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.Code == w.RoomCode {
			t.Fatal("the ended session is still in the store")
		}
	}
	fams := Scrape(t, ts.URL, bearer)
	if got := Value(fams, "jamd_sessions_ended_total", "reason", "ended"); got != 1 {
		t.Errorf("jamd_sessions_ended_total{reason=ended} = %v, want 1", got)
	}
	if got := Value(fams, "jamd_sessions", nil...); got != 2 { // other, and host's new one
		t.Errorf("jamd_sessions = %v, want 2 (%s still live)", got, other.RoomCode)
	}
}

// TestDashboardQueriesExist reads docs/grafana-dashboard.json and checks that every metric its
// panels query is in a real server's /metrics after some traffic (a histogram's _bucket, _sum
// and _count count as the histogram).
func TestDashboardQueriesExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	ts := MustServer(t, appliance.Config{AdminToken: adminToken})
	c := ts.Dial(t)
	c.MustCreate("Ana")
	c.MustRequest("state:tempo-change", map[string]any{"tempo": 90}, "state:tempo-change")
	fams := Scrape(t, ts.URL, bearer)

	name := regexp.MustCompile(`\b(jamd|go|process)_[a-z0-9_]+`)
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				queried++
				if fams[m] != nil {
					continue
				}
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if f := fams[base]; f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
					t.Errorf("panel %q queries %s, which /metrics does not have", p.Title, m)
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("the dashboard queries only %d metrics", queried)
	}
}
