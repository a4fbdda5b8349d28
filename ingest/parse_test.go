package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
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

func TestRulesCheck(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		at     time.Time
		wantOK bool
	}{
		{"now", now, true},
		{"4 minutes ahead", now.Add(4 * time.Minute), true},
		{"6 minutes ahead", now.Add(6 * time.Minute), false},
		{"29 days old", now.Add(-29 * 24 * time.Hour), true},
		{"31 days old", now.Add(-31 * 24 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DefaultRules.Check(&Event{Time: tt.at}, now)
			if (err == nil) != tt.wantOK {
				t.Fatalf("Check = %v, want ok=%v", err, tt.wantOK)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "time: ") {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestParseBatchArrayKeepsGoodEvents(t *testing.T) {
	body := `[
		{"id":"a","type":"login","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"},
		{"id":"b","type":"bogus","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"},
		42,
		{"id":"c","type":"logout","tenant":"t1","user":"u1","time":"2026-11-23T08:00:00Z"}
	]`
	items, err := ParseBatch([]byte(body))
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if len(items) != 4 {
		t.Fatalf("got %d items, want 4", len(items))
	}
	for i, wantErr := range []bool{false, true, true, false} {
		if (items[i].Err != nil) != wantErr {
			t.Errorf("item %d: err = %v, want error %v", i, items[i].Err, wantErr)
		}
	}
	if got := string(items[3].Raw); !strings.HasPrefix(got, `{"id":"c"`) || !strings.HasSuffix(got, `}`) {
		t.Errorf("raw of item 3 = %s", got)
	}
}

func TestParseBatchNDJSON(t *testing.T) {
	body := "{\"id\":\"a\",\"type\":\"login\",\"tenant\":\"t1\",\"user\":\"u1\",\"time\":\"2026-11-23T08:00:00Z\"}\r\n" +
		"{not json\n\n" +
		"{\"id\":\"c\",\"type\":\"login\",\"tenant\":\"t1\",\"user\":\"u1\",\"time\":\"2026-11-23T08:00:00Z\"}"
	items, err := ParseBatch([]byte(body))
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if len(items) != 3 {
		t.Fatalf("got %d items, want 3", len(items))
	}
	if items[0].Err != nil || items[2].Err != nil || items[1].Err == nil {
		t.Errorf("errors = %v, %v, %v; want only the middle line refused", items[0].Err, items[1].Err, items[2].Err)
	}
}

func TestParseBatchRefusals(t *testing.T) {
	many := "[" + strings.Repeat(`{"id":"a"},`, MaxBatchEvents) + `{"id":"a"}]`
	tests := []struct {
		name, body string
		want       func(error) bool
	}{
		{"empty", "", isSyntax},
		{"only spaces", "  \n ", isSyntax},
		{"broken array", `[{"id":"a"`, isSyntax},
		{"array then junk", `[] x`, isSyntax},
		{"missing comma", `[{"id":"a"} {"id":"b"}]`, isSyntax},
		{"too many events", many, func(err error) bool { return errors.Is(err, ErrBatchTooLarge) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBatch([]byte(tt.body))
			if !tt.want(err) {
				t.Errorf("ParseBatch error = %v", err)
			}
		})
	}
}

func isSyntax(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}

// FuzzParseBatch checks the hand-written scanner against encoding/json: an
// array body is split exactly when encoding/json finds it valid, and every
// event's raw bytes are themselves valid JSON.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		`[{"id":"a","type":"login","tenant":"t","user":"u","time":"2026-11-23T08:00:00Z","props":{"x":1e5}}]`,
		`[{"a":[1,{"b":null}]}, "x", -0.5e-3, true]`,
		`[{"id":"\ud800"}]`, `[1,]`, `[{"a":01}]`, `["\u12"]`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 || body[0] != '[' {
			return
		}
		items, err := ParseBatch(body)
		if errors.Is(err, ErrBatchTooLarge) {
			return
		}
		valid := json.Valid(body)
		if (err == nil) != valid {
			t.Fatalf("ParseBatch(%q) err = %v, but json.Valid = %v", body, err, valid)
		}
		for _, it := range items {
			if !json.Valid(it.Raw) {
				t.Fatalf("raw item %q is not valid JSON", it.Raw)
			}
			if it.Err == nil && !json.Valid([]byte(it.Event.Props)) {
				t.Fatalf("props %q are not valid JSON", it.Event.Props)
			}
		}
	})
}

func benchBody(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"bench-1763900000-%09d","type":"feature_used","tenant":"bench-1763900000-%03d","user":"user-%05d","time":"2026-11-23T08:00:00Z","props":{"feature":"export","plan":"business"}}`, i, i%500, i%20000)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

func BenchmarkParseBatch(b *testing.B) {
	body := benchBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := ParseBatch(body)
		if err != nil || len(items) != 1000 || items[999].Err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseTime checks the fast RFC 3339 reader against time.Parse.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-23T08:00:00Z", "2026-11-23T08:00:00.123456789+08:00", "2024-02-29T23:59:59-00:30",
		"2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-23t08:00:00z", "2026-11-23T08:00:00.Z", "2026-11-23T24:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok != (err == nil) {
			t.Fatalf("parseTime(%q) ok = %v, time.Parse error = %v", s, ok, err)
		}
		if ok && !got.Equal(want) {
			t.Fatalf("parseTime(%q) = %v, time.Parse = %v", s, got, want)
		}
	})
}
