package appliance

import (
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	qrcode "github.com/skip2/go-qrcode"
)

// routes is the whole HTTP surface of jamd, behind the door (guard.go).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealth())
	mux.Handle("GET /api/info", handleInfo(s.cfg))
	mux.Handle("GET /api/hotspot", handleHotspot(s.cfg))
	mux.Handle("GET /api/hotspot/qr.png", handleHotspotQR(s.cfg))
	mux.Handle("GET /api/sessions/{code}", handleSessionInfo(s.hub))
	mux.Handle("GET /api/sessions/{code}/qr.png", handleSessionQR(s.hub, s.cfg))
	mux.Handle("GET /api/stats", handleStats(s.hub, s.cfg.AdminToken))
	mux.Handle("GET /ws", handleWebSocket(s.hub, s.cfg.AllowedOrigins))
	mux.Handle("GET /metrics", handleMetrics(s.hub, s.cfg))
	mux.Handle("GET /api/backup", requireAdmin(s.cfg.AdminToken, handleBackup(s.hub)))
	mux.Handle("GET /api/sessions", requireAdmin(s.cfg.AdminToken, handleSessionList(s.hub)))
	mux.Handle("POST /api/sessions/{code}/end", requireAdmin(s.cfg.AdminToken, handleEndSession(s.hub)))
	mux.Handle("GET /{$}", http.RedirectHandler("/jam", http.StatusFound))
	mux.Handle("GET /jam", handleIndex(s.webapp))
	mux.Handle("GET /jam/", handleIndex(s.webapp))
	mux.Handle("GET /", handleAssets(s.webapp))
	// The phones' connectivity probes come first, on jamd's own hotspot only (captive.go): they
	// name hosts that are not this box's.
	return answerProbes(s.cfg, guard(s.hub, s.cfg, mux))
}

// contentSecurity is what the web app may load and do: its own files and its own WebSocket,
// nothing inline, in no frame.
const contentSecurity = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// guard answers only requests addressed to this box (a web page that rebinds its own name to
// the box's address sends its own name as Host: 421), refuses bodies on GET (a body trickled
// in would hold the connection), and sets the headers that keep the web app in its lane.
func guard(h *Hub, cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.hosts.allowed(r.Host) && !typedOnHotspot(cfg, r) {
			h.refusals.add(deviceKey(remoteIP(r)))
			h.metrics.refused("host")
			http.Error(w, "This jam box does not answer to that name.", http.StatusMisdirectedRequest)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.ContentLength > 0 || len(r.TransferEncoding) > 0) {
			w.Header().Set("Connection", "close")
			http.Error(w, "GET requests to this jam box carry no body.", http.StatusBadRequest)
			return
		}
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", contentSecurity)
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleInfo tells tools such as `jamd qr` the join URL and the version.
func handleInfo(cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"joinUrl": joinURL(cfg, r), "version": cfg.Version})
	})
}

// handleSessionInfo tells anyone whether a session exists and whether they could join it: no
// more (who is in it, and since when, is for its members).
// handleHotspot tells the web app's Share tab how to join jamd's own Wi-Fi: its name, password
// and the address to type. Only a request that arrives on the hotspot gets them (anyone who can
// send one already knows the password); anyone else, on a venue network say, hears {"up": false}.
func handleHotspot(cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		hs, ok := onHotspot(cfg, r)
		if !ok {
			writeJSON(w, http.StatusOK, map[string]any{"up": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"up": true, "ssid": hs.SSID, "password": hs.Password, "typeUrl": hs.TypeURL})
	})
}

// handleHotspotQR serves the Wi-Fi QR code (WiFiQR) of jamd's own hotspot, on the hotspot only.
func handleHotspotQR(cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs, ok := onHotspot(cfg, r)
		if !ok {
			writeError(w, Errorf(ENOHOTSPOT, "jamd's own Wi-Fi is not up, or this device is not on it."))
			return
		}
		writeQRPNG(w, WiFiQR(hs.SSID, hs.Password), "no-store") // it holds the password
	})
}

