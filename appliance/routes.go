package appliance

import (
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
	qrcode "github.com/skip2/go-qrcode"
)

// routes is the whole HTTP surface of jamd.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealth())
	mux.Handle("GET /api/info", handleInfo(s.cfg))
	mux.Handle("GET /api/sessions/{code}", handleSessionInfo(s.hub))
	mux.Handle("GET /api/sessions/{code}/qr.png", handleSessionQR(s.hub, s.cfg))
	mux.Handle("GET /api/stats", handleStats(s.hub, s.cfg.AdminToken))
	mux.Handle("GET /ws", handleWebSocket(s.hub, s.cfg.AllowedOrigins))
	mux.Handle("GET /{$}", http.RedirectHandler("/jam", http.StatusFound))
	mux.Handle("GET /jam", handleIndex(s.webapp))
	mux.Handle("GET /jam/", handleIndex(s.webapp))
	mux.Handle("GET /", handleAssets(s.webapp))
	return mux
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

func handleSessionInfo(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := h.sessionInfo(r.PathValue("code"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
}

// handleSessionQR serves a QR code of the session's join link, for phones to scan off a screen.
func handleSessionQR(h *Hub, cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := h.sessionInfo(r.PathValue("code"))
		if err != nil {
			writeError(w, err)
			return
		}
		png, err := qrcode.Encode(joinURL(cfg, r)+"/"+info.RoomCode, qrcode.Medium, 512)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(png)
	})
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
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(r *http.Request) bool { return originAllowed(r, allowedOrigins) },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			h.connectionErrors.Add(1)
			h.log.Warn("websocket refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "status", status)
			http.Error(w, http.StatusText(status), status)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Error above has answered
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		c := newClient(h, conn, host)
		if !h.register(c) {
			c.kick(closeGoingAway, "jamd is shutting down")
			return
		}
		defer h.unregister(c)
		c.serve()
	})
}

// originAllowed lets a browser open the WebSocket only from a page served by this host or from
// an origin the operator allowed; clients that send no Origin are not browsers and may connect.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) || strings.EqualFold(a, u.Host) {
			return true
		}
	}
	return false
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
func handleAssets(webapp fs.FS) http.Handler {
	files := http.FileServerFS(webapp)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/index.html" {
			http.Redirect(w, r, "/jam", http.StatusFound)
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
	EINTERNAL:           http.StatusInternalServerError,
	EUNAUTHORIZED:       http.StatusUnauthorized,
}
