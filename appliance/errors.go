package appliance

import (
	"errors"
	"fmt"
)

// Error codes, shared by the wire protocol and the HTTP API. docs/protocol.md lists when each is sent.
const (
	EINVALIDMESSAGE   = "invalid_message"
	EUNKNOWNTYPE      = "unknown_type"
	EINVALIDROOMCODE  = "invalid_room_code"
	ENOTFOUND         = "room_not_found"
	EROOMFULL         = "room_full"
	EINVALIDNAME      = "invalid_name"
	EINVALIDTEMPO     = "invalid_tempo"
	EINVALIDKEY       = "invalid_key"
	EINVALIDPATTERN   = "invalid_pattern"
	EFORBIDDEN        = "forbidden"
	ENOTINSESSION     = "not_in_session"
	EALREADYINSESSION = "already_in_session"
	ERATELIMITED      = "rate_limited"
	EINTERNAL         = "internal"
	EUNAUTHORIZED     = "unauthorized" // HTTP only
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

// httpStatus maps each code to the HTTP status the API answers with.
var httpStatus = map[string]int{
	EINVALIDMESSAGE:   400,
	EUNKNOWNTYPE:      400,
	EINVALIDROOMCODE:  400,
	ENOTFOUND:         404,
	EROOMFULL:         409,
	EINVALIDNAME:      400,
	EINVALIDTEMPO:     400,
	EINVALIDKEY:       400,
	EINVALIDPATTERN:   400,
	EFORBIDDEN:        403,
	ENOTINSESSION:     409,
	EALREADYINSESSION: 409,
	ERATELIMITED:      429,
	EINTERNAL:         500,
	EUNAUTHORIZED:     401,
}
