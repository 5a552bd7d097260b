package appliance

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"slices"
	"strings"
	"time"
)

// Session is one jam: its seats and its shared musical state. It is what the Store keeps.
type Session struct {
	Code       string    `json:"code"`
	CreatedAt  time.Time `json:"createdAt"`
	LastActive time.Time `json:"lastActive"` // last accepted change or connection
	HostID     string    `json:"hostId"`     // who runs the room now (see host.go)
	// HomeHostID is the host who stepped away while someone stands in; the role goes back to
	// them when they return. Empty when nobody is standing in.
	HomeHostID string `json:"homeHostId,omitempty"`
	// JoinKey is the long secret in the shared link and QR code, which lets its holder take a
	// seat in a locked room: the short code alone, read aloud or guessed, then does not.
	JoinKey      string        `json:"joinKey"`
	Settings     Settings      `json:"settings"`
	Removed      [][]byte      `json:"removed,omitempty"` // token hashes of seats the host removed, newest last
	Participants []Participant `json:"participants"`      // in seating order, longest-seated first
	State        State         `json:"state"`
	// Link is whether the host linked the room to Ableton Link; kept so that a restart links it
	// again (when jamd runs with Link on and no other room holds the link).
	Link bool `json:"link,omitempty"`
}

// Settings are the room's rules, which the host sets.
type Settings struct {
	Locked       bool `json:"locked"`       // no new seats; resumes still work
	OpenPlayback bool `json:"openPlayback"` // everyone may start and stop, not only the host
}

// maxRemoved bounds Session.Removed: the oldest removals are forgotten first.
const maxRemoved = 64

// Participant is one seat in a session.
type Participant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	JoinedAt  time.Time `json:"joinedAt"`
	TokenHash []byte    `json:"tokenHash"` // sha256 of the resume token; the token itself is never kept
	// AwaySince is when the seat's connection dropped; zero while connected. It is written with
	// the session's next commit, so after a restart a seat may show as away since the restart.
	AwaySince time.Time `json:"awaySince,omitzero"`
	Presence  Presence  `json:"-"` // live only: after a restart every seat starts reconnecting or away
}

// Presence is how a seat's owner is connected right now.
type Presence string

// A seat is connected; or its connection dropped less than the reconnect grace ago
// (reconnecting); or longer ago (away). An away seat keeps its name, id and host role, and its
// token resumes it, until the seat hold runs out or a newcomer needs a seat in a full room.
const (
	Connected    Presence = "connected"
	Reconnecting Presence = "reconnecting"
	Away         Presence = "away"
)

// State is the musical state everyone in a session shares.
type State struct {
	Tempo     float64 `json:"tempo"`
	IsPlaying bool    `json:"isPlaying"`
	Key       string  `json:"key"`
	Scale     string  `json:"scale"`
	Anchor    Anchor  `json:"anchor"`
	Pattern   Pattern `json:"pattern"`
	Version   int64   `json:"version"`
}

// Steps is the length of the drum pattern: one bar of 16th notes.
const Steps = 16

// Pattern is the shared drum grid.
type Pattern struct {
	Kick  [Steps]bool `json:"kick"`
	Snare [Steps]bool `json:"snare"`
	Hihat [Steps]bool `json:"hihat"`
	Clap  [Steps]bool `json:"clap"`
}

// track returns the row of the named track, or nil.
func (p *Pattern) track(name string) *[Steps]bool {
	switch name {
	case "kick":
		return &p.Kick
	case "snare":
		return &p.Snare
	case "hihat":
		return &p.Hihat
	case "clap":
		return &p.Clap
	}
	return nil
}

// Limits and defaults of the shared state.
const (
	MinTempo     = 20
	MaxTempo     = 300
	DefaultTempo = 120
)

// Keys and Scales are the accepted values of State.Key and State.Scale.
var (
	Keys   = []string{"C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B"}
	Scales = []string{"major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian", "pentatonic", "blues"}
)

