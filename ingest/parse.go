package ingest

import (
	"strings"
	"unicode/utf8"
)

// ParseEvent parses one event object and checks its shape: required fields,
// types, lengths, known event type and flat props. It does not apply the time
// rules (see Rules.Check), which depend on a reference time. Every error is a
// *FieldError.
func ParseEvent(b []byte) (Event, error) {
	ev, _, err := parseEvent(b)
	return ev, err
}

// parseEvent is ParseEvent that also says whether b is a JSON object at
// all: that is what tells a line of NDJSON holding a bad event from a body
// that is not NDJSON (see UnparsableError).
func parseEvent(b []byte) (ev Event, object bool, err error) {
	s := scanner{b: b}
	s.ws()
	if s.peek() != '{' {
		if _, err := s.value(); err != nil {
			return Event{}, false, &FieldError{Problem: err.Error()}
		}
		return Event{}, false, &FieldError{Problem: "an event must be a JSON object"}
	}
	ev, semErr, err := s.event()
	if err != nil {
		return Event{}, false, &FieldError{Problem: err.Error()}
	}
	if err := s.trailing(); err != nil {
		return Event{}, false, &FieldError{Problem: err.Error()}
	}
	return ev, true, semErr
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
