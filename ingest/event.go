// Package ingest is the event contract: the schema of a product event, its
// validation, and the parser of a POST /v1/events body. It uses the standard
// library only, so everything that speaks the contract can import it: the
// HTTP collector and its Kafka producer (package ingest/collector), the Go
// client product apps send with (package ingest/client), which pulls in
// neither, and the warehouse loader.
//
// The same parser and rules run in the collector and in the loader, so an
// event written straight to Kafka is judged exactly like one that came
// through HTTP.
package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event types of the contract (DESIGN.md, "Events").
const (
	TypeLogin        = "login"
	TypeLogout       = "logout"
	TypeFeatureUsed  = "feature_used"
	TypePageView     = "page_view"
	TypeAPICall      = "api_call"
	TypeSeatSnapshot = "seat_snapshot"
	customPrefix     = "custom."
)

// Limits of the contract.
const (
	MaxIDLen        = 64      // bytes of an event id
	MaxTenantLen    = 128     // bytes of a tenant id
	MaxUserLen      = 256     // bytes of a user id
	MaxCustomLen    = 64      // bytes of the <name> in custom.<name>
	MaxPropsBytes   = 8 << 10 // bytes of the props object as sent
	MaxBatchEvents  = 1000    // events in one POST
	MaxBatchBytes   = 1 << 20 // bytes of one POST body
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxAhead = 5 * time.Minute
)

// Event is one product event as it travels from a product app to ClickHouse.
type Event struct {
	ID     string
	Type   string
	Tenant string
	User   string
	Time   time.Time // UTC
	// Props is the event's flat props object as compact JSON ("{}" when the
	// event had none). It is stored as sent so that nothing is lost.
	Props string
}

// Rules decide which event times are acceptable relative to a reference
// time: the collector uses its clock, the loader the moment Kafka received
// the message, so a backlog in the loader never turns a good event bad.
type Rules struct {
	MaxAhead time.Duration // how far in the future an event may be; default 5 minutes
	MaxAge   time.Duration // the late-arrival window; default 30 days
}

// DefaultRules are the contract's defaults.
var DefaultRules = Rules{MaxAhead: DefaultMaxAhead, MaxAge: DefaultMaxAge}

// FieldError is a problem with one field of one event. Its message always
// starts with the field's name, so a product developer can find it.
type FieldError struct {
	Field   string // e.g. "time" or "props.seats"; "" for the event as a whole
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Check applies the time rules to e with now as the reference time.
func (r Rules) Check(e *Event, now time.Time) error {
	if e.Time.After(now.Add(r.MaxAhead)) {
		return fieldErr("time", "%s is more than %s in the future", e.Time.Format(time.RFC3339), r.MaxAhead)
	}
	if e.Time.Before(now.Add(-r.MaxAge)) {
		return fieldErr("time", "%s is older than the late-arrival window of %s", e.Time.Format(time.RFC3339), formatDays(r.MaxAge))
	}
	return nil
}

func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.String()
}

// checkType reports whether t is a known event type.
func checkType(t string) error {
	switch t {
	case TypeLogin, TypeLogout, TypeFeatureUsed, TypePageView, TypeAPICall, TypeSeatSnapshot:
		return nil
	}
	name, ok := strings.CutPrefix(t, customPrefix)
	if !ok {
		return fieldErr("type", "unknown type %q; use login, logout, feature_used, page_view, api_call, seat_snapshot or custom.<name>", truncate(t, 40))
	}
	if name == "" || len(name) > MaxCustomLen {
		return fieldErr("type", "custom.<name> needs a name of 1 to %d characters", MaxCustomLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fieldErr("type", "custom.<name> may only hold a-z, 0-9, '_', '.' and '-'")
		}
	}
	return nil
}

// needsUser reports whether events of type t must name a user: everything a
// person does does; a seat snapshot describes the tenant and an API call may
// come from a machine key.
func needsUser(t string) bool {
	return t != TypeSeatSnapshot && t != TypeAPICall
}

// checkID validates an id-like field: present, not too long, printable.
func CheckID(field, v string, max int) error {
	if v == "" {
		return fieldErr(field, "required")
	}
	if len(v) > max {
		return fieldErr(field, "longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return fieldErr(field, "not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
