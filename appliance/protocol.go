package appliance

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxFrameBytes is the largest frame a client may send; a larger one closes the connection (1009).
const MaxFrameBytes = 16 << 10

// maxRequestID bounds the client's request id, which is echoed back in "re"; maxT0Bytes bounds
// clock:ping's t0, echoed back in clock:pong.
const (
	maxRequestID = 64
	maxT0Bytes   = 64
)

// Message types of wire contract v1 (docs/protocol.md).
const (
	TypeSessionCreate   = "session:create"
	TypeSessionCreated  = "session:created"
	TypeSessionJoin     = "session:join"
	TypeSessionJoined   = "session:joined"
	TypeSessionLeave    = "session:leave"
	TypeSessionLeft     = "session:left"
	TypeUserJoined      = "session:user-joined"
	TypeUserUpdated     = "session:user-updated"
	TypeUserLeft        = "session:user-left"
	TypeHostChanged     = "session:host-changed"
	TypeTempoChange     = "state:tempo-change"
	TypeKeyChange       = "state:key-change"
	TypePlaybackControl = "state:playback-control"
	TypeRequestSync     = "state:request-sync"
	TypeSync            = "state:sync"
	TypeSetStep         = "pattern:set-step"
	TypeClearPattern    = "pattern:clear"
	TypeRemove          = "session:remove"
	TypeSettings        = "session:settings"
	TypeSetHost         = "session:set-host"
	TypeLinkControl     = "state:link-control"
	TypeLinkPeers       = "state:link-peers"
	TypeClockPing       = "clock:ping"
	TypeClockPong       = "clock:pong"
	TypeError           = "error"
)

// Request is one decoded client frame: its type, its optional id and its typed payload.
type Request struct {
	Type string
	ID   string
	Data any // one of the *XxxData types below, matching Type
}

// Payloads of client requests, as DecodeRequest returns them: one type per message type, so
// Hub.handle routes every request with one type switch.
type (
	CreateData struct{ UserName string }
	JoinData   struct {
		RoomCode, UserName, ResumeToken string
		JoinKey                         string // from the shared link: lets a new seat into a locked room
		// Attempt grows with every connection attempt of a device for a seat (the web app sends
		// its clock); a resume from an older attempt than the live one holding the seat is stale.
		Attempt float64
	}
	LeaveData       struct{}
	RequestSyncData struct{}
	TempoData       struct{ Tempo float64 }
	KeyData         struct{ Key, Scale string }
	PlaybackData    struct{ IsPlaying bool }
	SetStepData     struct {
		Track string
		Step  int
		On    bool
	}
	ClearPatternData struct{}
	PingData         struct{ T0 json.RawMessage }
	RemoveData       struct{ UserID string }
	SetHostData      struct{ UserID string }
	SettingsData     struct{ Locked, OpenPlayback *bool } // nil: unchanged
	LinkControlData  struct{ Enabled bool }
)

// decoder reads the payload of a message of type typ; data is a JSON object, null or absent.
// It returns one of the *XxxData types above, or an *Error.
type decoder func(typ string, data json.RawMessage) (any, error)

// decoders is every message type a client may send, with the decoder of its payload.
var decoders = map[string]decoder{
	TypeSessionCreate:   decodeCreate,
	TypeSessionJoin:     decodeJoin,
	TypeSessionLeave:    noData[LeaveData],
	TypeRequestSync:     noData[RequestSyncData],
	TypeTempoChange:     decodeTempo,
	TypeKeyChange:       decodeKey,
	TypePlaybackControl: decodePlayback,
	TypeSetStep:         decodeSetStep,
	TypeClearPattern:    noData[ClearPatternData],
	TypeClockPing:       decodePing,
	TypeRemove:          decodeRemove,
	TypeSetHost:         decodeSetHost,
	TypeSettings:        decodeSettings,
	TypeLinkControl:     decodeLinkControl,
}

