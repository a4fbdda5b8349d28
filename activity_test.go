package keel_test

import (
	"testing"

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
