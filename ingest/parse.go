package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Item is one event of a batch: its bytes as sent, and either the parsed
// event or the reason it was refused.
type Item struct {
	Raw   []byte // the event's JSON as sent; what goes to Kafka
	Event Event
	Err   error // a *FieldError when the event was refused
}

// ErrBatchTooLarge is returned by ParseBatch when a body holds more events
// than MaxBatchEvents.
var ErrBatchTooLarge = fmt.Errorf("a batch holds at most %d events", MaxBatchEvents)

// SyntaxError is returned for a body that cannot be read as JSON at all.
type SyntaxError struct {
	Offset int // byte offset of the problem in the body
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ParseBatch splits a request body into events. The body is a JSON array of
// event objects, or NDJSON (one object per line). An element of an array that
// is not a valid event, or a line of NDJSON that is not, becomes an Item with
// Err set, so the good events beside it still go through. The error return is
// for a body that cannot be split at all (a *SyntaxError: nothing is
// accepted) or that holds too many events (ErrBatchTooLarge).
func ParseBatch(body []byte) ([]Item, error) {
	s := scanner{b: body}
	s.ws()
	if s.i == len(s.b) {
		return nil, &SyntaxError{Offset: 0, Msg: "empty body; send a JSON array of events or NDJSON"}
	}
	if s.b[s.i] == '[' {
		return parseArray(&s)
	}
	return parseNDJSON(body)
}

func parseArray(s *scanner) ([]Item, error) {
	s.i++ // '['
	var items []Item
	s.ws()
	if s.peek() == ']' {
		s.i++
		return nil, s.trailing()
	}
	for {
		if len(items) == MaxBatchEvents {
			return nil, ErrBatchTooLarge
		}
		s.ws()
		start := s.i
		var it Item
		if s.peek() == '{' {
			ev, semErr, err := s.event()
			if err != nil {
				return nil, err
			}
			it.Event, it.Err = ev, semErr
		} else {
			if _, err := s.value(); err != nil {
				return nil, err
			}
			it.Err = &FieldError{Problem: "an event must be a JSON object"}
		}
		it.Raw = s.b[start:s.i]
		items = append(items, it)
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return items, s.trailing()
		default:
			return nil, s.syntax("expected ',' or ']' after an event")
		}
	}
}

