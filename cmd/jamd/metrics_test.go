package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// parseMetricsPy prints {family: type} for the Prometheus text read on stdin, as parsed by the
// official Python client's parser (Debian's python3-prometheus-client).
const parseMetricsPy = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": len(f.samples)}
print(json.dumps(out))
`

// TestMetricsParseWithPrometheusClient scrapes the real binary's /metrics (public here) after
// real traffic and parses it with a parser nobody here wrote.
func TestMetricsParseWithPrometheusClient(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import prometheus_client.parser").Run(); err != nil {
		t.Skip("skipping: Debian's python3-prometheus-client is not installed (apt-get install python3-prometheus-client)")
	}
	p := StartJamd(t, t.TempDir(), "127.0.0.1:0", "--metrics-public")
	host, guest := dial(t, p.URL), dial(t, p.URL)
	code := host.request("session:create", map[string]any{"userName": "Ana"}, "session:created")["roomCode"].(string)
	guest.request("session:join", map[string]any{"roomCode": code, "userName": "Bo"}, "session:joined")
	host.request("state:tempo-change", map[string]any{"tempo": 88}, "state:tempo-change")
	guest.request("pattern:set-step", map[string]any{"track": "snare", "step": 4, "on": true}, "pattern:set-step")

	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics with --metrics-public: %s", resp.Status)
	}
	script := filepath.Join(t.TempDir(), "parse.py")
	os.WriteFile(script, []byte(parseMetricsPy), 0o644)
	cmd := exec.Command(py, script)
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 prometheus_client could not parse /metrics: %v\n%s", err, body)
	}
	var fams map[string]struct {
		Type    string `json:"type"`
		Samples int    `json:"samples"`
	}
	if err := json.Unmarshal(out, &fams); err != nil {
		t.Fatal(err)
	}
	// The Python parser names counters without _total.
	for name, typ := range map[string]string{
		"jamd_sessions": "gauge", "jamd_seats": "gauge", "jamd_websockets": "gauge",
		"jamd_sessions_created": "counter", "jamd_sessions_ended": "counter", "jamd_changes_committed": "counter",
		"jamd_commit_duration_seconds": "histogram", "jamd_fanout_duration_seconds": "histogram",
		"jamd_slow_clients_closed": "counter", "jamd_rate_limited": "counter", "jamd_connections_refused": "counter",
		"jamd_frames_rejected": "counter", "jamd_store_size_bytes": "gauge", "jamd_build_info": "gauge",
		"go_goroutines": "gauge", "process_resident_memory_bytes": "gauge",
	} {
		f, ok := fams[name]
		if !ok || f.Type != typ || f.Samples == 0 {
			t.Errorf("%s: parsed as %+v (present: %v), want a %s with samples", name, f, ok, typ)
		}
	}
	if !strings.Contains(string(body), `jamd_build_info{version="`+testVersion+`"} 1`) {
		t.Errorf("no jamd_build_info for %s", testVersion)
	}
	if !strings.Contains(string(body), `jamd_changes_committed_total{type="state:tempo-change"} 1`) {
		t.Error("the tempo change is not counted")
	}
}
