package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseEventValid(t *testing.T) {
	raw := `{"id": "01JD0S", "type": "login", "tenant": "t-1042", "user": "u-77",
		"time": "2026-11-23T08:00:00+08:00", "props": {"feature": "export", "n": 3.5, "beta": true}}`
	ev, err := ParseEvent([]byte(raw))
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	want := Event{ID: "01JD0S", Type: "login", Tenant: "t-1042", User: "u-77",
		Time:  time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		Props: `{"feature":"export","n":3.5,"beta":true}`}
	if ev != want {
		t.Errorf("got %+v, want %+v", ev, want)
	}
	if ev.Time.Location() != time.UTC {
		t.Errorf("time location = %v, want UTC", ev.Time.Location())
	}
}

func TestParseEventEscapes(t *testing.T) {
	raw := `{"id":"a\"b\\c\u00e9\ud83d\ude00","type":"custom.report_run","tenant":"t\/1","user":"u","time":"2026-11-23T08:00:00Z","props":{"q":"x\ny"}}`
	ev, err := ParseEvent([]byte(raw))
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if got, want := ev.ID, "a\"b\\cé😀"; got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	if got, want := ev.Tenant, "t/1"; got != want {
		t.Errorf("tenant = %q, want %q", got, want)
	}
	// Props keep their escapes as sent: they are JSON and stay JSON.
	if got, want := ev.Props, `{"q":"x\ny"}`; got != want {
		t.Errorf("props = %s, want %s", got, want)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(ev.Props), &m); err != nil || m["q"] != "x\ny" {
		t.Errorf("props do not round-trip through encoding/json: %v %v", m, err)
	}
}

func TestParseEventProblems(t *testing.T) {
	base := func(repl string) string {
		return `{"id":"e1","type":"login","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"` + repl + `}`
	}
	tests := []struct {
		name, raw, wantField string
	}{
		{"missing id", `{"type":"login","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"}`, "id"},
		{"empty id", strings.Replace(base(""), `"e1"`, `""`, 1), "id"},
		{"id too long", strings.Replace(base(""), `"e1"`, `"`+strings.Repeat("x", 65)+`"`, 1), "id"},
		{"id number", strings.Replace(base(""), `"e1"`, `42`, 1), "id"},
		{"id control char", strings.Replace(base(""), `"e1"`, `"a\u0001"`, 1), "id"},
		{"missing type", `{"id":"e1","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"}`, "type"},
		{"unknown type", strings.Replace(base(""), `"login"`, `"signup"`, 1), "type"},
		{"custom without name", strings.Replace(base(""), `"login"`, `"custom."`, 1), "type"},
		{"custom bad name", strings.Replace(base(""), `"login"`, `"custom.Big Name"`, 1), "type"},
		{"missing tenant", `{"id":"e1","type":"login","user":"u1","time":"2026-11-23T08:00:00Z"}`, "tenant"},
		{"tenant array", strings.Replace(base(""), `"t1"`, `["t1"]`, 1), "tenant"},
		{"missing user on login", `{"id":"e1","type":"login","tenant":"t1","time":"2026-11-23T08:00:00Z"}`, "user"},
		{"missing time", `{"id":"e1","type":"login","tenant":"t1","user":"u1"}`, "time"},
		{"time not RFC 3339", strings.Replace(base(""), `"2026-11-23T08:00:00Z"`, `"23/11/2026 08:00"`, 1), "time"},
		{"time number", strings.Replace(base(""), `"2026-11-23T08:00:00Z"`, `1700000000`, 1), "time"},
		{"unknown field", base(`,"tenat":"x"`), "tenat"},
		{"duplicate field", base(`,"id":"e2"`), "id"},
		{"props array", base(`,"props":[1,2]`), "props"},
		{"props nested object", base(`,"props":{"a":{"b":1}}`), "props.a"},
		{"props null value", base(`,"props":{"a":null}`), "props.a"},
		{"props duplicate key", base(`,"props":{"a":1,"a":2}`), "props.a"},
		{"props too large", base(`,"props":{"a":"` + strings.Repeat("x", MaxPropsBytes) + `"}`), "props"},
		{"seat snapshot without seats", `{"id":"e1","type":"seat_snapshot","tenant":"t1","time":"2026-11-23T08:00:00Z"}`, "props.seats"},
		{"seat snapshot negative seats", `{"id":"e1","type":"seat_snapshot","tenant":"t1","time":"2026-11-23T08:00:00Z","props":{"seats":-3}}`, "props.seats"},
		{"not an object", `["e1"]`, ""},
		{"broken JSON", `{"id":"e1",`, ""},
		{"trailing data", base("") + `x`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.raw))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseEvent(%s) error = %v, want a *FieldError", tt.raw, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("field = %q (%v), want %q", fe.Field, err, tt.wantField)
			}
			if tt.wantField != "" && !strings.HasPrefix(err.Error(), tt.wantField+": ") {
				t.Errorf("message %q does not start with the field name", err)
			}
		})
	}
}

func TestParseEventOptionalUser(t *testing.T) {
	for _, raw := range []string{
		`{"id":"e1","type":"api_call","tenant":"t1","time":"2026-11-23T08:00:00Z"}`,
		`{"id":"e1","type":"seat_snapshot","tenant":"t1","time":"2026-11-23T08:00:00Z","props":{"seats":25}}`,
		`{"id":"e1","type":"login","tenant":"t1","user":"u","time":"2026-11-23T08:00:00Z","props":null}`,
	} {
		if _, err := ParseEvent([]byte(raw)); err != nil {
			t.Errorf("ParseEvent(%s): %v", raw, err)
		}
	}
}
