package appliance

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are jamd's Prometheus metrics (docs/monitoring.md lists them). On the paths every
// change and every frame takes, recording one is an atomic add or a histogram observe: the
// labelled children are looked up once, here, and kept in maps that are never written again.
// Gauges (sessions, seats, connections, the store's size) are read when Prometheus scrapes.
//
// Every method is safe on a nil *metrics (a Hub that a test built by hand has none).
type metrics struct {
	reg *prometheus.Registry

	sessionsEnded *prometheus.CounterVec
	changes       map[string]prometheus.Counter // by message type
	commit        prometheus.Histogram
	fanout        prometheus.Histogram
	slowClients   prometheus.Counter
	limited       atomic.Int64 // requests refused by a connection's rate limit
	refusedBy     *prometheus.CounterVec
	rejected      map[string]prometheus.Counter // frames, by error code
}

// The label values known in advance; anything else is still counted, on a slower path.
var (
	changeTypes    = []string{TypeTempoChange, TypeKeyChange, TypePlaybackControl, TypeSetStep, TypeClearPattern}
	rejectedCodes  = []string{EINVALIDMESSAGE, EUNKNOWNTYPE}
	endReasons     = []string{"idle", "ended"}
	refusedReasons = []string{"origin", "handshake", "shutting_down", "host", "too_many_connections", "too_many_from_device", "too_fast"}
)

// Buckets, in seconds. A commit is an fsync: well under 10 ms on an SSD, tens of ms on a Pi's
// SD card, and anything near a second is a disk in trouble. A frame should leave within a
// millisecond of being queued; tens of ms mean a busy CPU or a phone that reads slowly.
var (
	commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	fanoutBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
)

func newMetrics(h *Hub) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jamd_sessions_ended_total", Help: "Sessions ended, by reason: idle (nobody used it for --session-ttl) or ended (by the operator).",
		}, []string{"reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jamd_commit_duration_seconds", Help: "Time to commit one change of a session to disk (bbolt transaction and fsync, shared with concurrent changes).",
			Buckets: commitBuckets,
		}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jamd_fanout_duration_seconds", Help: "Time from a frame (a reply or a broadcast) being queued for a connection to its being written to the socket.",
			Buckets: fanoutBuckets,
		}),
		slowClients: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jamd_slow_clients_closed_total", Help: "Connections closed (4001) because their send queue was full: the phone was not reading.",
		}),
		refusedBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jamd_connections_refused_total", Help: "Connections refused at the door, by reason: host (a name this box does not answer to, on any route), origin (not this page's), handshake (not a valid upgrade), shutting_down, too_many_connections (--max-connections), too_many_from_device (--max-connections-per-device), too_fast (a device opening sockets in a loop).",
		}, []string{"reason"}),
		changes:  map[string]prometheus.Counter{},
		rejected: map[string]prometheus.Counter{},
	}
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jamd_changes_committed_total", Help: "Changes of a session's shared state or pattern committed, by message type.",
	}, []string{"type"})
	for _, t := range changeTypes {
		m.changes[t] = changes.WithLabelValues(t)
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jamd_frames_rejected_total", Help: "Frames from clients that were not well-formed requests, by error code.",
	}, []string{"code"})
	for _, c := range rejectedCodes {
		m.rejected[c] = rejected.WithLabelValues(c)
	}
	for _, r := range endReasons {
		m.sessionsEnded.WithLabelValues(r)
	}
	for _, r := range refusedReasons {
		m.refusedBy.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.sessionsEnded, changes, m.commit, m.fanout, m.slowClients, m.refusedBy, rejected,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jamd_sessions_created_total", Help: "Sessions created since jamd started.",
		}, func() float64 { return float64(h.sessionsCreated.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jamd_build_info", Help: "Always 1; the version label is this jamd's.", ConstLabels: prometheus.Labels{"version": h.cfg.Version},
		}, func() float64 { return 1 }),
		censusCollector{h},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// commitDone records a commit that started at start; call it as `defer m.commitDone(time.Now())`.
func (m *metrics) commitDone(start time.Time) {
	if m != nil {
		m.commit.Observe(time.Since(start).Seconds())
	}
}

// sent records a frame written to its socket, queued at queued.
func (m *metrics) sent(queued time.Time) {
	if m != nil {
		m.fanout.Observe(time.Since(queued).Seconds())
	}
}

