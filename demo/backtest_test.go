package demo

import (
	"math/bits"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
)

// tenantDay is one tenant's events of one day, as the daily rollup keeps
// them: logins, the users and the features seen, the last seat snapshot.
type tenantDay struct {
	logins   int64
	users    []uint64 // a bit per user number
	features uint16   // a bit per entry of features
	events   int
	snapshot int64
}

// usage is the whole demo's events, generated once for the tests of this
// file and of events_test.go, per tenant and day (day 0 the oldest).
type usage struct {
	cfg     Config
	tenants []Tenant
	days    [][]tenantDay // [tenant][day]
	total   int
}

var demoUsage = sync.OnceValue(func() *usage {
	cfg := Config{Now: testNow}.withDefaults()
	u := &usage{cfg: cfg, tenants: Tenants(cfg)}
	fill(u)
	return u
})

// fill generates u's events.
func fill(u *usage) {
	cfg := u.cfg
	index := map[string]int{}
	for i, t := range u.tenants {
		index[t.ID] = i
		u.days = append(u.days, make([]tenantDay, cfg.Days))
	}
	featureBit := map[string]uint16{}
	for i, f := range features {
		featureBit[f] = 1 << i
	}
	for d := 0; d < cfg.Days; d++ {
		Day(cfg, u.tenants, d, func(ev client.Event) error {
			td := &u.days[index[ev.Tenant]][d]
			td.events++
			u.total++
			switch ev.Type {
			case ingest.TypeLogin:
				td.logins++
			case ingest.TypeFeatureUsed:
				td.features |= featureBit[ev.Props["feature"].(string)]
			case ingest.TypeSeatSnapshot:
				td.snapshot = ev.Props["seats"].(int64)
			}
			if ev.User != "" {
				var n int
				for _, c := range ev.User[2:] {
					n = n*10 + int(c-'0')
				}
				for len(td.users) <= n/64 {
					td.users = append(td.users, 0)
				}
				td.users[n/64] |= 1 << (n % 64)
			}
			return nil
		})
	}
}

// date is day d of the usage window.
func (u *usage) date(d int) time.Time {
	return keel.Date(u.cfg.Now).AddDate(0, 0, d-(u.cfg.Days-1))
}

// sum adds the logins of tenant ti over days from..to (both included,
// clamped to the window).
func (u *usage) logins(ti, from, to int) int64 {
	var n int64
	for d := max(from, 0); d <= to && d < u.cfg.Days; d++ {
		n += u.days[ti][d].logins
	}
	return n
}

// known is a customer's book as it was known at the end of a day: grants
// of orders approved by then (no look-ahead).
func known(subs []keel.Subscription, day time.Time) []keel.Subscription {
	var out []keel.Subscription
	for _, s := range subs {
		k := s
		k.Grants = nil
		for _, g := range s.Grants {
			if !g.ApprovedOn.After(day) {
				k.Grants = append(k.Grants, g)
			}
		}
		out = append(out, k)
	}
	return out
}

// backtest is what the health backtest of METRICS.md would find on the
// demo, estimated with the domain's own scoring and warning rules.
type backtest struct {
	churned      int
	recall       map[int]float64 // by lead in days
	auc, aucPaid float64
	warnings     int
	weeks        float64
	perCSMWeek   float64 // the busiest CSM's new warnings per week
	byRule       map[keel.AlertRule]int
}

