package keel_test

import (
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestCalendar(t *testing.T) {
	sh, err := keel.LoadCalendar("tz", "Asia/Shanghai")
	wantOK(t, err)
	if _, err := keel.LoadCalendar("--tz", "Mars/Olympus"); keel.ErrorField(err) != "--tz" {
		t.Errorf("unknown timezone: %v, want an error about --tz", err)
	}
	for _, tt := range []struct {
		cal      keel.Calendar
		at       time.Time
		day      string
		startUTC string // the instant that day starts at
	}{
		{keel.UTC, time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), "2026-03-10", "2026-03-10T00:00:00Z"},
		{sh, time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC), "2026-03-10", "2026-03-09T16:00:00Z"}, // 23:30 there
		{sh, time.Date(2026, 3, 10, 16, 30, 0, 0, time.UTC), "2026-03-11", "2026-03-10T16:00:00Z"}, // 00:30 there
	} {
		got := tt.cal.Day(tt.at)
		if got.Format(time.DateOnly) != tt.day || got.Location() != time.UTC || got.Hour() != 0 {
			t.Errorf("Day(%s) in %s = %s, want %s at midnight UTC", tt.at, tt.cal.Location(), got, tt.day)
		}
		if got := tt.cal.Start(got).Format(time.RFC3339); got != tt.startUTC {
			t.Errorf("Start(%s) in %s = %s, want %s", tt.day, tt.cal.Location(), got, tt.startUTC)
		}
		if got := tt.cal.At(tt.at).Today(); got.Format(time.DateOnly) != tt.day {
			t.Errorf("At(%s).Today() = %s, want %s", tt.at, got, tt.day)
		}
	}
}

// TestRulesSayTodayOnTheReportingCalendar: at 23:30 and 00:30 in Shanghai
// — when UTC is still on the day before — an order's price, the day its
// service starts, the day a payment may be dated up to and the state of
// the subscription are those of the Shanghai day.
func TestRulesSayTodayOnTheReportingCalendar(t *testing.T) {
	sh, err := keel.LoadCalendar("tz", "Asia/Shanghai")
	wantOK(t, err)
	loc := sh.Location()
	for _, tt := range []struct {
		at    time.Time
		today string
		price int64 // pro costs 5000 until 2026-01-01, 6000 from then
	}{
		{time.Date(2025, 12, 31, 23, 30, 0, 0, loc), "2025-12-31", 5000},
		{time.Date(2026, 1, 1, 0, 30, 0, 0, loc), "2026-01-01", 6000},
	} {
		t.Run(tt.at.Format("15:04"), func(t *testing.T) {
			now := sh.At(tt.at)
			o, err := keel.NewOrder(seller, request(keel.OrderNew, line(pro, 1, 12)), now)
			wantOK(t, err)
			if got := o.Lines[0].UnitAmount; got != tt.price {
				t.Errorf("unit amount %d, want %d (the price of %s)", got, tt.price, tt.today)
			}
			o.ID = 40
			_, err = o.Submit(seller, keel.CustomerState{}, now)
			wantOK(t, err)
			today := day(tt.today)
			tomorrow := keel.Payment{Amount: o.Total(), PaidAt: sh.Start(today.AddDate(0, 0, 1)), Reference: "INV-40"}
			if _, _, err := o.Approve(finance, tomorrow, nil, now); keel.ErrorField(err) != "paid_at" {
				t.Errorf("paid tomorrow (%s): %v, want a refusal about paid_at", tomorrow.PaidAt, err)
			}
			grants, _, err := o.Approve(finance, keel.Payment{Amount: o.Total(), PaidAt: sh.Start(today), Reference: "INV-40"}, nil, now)
			wantOK(t, err)
			if len(grants) != 1 || !grants[0].Start.Equal(today) {
				t.Fatalf("grants %+v, want one starting %s", grants, tt.today)
			}
			s := keel.Subscription{ID: 1, ProductID: pro, ProductKind: keel.KindEdition, Grants: grants}
			if got := s.Status(now.Today()); got != keel.SubActive {
				t.Errorf("status today %q, want active", got)
			}
			if got := keel.StatusOf([]keel.Subscription{s}, now.Today()); got != keel.CustomerActive {
				t.Errorf("customer status today %q, want active", got)
			}
		})
	}
}
