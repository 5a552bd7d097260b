package appliance

import "time"

// Defaults of the Config fields whose zero value stands for one; `jamd serve` shows them as its
// flags' defaults.
const (
	DefaultReconnectGrace  = 30 * time.Second
	DefaultMaxParticipants = 10
	DefaultSessionTTL      = 24 * time.Hour
	DefaultSeatHold        = 6 * time.Hour
)

// Config holds the appliance's options. The zero value of each field is a documented default.
type Config struct {
	ReconnectGrace  time.Duration    // how long a dropped seat shows as reconnecting before away; 0 means DefaultReconnectGrace
	SeatHold        time.Duration    // how long an away seat is kept; 0 means DefaultSeatHold
	MaxParticipants int              // seats per session; 0 means DefaultMaxParticipants
	SessionTTL      time.Duration    // idle sessions are deleted after this; 0 means DefaultSessionTTL
	CreateRateLimit int              // session creations per minute per client address; 0 means no limit
	AdminToken      string           // bearer token for /api/stats; empty refuses everyone
	AllowedOrigins  []string         // WebSocket origins allowed besides the page's own host; "*" allows any
	Version         string           // shown by /api/info
	JoinURL         func() string    // the lobby URL to share ("http://192.168.1.20:8080/jam"); nil or "" means from the request's Host
	Now             func() time.Time // the clock; nil means the wall clock advanced by the monotonic one (see steadyClock)
	Linker          Linker           // starts Ableton Link peers for a linked room; nil means Link is off (link_off)
}

func (c Config) reconnectGrace() time.Duration {
	return orDefault(c.ReconnectGrace, DefaultReconnectGrace)
}
func (c Config) maxParticipants() int      { return orDefault(c.MaxParticipants, DefaultMaxParticipants) }
func (c Config) sessionTTL() time.Duration { return orDefault(c.SessionTTL, DefaultSessionTTL) }
func (c Config) seatHold() time.Duration   { return orDefault(c.SeatHold, DefaultSeatHold) }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