func parseNDJSON(body []byte) ([]Item, error) {
	var items []Item
	for len(body) > 0 {
		line := body
		if j := bytes.IndexByte(body, '\n'); j >= 0 {
			line, body = body[:j], body[j+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(items) == MaxBatchEvents {
			return nil, ErrBatchTooLarge
		}
		ev, err := ParseEvent(line)
		items = append(items, Item{Raw: line, Event: ev, Err: err})
	}
	if len(items) == 0 {
		return nil, &SyntaxError{Msg: "empty body; send a JSON array of events or NDJSON"}
	}
	return items, nil
}

// ParseEvent parses one event object and checks its shape: required fields,
// types, lengths, known event type and flat props. It does not apply the time
// rules (see Rules.Check), which depend on a reference time. Every error is a
// *FieldError.
func ParseEvent(b []byte) (Event, error) {
	s := scanner{b: b}
	s.ws()
	if s.peek() != '{' {
		if _, err := s.value(); err != nil {
			return Event{}, &FieldError{Problem: err.Error()}
		}
		return Event{}, &FieldError{Problem: "an event must be a JSON object"}
	}
	ev, semErr, err := s.event()
	if err != nil {
		return Event{}, &FieldError{Problem: err.Error()}
	}
	if err := s.trailing(); err != nil {
		return Event{}, &FieldError{Problem: err.Error()}
	}
	return ev, semErr
}

// scanner reads JSON from b. Syntax errors stop it; problems with what the
// JSON says (a number where a string belongs) are collected while it scans
// on, so that an array of events can continue past a bad one.
type scanner struct {
	b []byte
	i int
}

type kind uint8

const (
	kString kind = iota
	kNumber
	kBool
	kNull
	kObject
	kArray
)

func (k kind) String() string {
	return [...]string{"a string", "a number", "a bool", "null", "an object", "an array"}[k]
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) syntax(msg string) error {
	return &SyntaxError{Offset: s.i, Msg: msg}
}

func (s *scanner) trailing() error {
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("unexpected data after the end")
	}
	return nil
}

// event reads an event object at s.i. err is a syntax error; semErr the first
// problem with the event's content.
//
// It is the collector's and the loader's hot path, so it allocates once per
// event: the string fields are sliced out of one string built at the end.
func (s *scanner) event() (ev Event, semErr error, err error) {
	s.i++ // '{'
	var seen uint8
	var id, tenant, user, typ, timeRaw, props []byte
	note := func(e error) {
		if semErr == nil {
			semErr = e
		}
	}
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.peek() != '"' {
				return ev, nil, s.syntax("expected a field name")
			}
			key, keyEsc, err := s.span()
			if err != nil {
				return ev, nil, err
			}
			s.ws()
			if s.peek() != ':' {
				return ev, nil, s.syntax("expected ':' after a field name")
			}
			s.i++
			s.ws()
			var bit uint8
			var dst *[]byte
			if !keyEsc {
				switch string(key) {
				case "id":
					bit, dst = 1, &id
				case "type":
					bit, dst = 2, &typ
				case "tenant":
					bit, dst = 4, &tenant
				case "user":
					bit, dst = 8, &user
				case "time":
					bit, dst = 16, &timeRaw
				case "props":
					bit = 32
				}
			}
			name := func() string {
				if keyEsc {
					if v, ok := unescape(key); ok {
						return truncate(v, 40)
					}
				}
				return truncate(string(key), 40)
			}
			switch {
			case bit == 0:
				note(fieldErr(name(), "unknown field; an event has id, type, tenant, user, time and props"))
				if _, err := s.value(); err != nil {
					return ev, nil, err
				}
			case seen&bit != 0:
				note(fieldErr(name(), "appears twice"))
				if _, err := s.value(); err != nil {
					return ev, nil, err
				}
			case bit == 32:
				seen |= bit
				p, perr, err := s.props()
				if err != nil {
					return ev, nil, err
				}
				if perr != nil {
					note(perr)
				}
				props = p
			case s.peek() == '"':
				seen |= bit
				v, esc, err := s.span()
				if err != nil {
					return ev, nil, err
				}
				if esc {
					u, ok := unescape(v)
					if !ok {
						return ev, nil, &SyntaxError{Offset: s.i, Msg: errBadEscape.Error()}
					}
					v = []byte(u)
				}
				if !utf8.Valid(v) {
					note(fieldErr(name(), "not valid UTF-8"))
				}
				*dst = v
			default:
				seen |= bit
				k, err := s.value()
				if err != nil {
					return ev, nil, err
				}
				note(fieldErr(name(), "must be a string, not %s", k))
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
			default:
				return ev, nil, s.syntax("expected ',' or '}' in an event")
			}
			break
		}
	}
	if len(props) == 0 {
		props = emptyProps
	}
	// One allocation for every string of the event.
	var sb strings.Builder
	sb.Grow(len(id) + len(tenant) + len(user) + len(props))
	sb.Write(id)
	sb.Write(tenant)
	sb.Write(user)
	sb.Write(props)
	all := sb.String()
	n1, n2, n3 := len(id), len(id)+len(tenant), len(id)+len(tenant)+len(user)
	ev.ID, ev.Tenant, ev.User, ev.Props = all[:n1], all[n1:n2], all[n2:n3], all[n3:]
	ev.Type = internType(typ)
	if semErr != nil {
		return ev, semErr, nil
	}
	return ev, check(&ev, timeRaw, seen), nil
}

var emptyProps = []byte("{}")

// internType returns the constant for a known event type, so the common
// types cost no allocation.
func internType(t []byte) string {
	switch string(t) {
	case TypeLogin:
		return TypeLogin
	case TypeLogout:
		return TypeLogout
	case TypeFeatureUsed:
		return TypeFeatureUsed
	case TypePageView:
		return TypePageView
	case TypeAPICall:
		return TypeAPICall
	case TypeSeatSnapshot:
		return TypeSeatSnapshot
	}
	return string(t)
}

