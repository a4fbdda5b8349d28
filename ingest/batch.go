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
