package keel_test

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

func TestChurnDays(t *testing.T) {
	b := keeltest.NewBook(t)
	b.Products("USD")
	b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("basic", 1, 3, ""))
	b.Order("a", keel.OrderRenewal, "2025-03-20", keeltest.L("basic", 1, 3, "")) // continues: no churn in April
	b.Order("a", keel.OrderNew, "2025-09-01", keeltest.L("pro", 1, 1, ""))       // back after a lapse
	got := keel.ChurnDays(b.Customer("a").Subscriptions)
	want := []time.Time{keeltest.Day(t, "2025-07-01"), keeltest.Day(t, "2025-10-01")}
	if len(got) != 2 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Errorf("churn days %v, want %v", got, want)
	}
}

func TestRunBacktest(t *testing.T) {
	d := func(s string) time.Time { return keeltest.Day(t, s) }
	from, to := d("2026-01-01"), d("2026-06-30")
	in := keel.BacktestInput{From: from, To: to, Churns: map[int64][]time.Time{1: {d("2026-05-01")}, 2: {d("2026-06-15")}, 3: {d("2027-01-01")}}}
	owner := int64(9)
	// Every day from 2025-10-01 until they churn: 1 scores 20 (red) in the
	// 90 days before its churn, 2 scores 60 then, both 85 before; 3 and 4
	// score 80 (3 churns after the range, 4 never).
	bands := keel.DefaultHealthSettings.WithDefaults()
	for day := d("2025-10-01"); !day.After(to); day = day.AddDate(0, 0, 1) {
		for c, late := range map[int64]int{1: 20, 2: 60, 3: 80, 4: 80} {
			if churn := in.Churns[c]; len(churn) > 0 && !day.Before(churn[0]) {
				continue
			}
			s := 80
			if churn := in.Churns[c]; len(churn) > 0 && day.AddDate(0, 0, 90).After(churn[0]) {
				s = late
			} else if c <= 2 {
				s = 85
			}
			in.Scores = append(in.Scores, keel.DayScore{CustomerID: c, Day: day, Score: s, Band: bands.BandOf(s)})
		}
	}
	closed := d("2026-05-20")
	in.Alerts = []keel.Alert{
		{ID: 1, CustomerID: 2, Rule: keel.RuleNoLogin, RaisedOn: d("2026-05-01"), ClosedOn: &closed, Owner: &owner}, // 45 days before 2's churn, closed before it
		{ID: 2, CustomerID: 4, Rule: keel.RuleLowSeats, RaisedOn: d("2026-03-01"), Owner: &owner},                   // a false alarm
	}
	r := keel.RunBacktest(in)
	if r.Churned != 2 {
		t.Fatalf("churned %d, want 1 and 2 (3 churns after the range)", r.Churned)
	}
	// Lead 30: 1 is red; 2 was warned 1–20 May (30 days before is 16 May) → 2/2.
	// Lead 60: 1 red; 2 on 16 April: no warning, yellow → 1/2.
	// Lead 90: 1 on 31 January was still green, 2 too → 0.
	if r.Recall[30] != 1 || r.Recall[60] != 0.5 || r.Recall[90] != 0 {
		t.Errorf("recall %v, want 30: 1, 60: 0.5, 90: 0", r.Recall)
	}
	if r.Warned != 2 || r.Precision == nil || *r.Precision != 0.5 {
		t.Errorf("warned %d, precision %v; want 2 and one right in two", r.Warned, r.Precision)
	}
	weeks := (to.Sub(from).Hours()/24 + 1) / 7
	if got := r.WarningsPerCSMWeek[owner]; math.Abs(got-2/weeks) > 1e-9 {
		t.Errorf("warnings per week %v, want %v", got, 2/weeks)
	}
	// Churn within 90 days follows the lowest scores: 1's late days (20) and
	// 2's (60) against every other customer-day (80, 85): perfect order.
	if r.AUC == nil || *r.AUC < 0.99 {
		t.Errorf("AUC %v, want 1", *r.AUC)
	}
	// Scores that say nothing: everyone the same → 0.5.
	for i := range in.Scores {
		in.Scores[i].Score = 50
	}
	if r := keel.RunBacktest(in); r.AUC == nil || *r.AUC != 0.5 {
		t.Errorf("AUC of constant scores %v, want 0.5", r.AUC)
	}
}