// estimateBacktest scores every customer every day from day `from` of the
// window with keel.ScoreHealth and keel.EvaluateRules under the default
// settings, keeping warnings open while their condition holds (a warning
// whose condition clears resolves itself), and measures the backtest over
// the churns from day `from`+90 on, so that each has 90 days of scores
// before it.
func estimateBacktest(t *testing.T, u *usage, r replayed, from int) backtest {
	t.Helper()
	s := keel.DefaultHealthSettings.WithDefaults()
	trend := keel.DefaultTrendRule
	td := trend.Days()
	today := keel.Date(u.cfg.Now)
	last := u.cfg.Days - 2 // the last complete day
	type scored struct {
		score   int
		red     bool
		warned  bool
		paid    bool
		churnIn int // days to the next churn; -1 none
	}
	var all []scored
	res := backtest{recall: map[int]float64{}, byRule: map[keel.AlertRule]int{}}
	byRule := res.byRule
	byCSM := map[int]int{}
	leads := []int{30, 60, 90}
	hits := map[int]int{}
	feats := make([]uint16, u.cfg.Days)
	for d := range feats {
		for ti := range u.tenants {
			feats[d] |= u.days[ti][d].features
		}
	}
	for ti, tn := range u.tenants {
		c := r.plan.Customers[ti]
		subs := r.subs[ti]
		churns := tn.Churns()
		live := map[keel.AlertRule]bool{}
		warnedOn := map[int]bool{} // days with a live warning or red
		var yesterday keel.Band
		firstEvent := -1
		var lastLogin time.Time
		for d := 0; d <= last; d++ {
			day := u.date(d)
			if firstEvent < 0 && u.days[ti][d].events > 0 {
				firstEvent = d
			}
			if u.days[ti][d].logins > 0 {
				lastLogin = day
			}
			if d < from {
				continue
			}
			book := known(subs, day)
			inService, paid, endedRecently := false, false, false
			var seats int64
			var renewal time.Time
			for _, sb := range book {
				if sb.ProductKind == keel.KindEdition && sb.QuantityAt(day) > 0 {
					inService = true
				}
				if sb.PaidAt(day) {
					if r.plan.Products[sb.ProductID-1].Unit == "seat" {
						seats += sb.QuantityAt(day)
					}
					if sb.ProductKind == keel.KindEdition {
						paid = true
						renewal = sb.End()
					}
				} else if e := sb.End(); !e.IsZero() && !e.After(day) && day.Sub(e) <= time.Duration(s.ScoredEndedDays)*24*time.Hour && !sb.Trial() {
					endedRecently = true
				}
			}
			if !inService && !endedRecently {
				yesterday = ""
				continue
			}
			var outstanding int64
			var owedSince time.Time
			orders := false
			for oi, o := range r.orders[ti] {
				if o.Status != keel.OrderApproved || o.Payment == nil || o.Payment.PaidAt.After(day) {
					continue
				}
				orders = true
				if owe := o.Total() - o.Payment.Amount; owe > 0 {
					outstanding += owe
					if at := keel.Date(c.Orders[oi].PaidAt); owedSince.IsZero() || at.Before(owedSince) {
						owedSince = at
					}
				}
			}
			var users30 []uint64
			var f30, all30 uint16
			for k := max(0, d-29); k <= d; k++ {
				x := u.days[ti][k]
				for len(users30) < len(x.users) {
					users30 = append(users30, 0)
				}
				for w, b := range x.users {
					users30[w] |= b
				}
				f30 |= x.features
				all30 |= feats[k]
			}
			active := 0
			for _, w := range users30 {
				active += bits.OnesCount64(w)
			}
			in := keel.HealthInput{
				CustomerID: int64(ti + 1), Day: day, Activity: firstEvent >= 0 && firstEvent <= d,
				Logins: u.logins(ti, d-td+1, d), LoginsBefore: u.logins(ti, d-2*td+1, d-td),
				ActiveUsers30: int64(active), Features30: int64(bits.OnesCount16(f30)), AllFeatures30: int64(bits.OnesCount16(all30)),
				LoginsWeek: u.logins(ti, d-6, d), LoginsWeeks: u.logins(ti, d-6-7*s.BaselineWeeks, d-7),
				Seats: seats, RenewalOn: renewal, Orders: orders, Outstanding: outstanding, OwedSince: owedSince,
			}
			in.Trend = trend.Of(in.Logins, in.LoginsBefore)
			if !lastLogin.IsZero() && day.Sub(lastLogin) <= 90*24*time.Hour {
				in.LastLogin = lastLogin
			}
			score, ok := keel.ScoreHealth(in, s)
			rules := keel.EvaluateRules(keel.RuleInput{Input: in, Score: score, Scored: ok, Yesterday: yesterday}, s)
			for _, rule := range keel.AlertRules {
				_, holds := rules[rule]
				if holds && !live[rule] && d >= from+30 { // after the first month's start-up
					res.warnings++
					byCSM[c.CSM]++
					byRule[rule]++
				}
				live[rule] = holds
			}
			if !ok {
				yesterday = ""
				continue
			}
			yesterday = score.Band
			warned := score.Band == keel.BandRed
			for _, on := range live {
				warned = warned || on
			}
			warnedOn[d] = warned
			next := -1
			for _, ch := range churns {
				if ch.After(day) {
					next = int(ch.Sub(day).Hours() / 24)
					break
				}
			}
			all = append(all, scored{score: score.Score, red: score.Band == keel.BandRed, warned: warned, paid: paid, churnIn: next})
		}
		for _, ch := range churns {
			cd := int(ch.Sub(u.date(0)).Hours() / 24)
			if cd < from+90 || ch.After(today) {
				continue
			}
			res.churned++
			for _, l := range leads {
				if warnedOn[cd-l] {
					hits[l]++
				}
			}
		}
	}
	for _, l := range leads {
		res.recall[l] = float64(hits[l]) / float64(max(res.churned, 1))
	}
	res.weeks = float64(last-from-30) / 7
	for _, n := range byCSM {
		res.perCSMWeek = max(res.perCSMWeek, float64(n)/res.weeks)
	}
	auc := func(paidOnly bool) float64 {
		var pos, neg []int
		for _, x := range all {
			if paidOnly && !x.paid {
				continue
			}
			if x.churnIn > 0 && x.churnIn <= 90 {
				pos = append(pos, 100-x.score)
			} else {
				neg = append(neg, 100-x.score)
			}
		}
		return aucOf(pos, neg)
	}
	res.auc, res.aucPaid = auc(false), auc(true)
	return res
}

