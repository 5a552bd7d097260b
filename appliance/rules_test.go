package appliance_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"jamd/appliance"
)

// protocolTS is the web app's copy of the wire contract's rules. The form checks a tempo, a key
// or a room code before sending it, so the web app must hold the same rules as the server.
const protocolTS = "../webui/src/session/protocol.ts"

// TestWebAppRulesMatch reads protocolTS and checks that its keys, scales, tracks, steps, tempo
// limits, name length and room-code rule are the server's.
func TestWebAppRulesMatch(t *testing.T) {
	b, err := os.ReadFile(protocolTS)
	if err != nil {
		t.Fatal(err)
	}
	ts := string(b)

	tracks := []string{}
	for f := range reflect.TypeFor[appliance.Pattern]().Fields() {
		tracks = append(tracks, f.Tag.Get("json"))
	}
	for name, want := range map[string][]string{"KEYS": appliance.Keys, "SCALES": appliance.Scales, "TRACKS": tracks} {
		if got := tsList(t, ts, name); !slices.Equal(got, want) {
			t.Errorf("%s: %s is %q, the server's is %q", protocolTS, name, got, want)
		}
	}
	for name, want := range map[string]int{"MIN_TEMPO": appliance.MinTempo, "MAX_TEMPO": appliance.MaxTempo, "STEPS": appliance.Steps} {
		if got := tsInt(t, ts, `export const `+name+` = (\d+);`); got != want {
			t.Errorf("%s: %s is %d, the server's is %d", protocolTS, name, got, want)
		}
	}
	// The message types a client sends, and the error codes, are the server's.
	if got := slices.Sorted(slices.Values(tsList(t, ts, "CLIENT_TYPES"))); !slices.Equal(got, appliance.ClientTypes()) {
		t.Errorf("%s: CLIENT_TYPES is %q, the server decodes %q", protocolTS, got, appliance.ClientTypes())
	}
	var codes []string
	block, _, _ := strings.Cut(ts[strings.Index(ts, "export const ErrorCode = {"):], "} as const;")
	for _, m := range regexp.MustCompile(`\n\s+\w+: '([a-z_]+)',`).FindAllStringSubmatch(block, -1) {
		codes = append(codes, m[1])
	}
	wire := slices.DeleteFunc(appliance.WireErrorCodes(), func(c string) bool { return c == appliance.EUNAUTHORIZED || c == appliance.ENOHOTSPOT })
	if slices.Sort(codes); !slices.Equal(codes, wire) {
		t.Errorf("%s: ErrorCode holds %q, the server answers with %q (HTTP-only codes aside)", protocolTS, codes, wire)
	}
	for name, want := range map[string]int{"MAX_NAME_GRAPHEMES": appliance.MaxNameGraphemes, "MAX_NAME_BYTES": appliance.MaxNameBytes} {
		if got := tsInt(t, ts, `export const `+name+` = (\d+);`); got != want {
			t.Errorf("%s: %s is %d, the server's is %d", protocolTS, name, got, want)
		}
	}

	// normalizeRoomCode trims and upper-cases, then isWellFormedRoomCode tests the pattern; try
	// every ASCII character at every place (and codes one too short or long) on both.
	m := regexp.MustCompile(`isWellFormedRoomCode[^{]*\{\s*return /(\^[^/]*\$)/\.test\(code\)`).FindStringSubmatch(ts)
	if m == nil {
		t.Fatalf("%s: no isWellFormedRoomCode returning /^…$/.test(code)", protocolTS)
	}
	wellFormed := regexp.MustCompile(m[1])
	tried := []string{"K7M2Q", "K7M2QXA", " k7m2qx\n"}
	for c := range 128 {
		for i := range appliance.RoomCodeLen {
			tried = append(tried, "K7M2QX"[:i]+string(rune(c))+"K7M2QX"[i+1:])
		}
	}
	for _, code := range tried {
		_, err := appliance.NormalizeRoomCode(code)
		if web := wellFormed.MatchString(strings.ToUpper(strings.TrimSpace(code))); web != (err == nil) {
			t.Errorf("room code %q: the web app says well-formed %v, the server says %v", code, web, err)
		}
	}
	// And the codes the server hands out are well-formed in the web app.
	srv := MustServer(t, appliance.Config{})
	for range 5 {
		if w := srv.Dial(t).MustCreate("Ana"); !wellFormed.MatchString(w.RoomCode) {
			t.Errorf("the server made room code %q, which the web app would refuse", w.RoomCode)
		}
	}
}

// tsList returns the strings of `export const NAME = ['a', 'b'] as const;`.
func tsList(t *testing.T, ts, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`export const ` + name + ` = \[([^\]]*)\] as const;`).FindStringSubmatch(ts)
	if m == nil {
		t.Fatalf("%s: no export const %s = [...] as const", protocolTS, name)
	}
	var out []string
	for _, s := range strings.Split(m[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, strings.Trim(s, `'"`))
		}
	}
	return out
}

// tsInt returns the number that pattern's one group matches.
func tsInt(t *testing.T, ts, pattern string) int {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(ts)
	if m == nil {
		t.Fatalf("%s: nothing matches %s", protocolTS, pattern)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
