package appliance

import (
	"errors"
	"fmt"
)

// Error codes, shared by the wire protocol and the HTTP API. docs/protocol.md lists when each is sent.
const (
	EINVALIDMESSAGE     = "invalid_message"
	EUNKNOWNTYPE        = "unknown_type"
	EINVALIDROOMCODE    = "invalid_room_code"
	ENOTFOUND           = "room_not_found"
	EROOMFULL           = "room_full"
	EINVALIDNAME        = "invalid_name"
	ENAMETAKEN          = "name_taken"
	EINVALIDTEMPO       = "invalid_tempo"
	EINVALIDKEY         = "invalid_key"
	EINVALIDPATTERN     = "invalid_pattern"
	EFORBIDDEN          = "forbidden"
	EROOMLOCKED         = "room_locked"
	EREMOVED            = "removed"
	ESEATTAKEN          = "seat_taken"
	EINVALIDPARTICIPANT = "invalid_participant"
	ENOTINSESSION       = "not_in_session"
	EALREADYINSESSION   = "already_in_session"
	ERATELIMITED        = "rate_limited"
	EBOXFULL            = "box_full"
	ELINKINUSE          = "link_in_use"
	ELINKOFF            = "link_off"
	EINTERNAL           = "internal"
	EUNAUTHORIZED       = "unauthorized" // HTTP only
	ENOHOTSPOT          = "no_hotspot"   // HTTP only: jamd's own Wi-Fi is down, or the request did not come over it
)

// Error is the one error type a client ever sees: a code from the list above and a sentence a
// musician can read. Anything else is internal: logged with its detail, shown as EINTERNAL.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("jamd error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the musician-readable message of err; internal errors get a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on the jam box; nothing was changed. Please try again."
}

// The errors the domain returns from more than one place, each worded here once.

func errNotAMessage() error {
	return Errorf(EINVALIDMESSAGE, "Messages must be JSON objects with a type.")
}

func errNotInSession() error {
	return Errorf(ENOTINSESSION, "You are not in a session. Create or join one first.")
}

func errAlreadyInSession() error {
	return Errorf(EALREADYINSESSION, "You are already in a session. Leave it first.")
}

func errRoomNotFound() error {
	return Errorf(ENOTFOUND, "There is no session with that code. Check it, or start a new one.")
}

// errNotSaved is what a client hears when the store refused a change; the cause is logged.
func errNotSaved() error {
	return Errorf(EINTERNAL, "The jam box could not save that change; nothing changed. Please try again.")
}

func errInvalidTempo() error {
	return Errorf(EINVALIDTEMPO, "Tempo must be a number from %d to %d BPM.", MinTempo, MaxTempo)
}

func errInvalidKey() error {
	return Errorf(EINVALIDKEY, "Pick a key from C to B and a scale such as major or minor.")
}

func errInvalidStep() error {
	return Errorf(EINVALIDPATTERN, "A step is a track (kick, snare, hihat or clap) and a step number from 0 to %d.", Steps-1)
}

// errMissing is a request that lacks a required field.
func errMissing(typ, field string) error {
	return Errorf(EINVALIDMESSAGE, "A %s message needs %s.", typ, field)
}

func errNoSuchParticipant() error {
	return Errorf(EINVALIDPARTICIPANT, "Nobody in this session has that id.")
}

func errLinkOff() error {
	return Errorf(ELINKOFF, "Ableton Link is turned off on this jam box.")
}
