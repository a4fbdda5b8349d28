package keel_test

import (
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

// TestRevenueCases replays each worked book of METRICS.md through the
// domain's order rules and compares the month table with what the
// independent calculator expects.
func TestRevenueCases(t *testing.T) {
	rc := keeltest.LoadRevenueCases(t)
	for _, c := range rc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			b := rc.Replay(t, c)
			totals := keel.MonthTotals(b.Series(keel.RevenueSettings{}), keeltest.Month(t, c.From), keeltest.Month(t, c.To))
			if len(totals) != len(c.Expected) {
				t.Fatalf("%d months, want %d (%s)", len(totals), len(c.Expected), c.Note)
			}
			for i, want := range c.Expected {
				if totals[i].Currency != "CNY" {
					t.Fatalf("row %d in %s, want CNY", i, totals[i].Currency)
				}
				if got := keeltest.Row(totals[i]); got != want {
					t.Errorf("got  %+v\nwant %+v (%s)", got, want, c.Note)
				}
			}
		})
	}
}
