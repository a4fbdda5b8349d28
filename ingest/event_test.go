package ingest

import (
	"strings"
	"testing"
	"time"
)

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
