package client

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/ingest"
)

// Event is an event as a product app builds it.
type Event struct {
	// ID is the event's idempotency key. When empty, the client fills a
	// unique id (ULID-like: 48-bit ms time and 80 random bits, Crockford
	// base32, 26 characters) before the first attempt, so that every retry
	// resends the same id and the collector stores the event once.
	ID     string
	Type   string
	Tenant string
	User   string
	Time   time.Time      // zero = now
	Props  map[string]any // string, bool, or numbers only
}

// eventKey is what makes two events the same event: the collector and the
// warehouse store and count an id once per tenant.
type eventKey struct{ tenant, id string }

// fillEvent gives ev the id and time it keeps across every attempt.
func fillEvent(ev *Event, now time.Time) {
	if ev.ID == "" {
		ev.ID = newEventID(now)
	}
	if ev.Time.IsZero() {
		ev.Time = now.Round(0) // without the monotonic reading, which means nothing to anyone else
	}
}

// checkEvent encodes ev and checks it the way the collector will, with
// package ingest's parser, so that Send refuses exactly what the collector
// would refuse for its shape.
func checkEvent(ev *Event) ([]byte, error) {
	// These are checked before encoding because encoding/json would quietly
	// replace invalid UTF-8, and the collector would store a different id.
	if err := ingest.CheckID("id", ev.ID, ingest.MaxIDLen); err != nil {
		return nil, err
	}
	if ev.Type == "" {
		return nil, fieldErr("type", "required")
	}
	if err := ingest.CheckID("tenant", ev.Tenant, ingest.MaxTenantLen); err != nil {
		return nil, err
	}
	if ev.User != "" {
		if err := ingest.CheckID("user", ev.User, ingest.MaxUserLen); err != nil {
			return nil, err
		}
	}
	if err := checkProps(ev.Props); err != nil {
		return nil, err
	}
	raw, err := encodeEvent(ev)
	if err != nil {
		return nil, err
	}
	if _, err := ingest.ParseEvent(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// Encode returns ev as the collector receives it, refused exactly as Send
// would refuse it: what a bulk import that bypasses the HTTP hop (keel
// bench console's scale data) needs to store the same bytes the collector
// would. ev must have its id and time.
func Encode(ev Event) ([]byte, error) {
	if ev.Time.IsZero() {
		return nil, fieldErr("time", "required")
	}
	return checkEvent(&ev)
}

// checkProps accepts the value types the contract allows in props:
// strings, bools and finite numbers (of any Go kind, so named types such as
// `type Plan string` work too).
func checkProps(props map[string]any) error {
	for k, v := range props {
		field := "props." + truncate(k, 40)
		if !utf8.ValidString(k) {
			return fieldErr("props", "a key is not valid UTF-8")
		}
		rv := reflect.ValueOf(v)
		if !rv.IsValid() {
			return fieldErr(field, "must be a string, number or bool, not nil")
		}
		if _, ok := v.(json.Number); ok {
			continue // encoding/json checks its syntax
		}
		switch rv.Kind() {
		case reflect.String:
			if !utf8.ValidString(rv.String()) {
				return fieldErr(field, "not valid UTF-8")
			}
		case reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		case reflect.Float32, reflect.Float64:
			if f := rv.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				return fieldErr(field, "must be a finite number")
			}
		default:
			return fieldErr(field, "must be a string, number or bool, not %T", v)
		}
	}
	return nil
}

// wireEvent is the contract's event JSON.
type wireEvent struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Tenant string         `json:"tenant"`
	User   string         `json:"user,omitempty"`
	Time   string         `json:"time"`
	Props  map[string]any `json:"props,omitempty"`
}

// encodeEvent encodes ev as the collector expects it: time in RFC 3339
// UTC with as many fraction digits as it needs, props (sorted keys, so the
// same event always encodes the same) omitted when empty.
func encodeEvent(ev *Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" need not cost six bytes in a props value
	err := enc.Encode(wireEvent{
		ID: ev.ID, Type: ev.Type, Tenant: ev.Tenant, User: ev.User,
		Time:  ev.Time.UTC().Format(time.RFC3339Nano),
		Props: ev.Props,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// crockford is Crockford's base32 alphabet, as ULIDs use it: no I, L, O or U,
// so ids survive being read aloud or retyped.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newEventID returns a ULID-like id: 48 bits of Unix milliseconds then 80
// random bits, as 26 Crockford base32 characters. The time prefix makes ids
// sort roughly by creation, which keeps the collector's and warehouse's
// dedup indexes local; the random part makes a collision between any two
// clients negligible.
func newEventID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16) // the top 48 bits
	// crypto/rand.Read never fails (it crashes the program instead).
	rand.Read(b[6:])
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	// 26 five-bit symbols hold 130 bits; the first symbol holds the top 3.
	var out [26]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

func fieldErr(field, format string, args ...any) *ingest.FieldError {
	return &ingest.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
