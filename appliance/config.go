package appliance

import "time"

// Defaults of the Config fields whose zero value stands for one; `jamd serve` shows them as its
// flags' defaults.
const (
	DefaultReconnectGrace  = 30 * time.Second
	DefaultMaxParticipants = 10
	DefaultSessionTTL      = 24 * time.Hour
	DefaultSeatHold        = 6 * time.Hour

	// Caps sized for a Raspberry Pi serving a room of musicians: far above what a band needs,
	// far below what exhausts a 1 GB Pi (about 7 KiB per idle connection, at most ~340 KiB while
	// flooding: see docs/operations.md).
	DefaultMaxConnections          = 400
	DefaultMaxConnectionsPerDevice = 24
	DefaultMaxSessions             = 50
	DefaultCreatesPerMinute        = 30
)

// Config holds the appliance's options. The zero value of each field is a documented default.
type Config struct {
	ReconnectGrace  time.Duration // how long a dropped seat shows as reconnecting before away; 0 means DefaultReconnectGrace
	SeatHold        time.Duration // how long an away seat is kept; 0 means DefaultSeatHold
	MaxParticipants int           // seats per session; 0 means DefaultMaxParticipants
	SessionTTL      time.Duration // idle sessions are deleted after this; 0 means DefaultSessionTTL
	CreateRateLimit int           // session creations per minute per device; 0 means no limit
	// CreatesPerMinute caps session creations per minute from all devices together; 0 means DefaultCreatesPerMinute.
	CreatesPerMinute        int
	MaxConnections          int                    // open WebSockets in total; 0 means DefaultMaxConnections
	MaxConnectionsPerDevice int                    // open WebSockets per device (an address, an IPv6 /64); 0 means DefaultMaxConnectionsPerDevice
	MaxSessions             int                    // live sessions; 0 means DefaultMaxSessions
	Hosts                   []string               // names this box answers to besides its own addresses and localhost (mDNS names, --public-url, --allowed-hosts)
	AdminToken              string                 // bearer token for /api/stats, /metrics and the admin routes; empty refuses everyone
	MetricsPublic           bool                   // serve /metrics without the admin token
	AllowedOrigins          []string               // WebSocket origins allowed besides the page's own host; "*" allows any
	Version                 string                 // shown by /api/info
	JoinURL                 func() string          // the lobby URL to share ("http://192.168.1.20:8080/jam"); nil or "" means from the request's Host
	Hotspot                 func() (Hotspot, bool) // jamd's own Wi-Fi and whether it is up now; nil means never (see captive.go)
	Now                     func() time.Time       // the clock; nil means the wall clock advanced by the monotonic one (see steadyClock)
	Linker                  Linker                 // starts Ableton Link peers for a linked room; nil means Link is off (link_off)
}

func (c Config) reconnectGrace() time.Duration {
	return orDefault(c.ReconnectGrace, DefaultReconnectGrace)
}
func (c Config) maxParticipants() int      { return orDefault(c.MaxParticipants, DefaultMaxParticipants) }
func (c Config) sessionTTL() time.Duration { return orDefault(c.SessionTTL, DefaultSessionTTL) }
func (c Config) seatHold() time.Duration   { return orDefault(c.SeatHold, DefaultSeatHold) }
func (c Config) maxConnections() int       { return orDefault(c.MaxConnections, DefaultMaxConnections) }
func (c Config) maxConnectionsPerDevice() int {
	return orDefault(c.MaxConnectionsPerDevice, DefaultMaxConnectionsPerDevice)
}
func (c Config) maxSessions() int { return orDefault(c.MaxSessions, DefaultMaxSessions) }

// deviceSeats is how many seats' request budget one device gets: two at the default cap, more
// when the operator lets one address hold more connections (a load test from one machine).
func (c Config) deviceSeats() int {
	return 2 * max(1, (c.maxConnectionsPerDevice()+DefaultMaxConnectionsPerDevice-1)/DefaultMaxConnectionsPerDevice)
}
func (c Config) createsPerMinute() int { return orDefault(c.CreatesPerMinute, DefaultCreatesPerMinute) }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