// DecodeRequest parses one client frame. It returns an *Error (EINVALIDMESSAGE or EUNKNOWNTYPE)
// for anything that is not a well-formed request; the Request's ID is set whenever it could be
// read, so the error can answer it.
func DecodeRequest(frame []byte) (Request, error) {
	var env struct {
		Type *string         `json:"type"`
		ID   json.RawMessage `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if !isJSONObject(frame) || json.Unmarshal(frame, &env) != nil {
		return Request{}, errNotAMessage()
	}
	var req Request
	if len(env.ID) > 0 && string(env.ID) != "null" {
		if json.Unmarshal(env.ID, &req.ID) != nil || utf8.RuneCountInString(req.ID) > maxRequestID {
			req.ID = ""
			return req, Errorf(EINVALIDMESSAGE, "A message id must be a string of at most %d characters.", maxRequestID)
		}
	}
	if env.Type == nil || *env.Type == "" {
		return req, errNotAMessage()
	}
	req.Type = *env.Type
	if len(env.Data) > 0 && string(env.Data) != "null" && !isJSONObject(env.Data) {
		return req, Errorf(EINVALIDMESSAGE, "The data of a %s message must be a JSON object.", req.Type)
	}
	decode, ok := decoders[req.Type]
	if !ok {
		return req, Errorf(EUNKNOWNTYPE, "This jam box does not know the message type %q.", truncate(req.Type, 40))
	}
	data, err := decode(req.Type, env.Data)
	if err == nil {
		req.Data = data
	}
	return req, err
}

// noData decodes a message whose payload, if any, is ignored.
func noData[T any](string, json.RawMessage) (any, error) { return new(T), nil }

func decodeCreate(typ string, data json.RawMessage) (any, error) {
	var d struct {
		UserName *string `json:"userName"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.UserName == nil {
		return nil, errMissing(typ, "userName")
	}
	return &CreateData{UserName: *d.UserName}, nil
}

func decodeJoin(typ string, data json.RawMessage) (any, error) {
	var d struct {
		RoomCode    *string `json:"roomCode"`
		UserName    *string `json:"userName"`
		ResumeToken string  `json:"resumeToken"`
		Attempt     float64 `json:"attempt"`
		JoinKey     string  `json:"joinKey"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	switch {
	case d.RoomCode == nil:
		return nil, errMissing(typ, "roomCode")
	case d.UserName == nil:
		return nil, errMissing(typ, "userName")
	}
	return &JoinData{RoomCode: *d.RoomCode, UserName: *d.UserName, ResumeToken: d.ResumeToken, Attempt: d.Attempt, JoinKey: d.JoinKey}, nil
}

func decodeTempo(_ string, data json.RawMessage) (any, error) {
	var d struct {
		Tempo *float64 `json:"tempo"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.Tempo == nil {
		return nil, errInvalidTempo()
	}
	return &TempoData{Tempo: *d.Tempo}, nil
}

func decodeKey(_ string, data json.RawMessage) (any, error) {
	var d struct {
		Key   *string `json:"key"`
		Scale *string `json:"scale"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.Key == nil || d.Scale == nil {
		return nil, errInvalidKey()
	}
	return &KeyData{Key: *d.Key, Scale: *d.Scale}, nil
}

func decodePlayback(typ string, data json.RawMessage) (any, error) {
	var d struct {
		IsPlaying *bool `json:"isPlaying"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.IsPlaying == nil {
		return nil, errMissing(typ, "isPlaying")
	}
	return &PlaybackData{IsPlaying: *d.IsPlaying}, nil
}

func decodeSetStep(typ string, data json.RawMessage) (any, error) {
	var d struct {
		Track *string  `json:"track"`
		Step  *float64 `json:"step"`
		On    *bool    `json:"on"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	switch {
	case d.On == nil:
		return nil, errMissing(typ, "on")
	case d.Track == nil || d.Step == nil || *d.Step != float64(int(*d.Step)) || *d.Step < 0 || *d.Step >= Steps:
		return nil, errInvalidStep()
	}
	return &SetStepData{Track: *d.Track, Step: int(*d.Step), On: *d.On}, nil
}

func decodeRemove(typ string, data json.RawMessage) (any, error) {
	id, err := decodeUserID(typ, data)
	return &RemoveData{UserID: id}, err
}

func decodeSetHost(typ string, data json.RawMessage) (any, error) {
	id, err := decodeUserID(typ, data)
	return &SetHostData{UserID: id}, err
}

func decodeUserID(typ string, data json.RawMessage) (string, error) {
	var d struct {
		UserID *string `json:"userId"`
	}
	if err := decodeData(data, &d); err != nil {
		return "", err
	}
	if d.UserID == nil {
		return "", errMissing(typ, "userId")
	}
	return *d.UserID, nil
}

func decodeSettings(typ string, data json.RawMessage) (any, error) {
	var d struct {
		Locked       *bool `json:"locked"`
		OpenPlayback *bool `json:"openPlayback"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.Locked == nil && d.OpenPlayback == nil {
		return nil, errMissing(typ, "locked or openPlayback")
	}
	return &SettingsData{Locked: d.Locked, OpenPlayback: d.OpenPlayback}, nil
}

func decodeLinkControl(typ string, data json.RawMessage) (any, error) {
	var d struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if d.Enabled == nil {
		return nil, errMissing(typ, "enabled")
	}
	return &LinkControlData{Enabled: *d.Enabled}, nil
}

// decodePing keeps t0 as the raw JSON the client sent: clock:pong echoes it byte for byte.
func decodePing(typ string, data json.RawMessage) (any, error) {
	var d struct {
		T0 json.RawMessage `json:"t0"`
	}
	if err := decodeData(data, &d); err != nil {
		return nil, err
	}
	if len(d.T0) == 0 {
		return nil, errMissing(typ, "t0")
	}
	// t0 is echoed back as it came: keep it a short number or string, not a payload to reflect.
	if len(d.T0) > maxT0Bytes || !(d.T0[0] == '"' || d.T0[0] == '-' || '0' <= d.T0[0] && d.T0[0] <= '9') {
		return nil, Errorf(EINVALIDMESSAGE, "t0 must be a number or a string of at most %d characters.", maxT0Bytes)
	}
	return &PingData{T0: d.T0}, nil
}

// decodeData unmarshals a payload object; wrong field types are EINVALIDMESSAGE.
func decodeData(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Errorf(EINVALIDMESSAGE, "A field of this message has the wrong type.")
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// envelope is a server frame.
type envelope struct {
	Type string `json:"type"`
	Re   string `json:"re,omitempty"`
	Data any    `json:"data"`
}

// encode marshals a server frame. Every value sent is built from plain structs, so it cannot fail.
func encode(typ, re string, data any) []byte {
	b, err := json.Marshal(envelope{Type: typ, Re: re, Data: data})
	if err != nil {
		panic("appliance: cannot encode " + typ + ": " + err.Error())
	}
	return b
}

// encodeData marshals the data of a server frame of type typ.
func encodeData(typ string, data any) []byte {
	b, err := json.Marshal(data)
	if err != nil {
		panic("appliance: cannot encode " + typ + ": " + err.Error())
	}
	return b
}

// frameData is the server frame {"type", "re"?, "data"} around data encoded once by encodeData:
// a change's reply and its broadcast differ only in re.
func frameData(typ, re string, data []byte) []byte {
	b := make([]byte, 0, len(typ)+len(re)+len(data)+32)
	b = append(append(append(b, `{"type":"`...), typ...), `"`...) // message types need no escaping
	if re != "" {
		reJSON, _ := json.Marshal(re)
		b = append(append(b, `,"re":`...), reJSON...)
	}
	b = append(append(append(b, `,"data":`...), data...), '}')
	return b
}

// pongFrame answers clock:ping with t0 byte for byte as the client sent it (encoding/json would
// compact and re-escape it). t0 is valid JSON: it was decoded from the request.
func pongFrame(re string, t0 json.RawMessage, serverTime float64) []byte {
	b := []byte(`{"type":"` + TypeClockPong + `",`)
	if re != "" {
		reJSON, _ := json.Marshal(re)
		b = append(append(append(b, `"re":`...), reJSON...), ',')
	}
	b = append(append(b, `"data":{"t0":`...), t0...)
	return append(b, `,"serverTime":`+strconv.FormatFloat(serverTime, 'f', 3, 64)+`}}`...)
}

func errorFrame(re string, err error) []byte {
	return encode(TypeError, re, map[string]string{"code": ErrorCode(err), "message": ErrorMessage(err)})
}

// ParticipantView is a Participant as the wire shows it.
type ParticipantView struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	IsHost    bool     `json:"isHost"`
	JoinedAt  string   `json:"joinedAt"`
	Connected bool     `json:"connected"`
	Presence  Presence `json:"presence"`
	AwaySince string   `json:"awaySince,omitempty"` // while reconnecting or away
}

// StateView is State as the wire shows it.
type StateView struct {
	Tempo       float64  `json:"tempo"`
	IsPlaying   bool     `json:"isPlaying"`
	CurrentStep int      `json:"currentStep"`
	Key         string   `json:"key"`
	Scale       string   `json:"scale"`
	Anchor      Anchor   `json:"anchor"`
	Pattern     Pattern  `json:"pattern"`
	Version     int64    `json:"version"`
	Link        linkView `json:"link"`
}

func (s *Session) participantView(p Participant) ParticipantView {
	v := ParticipantView{ID: p.ID, Name: p.Name, IsHost: p.ID == s.HostID,
		JoinedAt: p.JoinedAt.UTC().Format(time.RFC3339), Connected: p.Presence == Connected, Presence: p.Presence}
	if p.Presence != Connected && !p.AwaySince.IsZero() {
		v.AwaySince = p.AwaySince.UTC().Format(time.RFC3339)
	}
	return v
}

func (s *Session) participantsView() []ParticipantView {
	out := make([]ParticipantView, len(s.Participants))
	for i, p := range s.Participants {
		out[i] = s.participantView(p)
	}
	return out
}

func (s *Session) stateView(now float64) StateView {
	st := s.State
	return StateView{Tempo: st.Tempo, IsPlaying: st.IsPlaying, CurrentStep: st.stepAt(now), Key: st.Key,
		Scale: st.Scale, Anchor: st.Anchor, Pattern: st.Pattern, Version: st.Version}
}

// syncData is the data of state:sync, and the most of session:created and session:joined.
type syncData struct {
	RoomCode     string            `json:"roomCode"`
	Participants []ParticipantView `json:"participants"`
	HomeHostID   string            `json:"homeHostId,omitempty"` // the host a stand-in runs the room for
	Settings     Settings          `json:"settings"`
	State        StateView         `json:"state"`
}

// welcome is the data of session:created and session:joined.
type welcome struct {
	syncData
	You         ParticipantView `json:"you"`
	ResumeToken string          `json:"resumeToken"`
	JoinKey     string          `json:"joinKey"` // for the link and QR code members share
}

// userLeft is the data of session:user-left.
type userLeft struct {
	UserID string `json:"userId"`
	Reason string `json:"reason"`       // left, removed, replaced, away too long
	By     string `json:"by,omitempty"` // the host who removed them
}

// sessionLeft is the data of session:left.
type sessionLeft struct {
	RoomCode string `json:"roomCode"`
	Reason   string `json:"reason,omitempty"` // "removed" when the host removed this seat
}
