package ingest

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

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
