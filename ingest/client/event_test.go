package client

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
)

func TestClientSendChecksEvents(t *testing.T) {
	f := newFakeCollector(t, nil)
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	type plan string
	tests := []struct {
		name      string
		edit      func(*Event)
		wantField string // "" = valid
	}{
		{"valid", func(*Event) {}, ""},
		{"scalar kinds", func(ev *Event) {
			ev.Props = map[string]any{"plan": plan("pro"), "a": int8(1), "b": uint64(2), "c": float32(1.5), "d": true, "e": json.Number("7")}
		}, ""},
		{"api call without user", func(ev *Event) { ev.Type, ev.User = ingest.TypeAPICall, "" }, ""},
		{"given id", func(ev *Event) { ev.ID = "my-own-id" }, ""},
		{"missing type", func(ev *Event) { ev.Type = "" }, "type"},
		{"unknown type", func(ev *Event) { ev.Type = "logn" }, "type"},
		{"missing tenant", func(ev *Event) { ev.Tenant = "" }, "tenant"},
		{"login without user", func(ev *Event) { ev.Type, ev.User = ingest.TypeLogin, "" }, "user"},
		{"id too long", func(ev *Event) { ev.ID = strings.Repeat("x", ingest.MaxIDLen+1) }, "id"},
		{"tenant not UTF-8", func(ev *Event) { ev.Tenant = "t-\xff" }, "tenant"},
		{"props slice", func(ev *Event) { ev.Props = map[string]any{"tags": []string{"a"}} }, "props.tags"},
		{"props nil", func(ev *Event) { ev.Props = map[string]any{"x": nil} }, "props.x"},
		{"props object", func(ev *Event) { ev.Props = map[string]any{"m": map[string]any{"a": 1}} }, "props.m"},
		{"props NaN", func(ev *Event) { ev.Props = map[string]any{"n": math.NaN()} }, "props.n"},
		{"props time", func(ev *Event) { ev.Props = map[string]any{"at": time.Now()} }, "props.at"},
		{"props too big", func(ev *Event) { ev.Props = map[string]any{"s": strings.Repeat("x", ingest.MaxPropsBytes)} }, "props"},
		{"seat snapshot without seats", func(ev *Event) { ev.Type, ev.Props = ingest.TypeSeatSnapshot, nil }, "props.seats"},
	}
	valid := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(1)
			tt.edit(&ev)
			err := c.Send(context.Background(), ev)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				valid++
				return
			}
			var fe *ingest.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("Send = %v, want a *ingest.FieldError for %q", err, tt.wantField)
			}
		})
	}
	flush(t, c)
	if got := c.Stats().Sent; got != int64(valid) {
		t.Errorf("Sent = %d, want %d: invalid events must not be queued", got, valid)
	}
	checkStats(t, c, int64(valid), 0)
}

func TestClientEncoding(t *testing.T) {
	var got []ingest.Item
	var mu sync.Mutex
	f := newFakeCollector(t, func(_ int, items []ingest.Item) fakeAnswer {
		mu.Lock()
		got = append(got, items...)
		mu.Unlock()
		return fakeAnswer{}
	})
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	at := time.Date(2026, 11, 23, 9, 30, 0, 123456000, time.FixedZone("CET", 3600))
	err := c.Send(context.Background(), Event{Type: ingest.TypeAPICall, Tenant: "t-1042", Time: at,
		Props: map[string]any{"feature": "<export>", "n": 3, "beta": true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), Event{Type: ingest.TypeLogin, Tenant: "t-1042", User: "u-77"}); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if len(got) != 2 {
		t.Fatalf("collector got %d events, want 2", len(got))
	}
	ev := got[0].Event
	if !ev.Time.Equal(at) || ev.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", ev.Time, at)
	}
	if want := `"time":"2026-11-23T08:30:00.123456Z"`; !strings.Contains(string(got[0].Raw), want) {
		t.Errorf("raw %s does not hold %s", got[0].Raw, want)
	}
	if want := `{"beta":true,"feature":"<export>","n":3}`; ev.Props != want {
		t.Errorf("props = %s, want %s", ev.Props, want)
	}
	if strings.Contains(string(got[0].Raw), `"user"`) {
		t.Errorf("raw %s: an empty user should be omitted", got[0].Raw)
	}
	if len(ev.ID) != 26 {
		t.Errorf("filled id %q is not 26 characters", ev.ID)
	}
	// Zero time = now; no props = no props field.
	if d := time.Since(got[1].Event.Time); d < 0 || d > time.Minute {
		t.Errorf("zero time was filled with %v, not now", got[1].Event.Time)
	}
	if strings.Contains(string(got[1].Raw), `"props"`) || got[1].Event.Props != "{}" {
		t.Errorf("raw %s: empty props should be omitted", got[1].Raw)
	}
}

func TestClientEventID(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := newEventID(now)
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters, want 26", id, len(id))
		}
		var ms uint64
		for i, r := range id {
			v := strings.IndexRune(crockford, r)
			if v < 0 {
				t.Fatalf("id %q holds %q, not Crockford base32", id, r)
			}
			if i < 10 {
				ms = ms<<5 | uint64(v)
			}
		}
		if ms != uint64(now.UnixMilli()) {
			t.Fatalf("id %q encodes time %d, want %d", id, ms, now.UnixMilli())
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
	if a, b := newEventID(now), newEventID(now.Add(time.Millisecond)); a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
}