// newState is the state of a new session.
func newState(now time.Time) State {
	return State{Tempo: DefaultTempo, Key: "C", Scale: "major", Anchor: Anchor{ServerTime: serverMs(now)}, Version: 1}
}

// clone returns a copy that shares nothing mutable with s.
func (s *Session) clone() *Session {
	c := *s
	c.Participants = slices.Clone(s.Participants)
	c.Removed = slices.Clone(s.Removed)
	return &c
}

// seat returns the index of the participant with id, or -1.
func (s *Session) seat(id string) int {
	return slices.IndexFunc(s.Participants, func(p Participant) bool { return p.ID == id })
}

// seatByToken returns the index of the seat whose resume token is token, or -1.
func (s *Session) seatByToken(token string) int {
	h := hashToken(token)
	return slices.IndexFunc(s.Participants, func(p Participant) bool {
		return subtle.ConstantTimeCompare(p.TokenHash, h) == 1
	})
}

// firstConnected is the longest-seated connected participant, or "".
func (s *Session) firstConnected() string {
	for _, p := range s.Participants {
		if p.Presence == Connected {
			return p.ID
		}
	}
	return ""
}

// longestAway is the index of the seat that has been away longest, or -1 when none is away.
func (s *Session) longestAway() int {
	best := -1
	for i, p := range s.Participants {
		if p.Presence == Away && (best < 0 || p.AwaySince.Before(s.Participants[best].AwaySince)) {
			best = i
		}
	}
	return best
}

// keyMatches reports whether k is the session's join key.
func (s *Session) keyMatches(k string) bool {
	return k != "" && subtle.ConstantTimeCompare([]byte(k), []byte(s.JoinKey)) == 1
}

// newJoinKey returns a fresh join key: 128 random bits.
func newJoinKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// isRemoved reports whether token belongs to a seat the host removed.
func (s *Session) isRemoved(token string) bool {
	h := hashToken(token)
	return slices.ContainsFunc(s.Removed, func(r []byte) bool { return subtle.ConstantTimeCompare(r, h) == 1 })
}

// roomCodeAlphabet has no look-alikes: no 0/O and no 1/I/L.
const roomCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// RoomCodeLen is the length of a room code.
const RoomCodeLen = 6

// newRoomCode returns a random room code.
func newRoomCode() string {
	b := make([]byte, RoomCodeLen)
	rand.Read(b)
	for i := range b {
		b[i] = roomCodeAlphabet[int(b[i])%len(roomCodeAlphabet)]
	}
	return string(b)
}

// NormalizeRoomCode accepts a code in any case with surrounding space and returns it upper-cased,
// or EINVALIDROOMCODE when it is not then six of [A-Z0-9].
func NormalizeRoomCode(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != RoomCodeLen || strings.IndexFunc(c, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) >= 0 {
		return "", Errorf(EINVALIDROOMCODE, "A room code is 6 letters and digits, like K7M2QX.")
	}
	return c, nil
}

func validTempo(t float64) error {
	if math.IsNaN(t) || t < MinTempo || t > MaxTempo {
		return errInvalidTempo()
	}
	return nil
}

func validKey(key, scale string) error {
	if !slices.Contains(Keys, key) || !slices.Contains(Scales, scale) {
		return errInvalidKey()
	}
	return nil
}

// newID returns an unguessable id with a prefix, e.g. "p_3kq9x2mz7d4f".
func newID(prefix string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// newParticipant returns a new, connected seat for name and the resume token that gives it back;
// only the token's hash is kept.
func newParticipant(name string, now time.Time) (p Participant, token string) {
	token, hash := newResumeToken()
	return Participant{ID: newID("p_"), Name: name, JoinedAt: now, TokenHash: hash, Presence: Connected}, token
}

// newResumeToken returns a fresh secret and the hash the session keeps.
func newResumeToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
