// Package keel holds Keel's domain: the types every part of the system shares,
// the rules that govern them, and the coded error type that carries a rule's
// refusal from the domain to an HTTP status or a CLI message.
//
// Nothing in this package does I/O. Adapters live in the folders below it:
// ingest (the event collector and its client), warehouse (ClickHouse),
// postgres (records), console (the web UI and JSON API) and devstack (local
// servers for development and tests).
package keel

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the JSON API contract
// ({"error": {"code": …, "message": …}}), so never rename one.
const (
	EINVALID      = "invalid"      // the input is wrong; the message names the field
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // credentials fine, role not allowed
	ENOTFOUND     = "not_found"    // the record does not exist
	ECONFLICT     = "conflict"     // the record's state does not allow it
	ETOOLARGE     = "too_large"    // the request is over a size or count limit
	ERATELIMIT    = "rate_limited" // the caller must slow down
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is a failure with a code from the list above and a message that is
// safe to show to the user. Internal details stay in wrapped errors and logs.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("keel error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain, and a generic message for any other error so internals never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
