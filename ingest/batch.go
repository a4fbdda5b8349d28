package ingest

import (
	"bytes"
	"fmt"
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

// UnparsableError is returned by ParseBatch for a body that is not a JSON
// array and in which no line is a JSON object: plain text, a bare number or
// string (an array sent as a JSON string, encoded twice), an object
// pretty-printed over several lines. Nothing in such a body can be taken
// for an event, so it is refused whole rather than as a list of lines that
// are not events.
type UnparsableError struct {
	Line   int    // the first line that is not blank, counting from 1
	Reason string // what is wrong with that line
}

// Error names the line and its problem, and says what to send instead.
func (e *UnparsableError) Error() string {
	return fmt.Sprintf("unparsable body: not a JSON array, and no line is a JSON object (line %d: %s); send a JSON array of events or NDJSON, one event object per line", e.Line, e.Reason)
}

// ParseBatch splits a request body into events. The body is a JSON array of
// event objects, or NDJSON (one object per line). An element of an array that
// is not a valid event, or a line of NDJSON that is not, becomes an Item with
// Err set, so the good events beside it still go through. The error return is
// for a body that cannot be split at all, so that nothing is accepted: a
// *SyntaxError (an empty body, or an array that is not valid JSON), an
// *UnparsableError (not an array, and not one line is a JSON object) or
// ErrBatchTooLarge (too many events).
//
// A line that is a JSON object counts as an event however wrong it is (an
// unknown field, a missing id): it is refused on its own with the field
// named, as an element of an array would be.
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
	objects := 0          // lines that are JSON objects, valid events or not
	lineNo, first := 0, 0 // the current line and the first that is not blank
	for len(body) > 0 {
		lineNo++
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
		if first == 0 {
			first = lineNo
		}
		ev, object, err := parseEvent(line)
		if object {
			objects++
		}
		items = append(items, Item{Raw: line, Event: ev, Err: err})
	}
	if len(items) == 0 {
		return nil, &SyntaxError{Msg: "empty body; send a JSON array of events or NDJSON"}
	}
	if objects == 0 {
		return nil, &UnparsableError{Line: first, Reason: lineProblem(items[0])}
	}
	return items, nil
}

// lineProblem says what a line that is not a JSON object is instead, when
// it is some other JSON value ("a string" is the mark of an array encoded
// twice), or else what is wrong with its syntax.
func lineProblem(it Item) string {
	s := scanner{b: it.Raw}
	if k, err := s.value(); err == nil && k != kObject && s.trailing() == nil {
		return k.String() + ", not an event object"
	}
	return it.Err.Error()
}