// changed counts a committed change of message type typ.
func (m *metrics) changed(typ string) {
	if m == nil {
		return
	}
	if c, ok := m.changes[typ]; ok {
		c.Inc()
	}
}

// slowClient counts a connection closed for not reading.
func (m *metrics) slowClient() {
	if m != nil {
		m.slowClients.Inc()
	}
}

// rejectedFrame counts a frame answered with err instead of being handled: a malformed frame
// or one past the connection's request rate.
func (m *metrics) rejectedFrame(err error) {
	if m == nil {
		return
	}
	code := ErrorCode(err)
	if code == ERATELIMITED {
		m.limited.Add(1)
		return
	}
	if c, ok := m.rejected[code]; ok {
		c.Inc()
	}
}

// refused counts a WebSocket connection refused for reason (one of refusedReasons).
func (m *metrics) refused(reason string) {
	if m != nil {
		m.refusedBy.WithLabelValues(reason).Inc()
	}
}

// sessionEnded counts a deleted session; why is deleteRoom's.
func (m *metrics) sessionEnded(why string) {
	if m != nil {
		m.sessionsEnded.WithLabelValues(why).Inc()
	}
}

// censusCollector reports, at each scrape, what is live now: it takes each room's lock once,
// as GET /api/stats does.
type censusCollector struct{ h *Hub }

var (
	sessionsDesc  = prometheus.NewDesc("jamd_sessions", "Sessions live now (each with or without seats, until idle for --session-ttl).", nil, nil)
	seatsDesc     = prometheus.NewDesc("jamd_seats", "Seats in live sessions, by presence: connected, reconnecting (dropped less than --reconnect-grace ago) or away.", []string{"presence"}, nil)
	websocketDesc = prometheus.NewDesc("jamd_websockets", "WebSocket connections open now.", nil, nil)
	storeSizeDesc = prometheus.NewDesc("jamd_store_size_bytes", "Size of the session database file (jamd.db).", nil, nil)
	limitedDesc   = prometheus.NewDesc("jamd_rate_limited_total", "Requests refused with rate_limited, by limit: requests (a connection's message rate) or sessions (sessions created per address, --create-rate-limit).", []string{"limit"}, nil)
)

func (c censusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- seatsDesc
	ch <- websocketDesc
	ch <- storeSizeDesc
	ch <- limitedDesc
}

func (c censusCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	h.mu.Lock()
	rooms, conns := h.roomList(), len(h.clients)
	h.mu.Unlock()
	seats := map[Presence]int{Connected: 0, Reconnecting: 0, Away: 0}
	live := 0
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			live++
			for _, p := range r.s.Participants {
				seats[p.Presence]++
			}
		}
		r.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(live))
	for _, p := range []Presence{Connected, Reconnecting, Away} {
		ch <- prometheus.MustNewConstMetric(seatsDesc, prometheus.GaugeValue, float64(seats[p]), string(p))
	}
	ch <- prometheus.MustNewConstMetric(websocketDesc, prometheus.GaugeValue, float64(conns))
	if snap, ok := h.store.(Snapshotter); ok {
		if size, err := snap.Size(); err == nil {
			ch <- prometheus.MustNewConstMetric(storeSizeDesc, prometheus.GaugeValue, float64(size))
		}
	}
	if h.metrics != nil {
		ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(h.metrics.limited.Load()), "requests")
	}
	ch <- prometheus.MustNewConstMetric(limitedDesc, prometheus.CounterValue, float64(h.limiter.refused.Load()), "sessions")
}

// handleMetrics serves the metrics in Prometheus's text format: to the admin token's bearer,
// or to anyone with --metrics-public.
func handleMetrics(h *Hub, cfg Config) http.Handler {
	if h.metrics == nil {
		return http.NotFoundHandler()
	}
	serve := promhttp.HandlerFor(h.metrics.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{h}})
	if cfg.MetricsPublic {
		return serve
	}
	return requireAdmin(cfg.AdminToken, serve)
}

// slogPrinter passes promhttp's errors (a collector that failed) to the log.
type slogPrinter struct{ h *Hub }

func (p slogPrinter) Println(v ...any) { p.h.log.Warn("metrics: a collector failed", "err", v) }

// queued is a frame in a connection's send queue, with when it was queued (for
// jamd_fanout_duration_seconds).
type queued struct {
	frame []byte
	at    time.Time
}

// refusedReason names why the WebSocket upgrade answered status.
func refusedReason(status int) string {
	if status == http.StatusForbidden {
		return "origin"
	}
	return "handshake"
}