// aucOf is the chance that a positive's risk is above a negative's (ties
// count half): the area under the ROC curve.
func aucOf(pos, neg []int) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0
	}
	sort.Ints(neg)
	var sum float64
	for _, p := range pos {
		below, _ := slices.BinarySearch(neg, p)
		upto, _ := slices.BinarySearch(neg, p+1)
		sum += float64(below) + float64(upto-below)/2
	}
	return sum / float64(len(pos)) / float64(len(neg))
}

// TestChurnIsForeseeableInTheDemo estimates the health backtest of
// METRICS.md on the demo — every customer scored every day with the
// domain's rules under the default settings, from the events Day sends and
// the orders Sales writes — and checks the demo gives it something to
// find: the targets of the health work (AUC ≥ 0.80, recall ≥ 60 % at a
// 90-day lead, ≤ 5 new warnings per CSM per week), with churns without
// warning and declines that recover keeping it from being perfect.
func TestChurnIsForeseeableInTheDemo(t *testing.T) {
	u := demoUsage()
	r := replay(t, Sales(Config{Now: testNow}), testNow)
	// Scores from day 30 of the window (the first full 30-day figures);
	// churns from day 120, with 90 days of scores before each.
	bt := estimateBacktest(t, u, r, 30)
	t.Logf("%d churns measured; recall at 30/60/90 days %.0f %% / %.0f %% / %.0f %%; AUC %.3f (days in paid service only %.3f); %d new warnings in %.0f weeks, the busiest CSM %.1f a week",
		bt.churned, 100*bt.recall[30], 100*bt.recall[60], 100*bt.recall[90], bt.auc, bt.aucPaid, bt.warnings, bt.weeks, bt.perCSMWeek)
	t.Logf("new warnings by rule: %v", bt.byRule)
	if bt.churned < 15 {
		t.Errorf("%d churns to measure; want at least 15", bt.churned)
	}
	if bt.recall[90] < 0.6 || bt.recall[90] > 0.95 {
		t.Errorf("recall at 90 days %.0f %%, want 60 %% to 95 %% (some churn without warning)", 100*bt.recall[90])
	}
	if bt.aucPaid < 0.8 || bt.aucPaid > 0.98 {
		t.Errorf("AUC %.3f, want 0.80 to 0.98 (noise keeps it from perfect)", bt.aucPaid)
	}
	if bt.perCSMWeek > 5 {
		t.Errorf("the busiest CSM gets %.1f new warnings a week, want at most 5", bt.perCSMWeek)
	}
}
