package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

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

// TestParseBatchNDJSONBadEvents: lines that are JSON objects are events,
// however wrong; the body is split and each is refused on its own, naming
// the field, as in an array.
func TestParseBatchNDJSONBadEvents(t *testing.T) {
	for _, tt := range []struct{ name, body, wantErr string }{
		{"an object that is not an event", `{"events":[{"id":"a","type":"login"}]}`, "events: unknown field"},
		{"events with problems", "{\"id\":\"a\"}\n{\"id\":\"b\",\"type\":\"signup\"}\n", "type: required"},
		{"an object beside junk", "42\n{\"id\":\"a\"}\n", "an event must be a JSON object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ParseBatch([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseBatch: %v; want the lines refused one by one", err)
			}
			for i, it := range items {
				if it.Err == nil {
					t.Errorf("item %d was not refused", i)
				}
			}
			if len(items) == 0 || !strings.Contains(items[0].Err.Error(), tt.wantErr) {
				t.Errorf("items = %+v; want the first refused with %q", items, tt.wantErr)
			}
		})
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
		// Not an array, and no line is a JSON object: nothing in the body
		// can be taken for an event.
		{"not JSON at all", "not json at all", isUnparsable},
		{"a JSON string holding the array", `"[{\"id\":\"a\",\"type\":\"login\"}]"`, isUnparsable},
		{"a bare number", "42", isUnparsable},
		{"an object split over lines", "{\n  \"id\": \"a\",\n  \"type\": \"login\"\n}\n", isUnparsable},
		{"only broken lines", "{\"id\": \n\n{\"type\"\n", isUnparsable},
		{"an object then junk on its line", `{"id":"a"} {"id":"b"}`, isUnparsable},
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

// TestParseBatchUnparsableSaysWhy: the refusal names the first line and
// what it is instead of an event object.
func TestParseBatchUnparsableSaysWhy(t *testing.T) {
	for body, want := range map[string]string{
		`"[{\"id\":\"a\"}]"`:      "(line 1: a string, not an event object)",
		"\n\n  42\n":              "(line 3: a number, not an event object)",
		"not json\n{\"id\": 1,\n": "(line 1: invalid JSON at byte 0: invalid literal)",
	} {
		_, err := ParseBatch([]byte(body))
		if !isUnparsable(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBatch(%q) = %v, want an unparsable body saying %q", body, err, want)
		}
	}
}

// isUnparsable tells the refusal of a body that is neither a JSON array nor
// NDJSON with a line that is an object.
func isUnparsable(err error) bool {
	var ue *UnparsableError
	return errors.As(err, &ue) && strings.HasPrefix(err.Error(), "unparsable body: ")
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
