package ingest

import (
	"testing"
	"time"
)

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
