package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is returned for a body that cannot be read as JSON at all.
type SyntaxError struct {
	Offset int // byte offset of the problem in the body
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
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
