package appliance_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"jamd/appliance"
)

// FuzzDecodeRequest feeds the decoder of client frames arbitrary bytes: it must never panic,
// and it must either return a typed payload or an *appliance.Error a client can be shown.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"type":"session:create","id":"1","data":{"userName":"Ana"}}`,
		`{"type":"session:join","data":{"roomCode":"k7m2qx","userName":"Bo","resumeToken":"t"}}`,
		`{"type":"state:tempo-change","data":{"tempo":96.5}}`,
		`{"type":"state:key-change","data":{"key":"F#","scale":"minor"}}`,
		`{"type":"state:playback-control","data":{"isPlaying":true}}`,
		`{"type":"pattern:set-step","data":{"track":"kick","step":3,"on":true}}`,
		`{"type":"pattern:clear"}`, `{"type":"state:request-sync","data":null}`, `{"type":"session:leave","data":{}}`,
		`{"type":"clock:ping","data":{"t0":123.4}}`, `{"type":5}`, `[]`, `{`, ``, `{"type":"x","id":{}}`,
		`{"type":"session:join","data":{"roomCode":"K7M2QX","userName":"Bo","resumeToken":"t","attempt":1795665000000.5}}`,
		`{"type":"session:remove","data":{"userId":"p_x"}}`, `{"type":"session:set-host","data":{"userId":7}}`,
		`{"type":"session:settings","data":{"locked":true}}`, `{"type":"session:settings","data":{"openPlayback":null}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := appliance.DecodeRequest(frame)
		if err != nil {
			var e *appliance.Error
			if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("%q: error %v is not a client error with code and message", frame, err)
			}
			return
		}
		if req.Type == "" || req.Data == nil {
			t.Fatalf("%q: accepted without a type or payload: %+v", frame, req)
		}
		if len(req.ID) > 64 {
			t.Fatalf("%q: id of %d bytes accepted", frame, len(req.ID))
		}
	})
}

// FuzzNormalize checks the validators of room codes and names never accept what the contract
// forbids.
func FuzzNormalize(f *testing.F) {
	f.Add(" k7m2qx ")
	f.Add("Ana\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if code, err := appliance.NormalizeRoomCode(s); err == nil {
			for _, r := range code {
				if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
					t.Fatalf("room code %q accepted as %q", s, code)
				}
			}
			if len(code) != 6 {
				t.Fatalf("room code %q accepted as %q", s, code)
			}
		}
		if name, err := appliance.NormalizeName(s); err == nil {
			if name == "" || len(name) > appliance.MaxNameBytes || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
				t.Fatalf("name %q accepted as %q", s, name)
			}
		}
	})
}