func handleSessionInfo(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := h.sessionInfo(deviceKey(remoteIP(r)), r.PathValue("code"), r.URL.Query().Get("k"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
}

// handleSessionQR serves a QR code of the session's join link, for phones to scan off a screen:
// with its join key when the request has it (the web app's Share tab), else the code alone.
// Rendering costs milliseconds of CPU, so codes are kept and each device may ask only so often.
func handleSessionQR(h *Hub, cfg Config) http.Handler {
	var cache qrCache
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		device := deviceKey(remoteIP(r))
		if !h.qrs.allow(device, h.now()) {
			w.Header().Set("Retry-After", "60")
			writeError(w, Errorf(ERATELIMITED, "Too many QR codes asked for from this device; wait a minute."))
			return
		}
		key := r.URL.Query().Get("k")
		info, err := h.sessionInfo(device, r.PathValue("code"), key)
		if err != nil {
			writeError(w, err)
			return
		}
		link := joinURL(cfg, r) + "/" + info.RoomCode
		if info.keyOK {
			link += "#" + key
		}
		png, err := cache.get(link)
		if err != nil {
			writeError(w, err)
			return
		}
		writePNG(w, png, "private, no-cache")
	})
}

// writePNG answers with a PNG.
func writePNG(w http.ResponseWriter, png []byte, cacheControl string) {
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", cacheControl)
	w.Write(png)
}

// writeQRPNG answers with a 512-pixel PNG QR code of text.
func writeQRPNG(w http.ResponseWriter, text, cacheControl string) {
	png, err := qrcode.Encode(text, qrcode.Medium, 512)
	if err != nil {
		writeError(w, err)
		return
	}
	writePNG(w, png, cacheControl)
}

// qrCache keeps the PNGs of the last links asked for.
type qrCache struct {
	mu   sync.Mutex
	pngs map[string][]byte
}

func (c *qrCache) get(link string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if png, ok := c.pngs[link]; ok {
		return png, nil
	}
	png, err := qrcode.Encode(link, qrcode.Medium, 512)
	if err != nil {
		return nil, err
	}
	if c.pngs == nil || len(c.pngs) >= 128 {
		c.pngs = map[string][]byte{} // a room's link rarely changes: starting over is fine
	}
	c.pngs[link] = png
	return png, nil
}

func handleStats(h *Hub, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jamd"`)
			writeError(w, Errorf(EUNAUTHORIZED, "Send the admin token as Authorization: Bearer <token>."))
			return
		}
		writeJSON(w, http.StatusOK, h.stats())
	})
}

func handleWebSocket(h *Hub, allowedOrigins []string) http.Handler {
	up := websocket.Upgrader{
		// Client frames are small; a longer one is read in several reads. Frames are written
		// by the Client itself (client.go), so gorilla's write buffer is only borrowed, never held.
		ReadBufferSize:  readBufferSize,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(r *http.Request) bool { return originAllowed(r, h.hosts, allowedOrigins) },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			h.connectionErrors.Add(1)
			h.refusals.add(deviceKey(remoteIP(r)))
			h.metrics.refused(refusedReason(status))
			http.Error(w, http.StatusText(status), status)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		device := deviceKey(remoteIP(r))
		// Past a cap, refuse before the upgrade: a refused socket costs nothing to keep. A phone
		// reconnects a few times a minute at most; a device opening sockets in a loop is slowed.
		if !h.buckets.take("u/"+device, upgradeRate, max(upgradeBurst, float64(h.cfg.maxConnectionsPerDevice())), h.now()) {
			h.refusals.add(device)
			h.metrics.refused("too_fast")
			w.Header().Set("Retry-After", "10")
			http.Error(w, "This device opens connections too often; try again in a moment.", http.StatusTooManyRequests)
			return
		}
		if ok, why := h.door.admit(device, h.cfg.maxConnections(), h.cfg.maxConnectionsPerDevice()); !ok {
			h.refusals.add(device)
			w.Header().Set("Retry-After", "30")
			status, reason := http.StatusServiceUnavailable, "too_many_connections"
			if why != "too many connections" {
				status, reason = http.StatusTooManyRequests, "too_many_from_device"
			}
			h.metrics.refused(reason)
			http.Error(w, "This jam box has "+why+"; try again in a moment.", status)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			h.door.release(device)
			return // Error above has answered
		}
		// Only the socket is kept: gorilla's Conn and its buffers go (Upgrade refused a client
		// that sent frames before the handshake was done, so none are buffered there).
		c := newClient(h, conn.NetConn(), remoteIP(r))
		if !h.register(c) {
			h.door.release(device)
			h.metrics.refused("shutting_down")
			c.kick(closeGoingAway, "jamd is shutting down")
			return
		}
		// This handler returns: net/http's goroutine, its (grown) stack, its request and its
		// 4 KiB read and write buffers go, instead of being held for the life of the socket.
		c.start(func() {
			h.unregister(c)
			h.door.release(device)
		})
	})
}

