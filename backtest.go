package keel

import (
	"math"
	"sort"
	"time"
)

// The backtest of METRICS.md ("Backtest"): how early, on stored history,
// the scores and warnings saw the customers who churned.

// ChurnDays are the days a customer's paid service stopped: a day with no
// paid term in service after a day with one (the first day out of
// service). subs are as known now.
func ChurnDays(subs []Subscription) []time.Time {
	type span struct{ start, end time.Time }
	var spans []span
	for _, s := range subs {
		for _, g := range s.terms() {
			if !g.Trial && g.MRR().Sign() > 0 {
				spans = append(spans, span{g.Start, g.End})
			}
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	var out []time.Time
	for i := 0; i < len(spans); {
		end := spans[i].end
		j := i + 1
		for ; j < len(spans) && !spans[j].start.After(end); j++ {
			if spans[j].end.After(end) {
				end = spans[j].end
			}
		}
		out = append(out, end)
		i = j
	}
	return out
}

// DayScore is one stored score, as the backtest reads it.
type DayScore struct {
	CustomerID int64
	Day        time.Time
	Score      int
	Band       Band
	// Paying is whether the customer had MRR that day: a customer scored
	// in the 90 days after its service ended is not.
	Paying bool
}

// BacktestInput is the history a backtest reads.
type BacktestInput struct {
	From, To time.Time             // the range, days both included
	Scores   []DayScore            // every stored score of the range (and up to 90 days before, for the leads)
	Alerts   []Alert               // every warning raised up to To
	Churns   map[int64][]time.Time // each customer's churn days (ChurnDays)
	// Known is the last day of known history (yesterday when run): a
	// churn day after it has not happened — the term due to end then may
	// yet be renewed — so it is not counted. Zero means To.
	Known   time.Time
	Leads   []int // the leads of recall, in days; default 30, 60, 90
	Horizon int   // "churned within": default 90 days
}

// Backtest is what the backtest found.
type Backtest struct {
	From, To time.Time
	Churned  int             // customers who churned in the range
	Recall   map[int]float64 // lead → share of them red or warned lead days before; nil map entries when none churned
	// Warned is the customers with a warning raised in the range; Precision
	// the share of them who churned within the horizon of the warning.
	Warned    int
	Precision Ratio
	AUC       Ratio // of 100 − score as a predictor of churn within the horizon, over the customer-days scored
	Days      int   // customer-days scored in the range
	// PayingAUC is AUC over the customer-days with MRR only: the days a
	// churn is still ahead to be predicted. METRICS.md's AUC counts the
	// days after a churn too, where the score is low and no churn follows.
	PayingAUC  Ratio
	PayingDays int
	// WarningsPerCSMWeek is the warnings raised in the range per owner
	// (0 = unassigned) per week of the range.
	WarningsPerCSMWeek map[int64]float64
}

// RunBacktest computes the backtest over in.
func RunBacktest(in BacktestInput) Backtest {
	if len(in.Leads) == 0 {
		in.Leads = []int{30, 60, 90}
	}
	if in.Horizon == 0 {
		in.Horizon = 90
	}
	if in.Known.IsZero() {
		in.Known = in.To
	}
	churns := make(map[int64][]time.Time, len(in.Churns))
	for c, days := range in.Churns {
		for _, d := range days {
			if !d.After(in.Known) {
				churns[c] = append(churns[c], d)
			}
		}
	}
	in.Churns = churns
	out := Backtest{From: in.From, To: in.To, Recall: map[int]float64{}, WarningsPerCSMWeek: map[int64]float64{}}
	type key struct {
		c int64
		d time.Time
	}
	score := map[key]DayScore{}
	for _, s := range in.Scores {
		score[key{s.CustomerID, s.Day}] = s
	}
	alertsOf := map[int64][]Alert{}
	for _, a := range in.Alerts {
		alertsOf[a.CustomerID] = append(alertsOf[a.CustomerID], a)
	}
	warnedOn := func(c int64, d time.Time) bool {
		for _, a := range alertsOf[c] {
			if !a.RaisedOn.After(d) && (a.ClosedOn == nil || a.ClosedOn.After(d)) {
				return true
			}
		}
		return false
	}
	inRange := func(d time.Time) bool { return !d.Before(in.From) && !d.After(in.To) }

	// Recall: customers who churned in the range.
	hits := map[int]int{}
	for c, days := range in.Churns {
		for _, churn := range days {
			if !inRange(churn) {
				continue
			}
			out.Churned++
			for _, lead := range in.Leads {
				d := churn.AddDate(0, 0, -lead)
				if s, ok := score[key{c, d}]; ok && s.Band == BandRed || warnedOn(c, d) {
					hits[lead]++
				}
			}
			break // a customer counts once
		}
	}
	for _, lead := range in.Leads {
		if out.Churned > 0 {
			out.Recall[lead] = float64(hits[lead]) / float64(out.Churned)
		}
	}

	// Precision: customers warned in the range who churned within the
	// horizon of a warning.
	churnedAfter := func(c int64, d time.Time) bool {
		for _, ch := range in.Churns[c] {
			if ch.After(d) && !ch.After(d.AddDate(0, 0, in.Horizon)) {
				return true
			}
		}
		return false
	}
	warned, right := map[int64]bool{}, map[int64]bool{}
	weeks := math.Max(1, (in.To.Sub(in.From).Hours()/24+1)/7)
	for _, a := range in.Alerts {
		if !inRange(a.RaisedOn) {
			continue
		}
		warned[a.CustomerID] = true
		if churnedAfter(a.CustomerID, a.RaisedOn) {
			right[a.CustomerID] = true
		}
		owner := int64(0)
		if a.Owner != nil {
			owner = *a.Owner
		}
		out.WarningsPerCSMWeek[owner] += 1 / weeks
	}
	out.Warned = len(warned)
	out.Precision = ratio(float64(len(right)), float64(len(warned)))

	// AUC over customer-days: the chance a churning customer-day scores
	// lower than a staying one (ties count half) — Mann–Whitney.
	var all, paying auc
	for _, s := range in.Scores {
		if !inRange(s.Day) {
			continue
		}
		churns := churnedAfter(s.CustomerID, s.Day)
		all.add(s.Score, churns)
		if s.Paying {
			paying.add(s.Score, churns)
		}
	}
	out.AUC, out.Days = all.value(), all.days
	out.PayingAUC, out.PayingDays = paying.value(), paying.days
	return out
}

// auc counts scored days by score, apart for days a churn followed (pos)
// and days none did (neg).
type auc struct {
	pos, neg [101]float64
	days     int
}

func (a *auc) add(score int, churns bool) {
	a.days++
	v := min(max(score, 0), 100)
	if churns {
		a.pos[v]++
	} else {
		a.neg[v]++
	}
}

// value is the Mann–Whitney statistic of 100 − score: nil with no day of
// either kind.
func (a *auc) value() Ratio {
	var p, n, wins float64
	var negBelow float64        // staying days with a lower risk (a higher score) than the current
	for v := 100; v >= 0; v-- { // risk 100 − v rising
		wins += a.pos[v] * (negBelow + a.neg[v]/2)
		negBelow += a.neg[v]
		p += a.pos[v]
		n += a.neg[v]
	}
	return ratio(wins, p*n)
}