// check validates the fields of a syntactically fine event.
func check(ev *Event, timeRaw []byte, seen uint8) error {
	if err := CheckID("id", ev.ID, MaxIDLen); err != nil {
		return err
	}
	if ev.Type == "" {
		return fieldErr("type", "required")
	}
	if err := checkType(ev.Type); err != nil {
		return err
	}
	if err := CheckID("tenant", ev.Tenant, MaxTenantLen); err != nil {
		return err
	}
	if ev.User != "" || needsUser(ev.Type) {
		if err := CheckID("user", ev.User, MaxUserLen); err != nil {
			if ev.User == "" {
				return fieldErr("user", "required for %s events", ev.Type)
			}
			return err
		}
	}
	if seen&16 == 0 || len(timeRaw) == 0 {
		return fieldErr("time", "required (RFC 3339, e.g. 2026-11-23T08:00:00Z)")
	}
	t, ok := parseTime(timeRaw)
	if !ok {
		return fieldErr("time", "%q is not an RFC 3339 time such as 2026-11-23T08:00:00Z", truncate(string(timeRaw), 40))
	}
	ev.Time = t
	if ev.Type == TypeSeatSnapshot {
		if err := checkSeats(ev.Props); err != nil {
			return err
		}
	}
	return nil
}

// checkSeats requires a seat snapshot to say how many seats there are.
func checkSeats(props string) error {
	v, ok := propValue(props, "seats")
	if !ok {
		return fieldErr("props.seats", "required for seat_snapshot events")
	}
	if _, err := strconv.ParseUint(v, 10, 32); err != nil {
		return fieldErr("props.seats", "must be a whole number of seats, got %s", truncate(v, 20))
	}
	return nil
}

// propValue returns the raw JSON of a top-level key of a compact, flat
// props object produced by scanner.props.
func propValue(props, key string) (string, bool) {
	s := scanner{b: []byte(props)}
	if s.peek() != '{' {
		return "", false
	}
	s.i++
	for s.peek() == '"' {
		k, _, err := s.str()
		if err != nil || s.peek() != ':' {
			return "", false
		}
		s.i++
		start := s.i
		if _, err := s.value(); err != nil {
			return "", false
		}
		if k == key {
			return props[start:s.i], true
		}
		if s.peek() == ',' {
			s.i++
		}
	}
	return "", false
}

// props reads the props object and returns it as compact JSON. Values must
// be strings, numbers or bools: props are flat by contract, so they can be
// stored and queried without a schema. The result aliases the input when the
// object was already compact.
func (s *scanner) props() (compact []byte, semErr error, err error) {
	start := s.i
	switch s.peek() {
	case 'n':
		if _, err := s.value(); err != nil {
			return nil, nil, err
		}
		return emptyProps, nil, nil
	case '{':
	default:
		k, err := s.value()
		if err != nil {
			return nil, nil, err
		}
		return nil, fieldErr("props", "must be an object, not %s", k), nil
	}
	s.i++
	var out []byte // built only once whitespace shows the input is not compact
	var keys [16][]byte
	var more [][]byte
	nkeys := 0
	mark := s.i // input up to mark is already in out (when out != nil)
	ws := func() {
		before := s.i
		s.ws()
		if s.i != before {
			if out == nil {
				out = append(make([]byte, 0, 64), s.b[start:before]...)
			} else {
				out = append(out, s.b[mark:before]...)
			}
			mark = s.i
		}
	}
	ws()
	if s.peek() == '}' {
		s.i++
		return emptyProps, nil, nil
	}
	for {
		ws()
		if s.peek() != '"' {
			return nil, nil, s.syntax("expected a key in props")
		}
		key, esc, err := s.span()
		if err != nil {
			return nil, nil, err
		}
		name := func() string {
			if esc {
				if v, ok := unescape(key); ok {
					return "props." + truncate(v, 40)
				}
			}
			return "props." + truncate(string(key), 40)
		}
		if semErr == nil && !esc && !utf8.Valid(key) {
			semErr = fieldErr("props", "a key is not valid UTF-8")
		}
		if semErr == nil {
			for i := 0; i < nkeys; i++ {
				var k []byte
				if i < len(keys) {
					k = keys[i]
				} else {
					k = more[i-len(keys)]
				}
				if bytes.Equal(k, key) {
					semErr = fieldErr(name(), "appears twice")
				}
			}
			if nkeys < len(keys) {
				keys[nkeys] = key
			} else {
				more = append(more, key)
			}
			nkeys++
		}
		ws()
		if s.peek() != ':' {
			return nil, nil, s.syntax("expected ':' in props")
		}
		s.i++
		ws()
		vs := s.i
		k, err := s.value()
		if err != nil {
			return nil, nil, err
		}
		if semErr == nil {
			switch k {
			case kString:
				if !utf8.Valid(s.b[vs:s.i]) {
					semErr = fieldErr(name(), "not valid UTF-8")
				}
			case kNumber, kBool:
			default:
				semErr = fieldErr(name(), "must be a string, number or bool, not %s", k)
			}
		}
		ws()
		switch s.peek() {
		case ',':
			s.i++
			continue
		case '}':
			s.i++
		default:
			return nil, nil, s.syntax("expected ',' or '}' in props")
		}
		break
	}
	if semErr == nil && s.i-start > MaxPropsBytes {
		semErr = fieldErr("props", "%d bytes; at most %d", s.i-start, MaxPropsBytes)
	}
	if out == nil {
		return s.b[start:s.i], semErr, nil
	}
	return append(out, s.b[mark:s.i]...), semErr, nil
}

