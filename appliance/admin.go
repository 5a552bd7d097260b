package appliance

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The operator's tools: GET /api/sessions lists the live sessions and POST
// /api/sessions/{code}/end ends one (`jamd sessions`, `jamd end`). Both need the admin token.

// TypeSessionEnded is the server→client event telling every member that the operator ended the
// session: {roomCode, reason}. The session is gone; a client should not rejoin it.
const TypeSessionEnded = "session:ended"

// DefaultEndReason is what members are told when the operator gave no reason.
const DefaultEndReason = "The person running the jam box ended this session."

// maxReasonRunes bounds the reason an operator gives for ending a session.
const maxReasonRunes = 200

// requireAdmin lets a request through to next only with Authorization: Bearer <token>.
func requireAdmin(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAdmin(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jamd"`)
			writeError(w, Errorf(EUNAUTHORIZED, "Send the admin token as Authorization: Bearer <token>."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isAdmin(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// SessionSummary is one session as GET /api/sessions lists it.
type SessionSummary struct {
	RoomCode     string    `json:"roomCode"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActive   time.Time `json:"lastActive"`
	Tempo        float64   `json:"tempo"`
	IsPlaying    bool      `json:"isPlaying"`
	Participants int       `json:"participants"`
	Connected    int       `json:"connected"`
	Reconnecting int       `json:"reconnecting"`
	Away         int       `json:"away"`
}

// sessionList summarises every live session, oldest first.
func (h *Hub) sessionList() []SessionSummary {
	h.mu.Lock()
	rooms := h.roomList()
	h.mu.Unlock()
	out := make([]SessionSummary, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			s := r.s
			sum := SessionSummary{RoomCode: s.Code, CreatedAt: s.CreatedAt.UTC(), LastActive: s.LastActive.UTC(),
				Tempo: s.State.Tempo, IsPlaying: s.State.IsPlaying, Participants: len(s.Participants)}
			for _, p := range s.Participants {
				switch p.Presence {
				case Connected:
					sum.Connected++
				case Reconnecting:
					sum.Reconnecting++
				default:
					sum.Away++
				}
			}
			out = append(out, sum)
		}
		r.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SessionSummary) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.RoomCode, b.RoomCode)
	})
	return out
}

// sessionEnded is the data of session:ended.
type sessionEnded struct {
	RoomCode string `json:"roomCode"`
	Reason   string `json:"reason"`
}

// endSession deletes the session with code at the operator's request. Every member is told why
// (session:ended) and keeps an open connection that holds no seat, as after session:left.
// It returns how many members were connected.
func (h *Hub) endSession(rawCode, reason string) (told int, err error) {
	code, err := NormalizeRoomCode(rawCode)
	if err != nil {
		return 0, err
	}
	r := h.room(code)
	if r == nil {
		return 0, errRoomNotFound()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return 0, errRoomNotFound()
	}
	if err := h.deleteRoom(r, "ended"); err != nil {
		return 0, err
	}
	frame := encode(TypeSessionEnded, "", sessionEnded{RoomCode: code, Reason: reason})
	for _, m := range r.members {
		m.enqueue(frame)
	}
	h.log.Info("session ended by the operator", "room", code, "reason", reason, "told", len(r.members))
	return len(r.members), nil
}

// cleanReason makes an operator's reason fit to show on every phone: one line without control
// characters, at most maxReasonRunes, DefaultEndReason when empty.
func cleanReason(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}), " ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if utf8.RuneCountInString(s) > maxReasonRunes {
		s = string([]rune(s)[:maxReasonRunes-1]) + "…"
	}
	if s == "" {
		return DefaultEndReason
	}
	return s
}

func handleSessionList(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"sessions": h.sessionList()})
	})
}

// handleEndSession ends a session: POST /api/sessions/{code}/end with an optional {"reason"}.
func handleEndSession(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil && err != io.EOF {
			writeError(w, Errorf(EINVALIDMESSAGE, `Send {"reason": "..."} or nothing.`))
			return
		}
		reason := cleanReason(body.Reason)
		told, err := h.endSession(r.PathValue("code"), reason)
		if err != nil {
			writeError(w, err)
			return
		}
		code, _ := NormalizeRoomCode(r.PathValue("code"))
		writeJSON(w, http.StatusOK, map[string]any{"roomCode": code, "reason": reason, "told": told})
	})
}
