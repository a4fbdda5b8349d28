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
	"strings"
)

// Error codes. They are part of the JSON API contract
// ({"error": {"code": …, "message": …, "field": …}}), so never rename one.
const (
	EINVALID      = "invalid"      // the input is wrong; Field names it
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // credentials fine, role not allowed
	ENOTFOUND     = "not_found"    // the record does not exist
	ECONFLICT     = "conflict"     // the record's state does not allow it
	ETOOLARGE     = "too_large"    // the request is over a size or count limit
	ERATELIMIT    = "rate_limited" // the caller must slow down
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is a refusal or failure with a code from the list above, safe to
// show to the user; internal details stay in wrapped errors and logs.
//
// Its text is a message key with arguments rather than a finished
// sentence: Key is English text, a fmt format for Args, and it is what the
// console's catalogues translate, so one refusal reads in the reader's
// language on a page and in English in the JSON API, logs and the CLI. A
// refusal about one input names it in Field ("name", "lines[2].quantity"),
// so a form can show the message beside that input; the key then says only
// what is wrong with it ("must be 1 to %d"), never the field's name.
type Error struct {
	Code  string
	Field string // the input the refusal is about; "" = none
	Key   string // the message: English text, a fmt format when Args are given
	Args  []any
}

// Text is the key with its arguments, in English, without the field.
func (e *Error) Text() string {
	if len(e.Args) == 0 {
		return e.Key
	}
	return fmt.Sprintf(e.Key, e.Args...)
}

// Message is the English message: "field: text" for a refusal about a
// field, the text alone otherwise.
func (e *Error) Message() string {
	if e.Field == "" {
		return e.Text()
	}
	return e.Field + ": " + e.Text()
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("keel error: code=%s message=%s", e.Code, e.Message())
}

// Errorf returns an *Error with the given code, about no one field, whose
// key is format.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Key: format, Args: args}
}

// Invalid returns an EINVALID *Error about field: key (a format for args)
// says what is wrong with it.
func Invalid(field, key string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Key: key, Args: args}
}

// FieldErrorf returns an *Error with the given code about field, for the
// refusals about one input that are not EINVALID: a conflict with another
// record (ECONFLICT), a file over a limit (ETOOLARGE).
func FieldErrorf(code, field, key string, args ...any) *Error {
	return &Error{Code: code, Field: field, Key: key, Args: args}
}

// OneOf returns nil when v is one of values, and otherwise an EINVALID
// error about field that lists them: "required" when v is empty. It is the
// one check of every closed list of codes (kinds, statuses, roles), so the
// list lives once, beside its type, and every caller refuses alike.
func OneOf[T ~string](field string, v T, values []T) error {
	names := make([]string, len(values))
	for i, x := range values {
		if x == v {
			return nil
		}
		names[i] = string(x)
	}
	if v == "" {
		return Invalid(field, "required (one of %s)", strings.Join(names, ", "))
	}
	return Invalid(field, "%q is not one of %s", string(v), strings.Join(names, ", "))
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

// ErrorMessage returns the user-facing English message of the first *Error
// in err's chain, and a generic message for any other error so internals
// never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message()
	}
	return "internal error"
}

// ErrorField returns the field of the first *Error in err's chain, "" when
// there is none or it is about no one field.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrChanged is returned by an update that was based on a record as read
// (its Version) when the record changed since: the caller reads again and
// redoes its change, so no one's change is silently overwritten.
var ErrChanged = &Error{Code: ECONFLICT, Key: "the record was changed by someone else after it was read; read it again"}