// value skips one JSON value of any kind and reports its kind.
func (s *scanner) value() (kind, error) {
	switch c := s.peek(); {
	case c == '"':
		_, _, err := s.span()
		return kString, err
	case c == '{':
		return kObject, s.skipContainer('{', '}')
	case c == '[':
		return kArray, s.skipContainer('[', ']')
	case c == 't':
		return kBool, s.literal("true")
	case c == 'f':
		return kBool, s.literal("false")
	case c == 'n':
		return kNull, s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return kNumber, s.number()
	case s.i >= len(s.b):
		return 0, s.syntax("unexpected end of input")
	default:
		return 0, s.syntax(fmt.Sprintf("unexpected character %q", c))
	}
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.syntax("invalid literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) number() error {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.i++
		}
	default:
		return s.syntax("invalid number")
	}
	if s.peek() == '.' {
		s.i++
		if c := s.peek(); c < '0' || c > '9' {
			return s.syntax("invalid number")
		}
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if c := s.peek(); c < '0' || c > '9' {
			return s.syntax("invalid number")
		}
		for c := s.peek(); c >= '0' && c <= '9'; c = s.peek() {
			s.i++
		}
	}
	if s.i == start {
		return s.syntax("invalid number")
	}
	return nil
}

func (s *scanner) skipContainer(open, close byte) error {
	s.i++
	s.ws()
	if s.peek() == close {
		s.i++
		return nil
	}
	for {
		s.ws()
		if open == '{' {
			if s.peek() != '"' {
				return s.syntax("expected a key")
			}
			if _, _, err := s.span(); err != nil {
				return err
			}
			s.ws()
			if s.peek() != ':' {
				return s.syntax("expected ':'")
			}
			s.i++
			s.ws()
		}
		if _, err := s.value(); err != nil {
			return err
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case close:
			s.i++
			return nil
		default:
			return s.syntax(fmt.Sprintf("expected ',' or '%c'", close))
		}
	}
}

var errBadEscape = errors.New("invalid escape")

// span reads a string at s.i and returns its raw body (between the quotes)
// and whether it holds escapes; the caller unescapes only if it must.
func (s *scanner) span() (raw []byte, escaped bool, err error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if escaped {
				if _, ok := unescape(raw); !ok {
					return nil, false, &SyntaxError{Offset: start, Msg: errBadEscape.Error()}
				}
			}
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, s.syntax("control character in a string")
		default:
			s.i++
		}
	}
	return nil, false, s.syntax("unterminated string")
}

// str reads a string at s.i and returns it unescaped. valid is false when the
// string holds bytes that are not UTF-8 (a content problem, not a syntax one).
func (s *scanner) str() (v string, valid bool, err error) {
	raw, esc, err := s.span()
	if err != nil {
		return "", false, err
	}
	if !esc {
		return string(raw), utf8.Valid(raw), nil
	}
	out, _ := unescape(raw)
	return out, utf8.ValidString(out), nil
}

// unescape decodes the escapes of a JSON string body.
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if v, ok := hex4(raw[i+3:]); ok {
						r2 = v
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