// originAllowed lets a browser open the WebSocket only from a page this box served (an origin
// whose scheme is http or https and whose host is the request's own, on the allow-list) or from
// an origin the operator allowed; clients that send no Origin are not browsers and may connect.
func originAllowed(r *http.Request, hosts *hostList, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) && hosts.allowed(u.Host)
}

// handleIndex serves the web app's index.html for /jam and every /jam/<anything>, so that
// shared links and reloads land in the app, which reads the path itself.
func handleIndex(webapp fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, webapp, "index.html")
	})
}

// handleAssets serves the web app's other files; the hashed names under /assets never change.
// Folders are not listed.
func handleAssets(webapp fs.FS) http.Handler {
	files := http.FileServerFS(webapp)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/index.html" {
			http.Redirect(w, r, "/jam", http.StatusFound)
			return
		}
		if st, err := fs.Stat(webapp, strings.Trim(path.Clean(r.URL.Path), "/")); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

// joinURL is the lobby URL phones should open: the configured one, else this request's host.
func joinURL(cfg Config, r *http.Request) string {
	if cfg.JoinURL != nil {
		if u := cfg.JoinURL(); u != "" {
			return strings.TrimSuffix(u, "/")
		}
	}
	return "http://" + r.Host + "/jam"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with the error's HTTP status and {"error": {"code", "message"}}.
func writeError(w http.ResponseWriter, err error) {
	code := ErrorCode(err)
	writeJSON(w, httpStatus[code], map[string]any{"error": map[string]string{"code": code, "message": ErrorMessage(err)}})
}

// httpStatus maps each error code to the HTTP status the API answers with.
var httpStatus = map[string]int{
	EINVALIDMESSAGE:     http.StatusBadRequest,
	EUNKNOWNTYPE:        http.StatusBadRequest,
	EINVALIDROOMCODE:    http.StatusBadRequest,
	ENOTFOUND:           http.StatusNotFound,
	EROOMFULL:           http.StatusConflict,
	EINVALIDNAME:        http.StatusBadRequest,
	ENAMETAKEN:          http.StatusConflict,
	EINVALIDTEMPO:       http.StatusBadRequest,
	EINVALIDKEY:         http.StatusBadRequest,
	EINVALIDPATTERN:     http.StatusBadRequest,
	EFORBIDDEN:          http.StatusForbidden,
	ELINKINUSE:          http.StatusConflict,
	ELINKOFF:            http.StatusForbidden,
	EROOMLOCKED:         http.StatusForbidden,
	EREMOVED:            http.StatusForbidden,
	ESEATTAKEN:          http.StatusConflict,
	EINVALIDPARTICIPANT: http.StatusBadRequest,
	ENOTINSESSION:       http.StatusConflict,
	EALREADYINSESSION:   http.StatusConflict,
	ERATELIMITED:        http.StatusTooManyRequests,
	EBOXFULL:            http.StatusServiceUnavailable,
	EINTERNAL:           http.StatusInternalServerError,
	EUNAUTHORIZED:       http.StatusUnauthorized,
	ENOHOTSPOT:          http.StatusNotFound,
}