// After a churn a customer is scored for 90 more days, low and with no
// churn ahead: those days pull the AUC of every customer-day down, and
// the paying-days AUC leaves them out.
func TestBacktestPayingAUC(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	from, to := d("2026-01-01"), d("2026-06-30")
	churn := d("2026-03-01")
	in := keel.BacktestInput{From: from, To: to, Churns: map[int64][]time.Time{1: {churn}}}
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		// 1 declines before its churn and scores 10 after it, unpaid; 2
		// stays, paying, at 60.
		s1, paying := 40, true
		if !day.Before(churn) {
			s1, paying = 10, false
		}
		in.Scores = append(in.Scores,
			keel.DayScore{CustomerID: 1, Day: day, Score: s1, Paying: paying},
			keel.DayScore{CustomerID: 2, Day: day, Score: 60, Paying: true})
	}
	r := keel.RunBacktest(in)
	if r.PayingAUC == nil || *r.PayingAUC != 1 {
		t.Errorf("paying AUC %v, want 1: every day before 1's churn scores under 2's", r.PayingAUC)
	}
	if r.AUC == nil || *r.AUC >= 0.9 {
		t.Errorf("AUC %v, want it pulled down by 1's unpaid days at 10", r.AUC)
	}
	if want := r.Days - 122; r.PayingDays != want {
		t.Errorf("paying days %d, want %d (1's days from its churn left out)", r.PayingDays, want)
	}
}

// A churn day after the last day known is a term still in service, due
// to end then and perhaps to be renewed: it is not a churn yet, neither
// for precision nor for the AUC.
func TestBacktestChurnAfterKnown(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	from, to := d("2026-04-01"), d("2026-06-30")
	owner := int64(9)
	in := keel.BacktestInput{From: from, To: to, Known: to,
		Churns: map[int64][]time.Time{1: {d("2026-07-15")}},
		Alerts: []keel.Alert{{ID: 1, CustomerID: 1, Rule: keel.RuleNoLogin, RaisedOn: d("2026-06-01"), Owner: &owner}}}
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		s1 := 85 // 1 falls to 30 in the 90 days before 15 July
		if !day.Before(d("2026-04-16")) {
			s1 = 30
		}
		in.Scores = append(in.Scores,
			keel.DayScore{CustomerID: 1, Day: day, Score: s1, Paying: true},
			keel.DayScore{CustomerID: 2, Day: day, Score: 80, Paying: true})
	}
	r := keel.RunBacktest(in)
	if r.Warned != 1 || r.Precision == nil || *r.Precision != 0 {
		t.Errorf("known to %s: warned %d, precision %s; want 1 warned, none churned yet", to.Format(time.DateOnly), r.Warned, ratioText(r.Precision))
	}
	if r.AUC != nil {
		t.Errorf("known to %s: AUC %v, want none (no churn known)", to.Format(time.DateOnly), *r.AUC)
	}

	in.Known = d("2026-07-31") // the term ended and was not renewed
	r = keel.RunBacktest(in)
	if r.Precision == nil || *r.Precision != 1 {
		t.Errorf("known to 31 July: precision %v, want 1", ratioText(r.Precision))
	}
	if r.AUC == nil || *r.AUC != 1 {
		t.Errorf("known to 31 July: AUC %v, want 1 (1's days within 90 days of its churn score under every other)", ratioText(r.AUC))
	}
	if r.Churned != 0 {
		t.Errorf("churned %d in the range, want 0: the churn is after it", r.Churned)
	}
}

func ratioText(r keel.Ratio) string {
	if r == nil {
		return "none"
	}
	return strconv.FormatFloat(*r, 'f', 3, 64)
}
