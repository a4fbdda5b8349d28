package keel_test

import (
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestTrendRuleOf(t *testing.T) {
	r := keel.DefaultTrendRule
	tests := []struct {
		name           string
		last, previous int64
		want           keel.Trend
	}{
		{"no logins at all", 0, 0, keel.TrendFlat},
		{"first logins", 5, 0, keel.TrendUp},
		{"all logins stopped", 0, 40, keel.TrendDown},
		{"exactly +10% is flat", 110, 100, keel.TrendFlat},
		{"just above +10% is up", 111, 100, keel.TrendUp},
		{"exactly -10% is flat", 90, 100, keel.TrendFlat},
		{"just below -10% is down", 89, 100, keel.TrendDown},
		{"unchanged", 50, 50, keel.TrendFlat},
		{"halved", 50, 100, keel.TrendDown},
		{"doubled", 200, 100, keel.TrendUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Of(tt.last, tt.previous); got != tt.want {
				t.Errorf("Of(%d, %d) = %q, want %q", tt.last, tt.previous, got, tt.want)
			}
		})
	}
}

func TestTrendRuleCustomThresholds(t *testing.T) {
	r := keel.TrendRule{Window: keel.DefaultTrendRule.Window, Up: 0.5, Down: -0.5}
	if got := r.Of(140, 100); got != keel.TrendFlat {
		t.Errorf("+40%% with ±50%% thresholds = %q, want flat", got)
	}
	if got := r.Of(40, 100); got != keel.TrendDown {
		t.Errorf("-60%% with ±50%% thresholds = %q, want down", got)
	}
	if got := r.Days(); got != 14 {
		t.Errorf("Days() = %d, want 14", got)
	}
}

// TestTrendEnd: a trend ends with the day asked about once that day is
// over, and otherwise with the last complete day of the reporting
// timezone, never a day under way or to come.
func TestTrendEnd(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Wednesday 2026-11-18, 10:00 UTC: 18:00 in Shanghai.
	wednesday := time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  keel.Moment
		asOf string
		want string
	}{
		{"a day long over", keel.UTC.At(wednesday), "2026-10-01", "2026-10-01"},
		{"yesterday is over", keel.UTC.At(wednesday), "2026-11-17", "2026-11-17"},
		{"today is not", keel.UTC.At(wednesday), "2026-11-18", "2026-11-17"},
		{"the week's Sunday is to come", keel.UTC.At(wednesday), "2026-11-22", "2026-11-17"},
		{"a day of the calendar's zone", keel.NewCalendar(sh).At(time.Date(2026, 11, 18, 16, 30, 0, 0, time.UTC)), "2026-11-22", "2026-11-18"},
		{"still the day before in UTC", keel.UTC.At(time.Date(2026, 11, 18, 16, 30, 0, 0, time.UTC)), "2026-11-22", "2026-11-17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.now.TrendEnd(day(tt.asOf)); !got.Equal(day(tt.want)) {
				t.Errorf("TrendEnd(%s) at %s = %s, want %s", tt.asOf, tt.now.At, got.Format(time.DateOnly), tt.want)
			}
		})
	}
}
