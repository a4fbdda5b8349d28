package keel

import (
	"slices"
	"sort"
	"time"
)

// Revenue follows METRICS.md ("Revenue"): a customer's MRR in a month is
// the exact sum of its paid recurring lines in service on the month's
// sample day (the last day by default), and each month's change against
// the month before is one movement — new, expansion, contraction, churn or
// reactivation — so that, for every customer and month,
//
//	end MRR = start + new + expansion + reactivation − contraction − churn
//
// holds exactly. Everything here is computed from a customer's
// subscriptions (their grants), so the warehouse can compute a customer's
// whole series again whenever one of its facts arrives: a back-dated order
// or a void restates every month after it.

// MRRDay is the day of the month MRR is measured on.
type MRRDay string

// The MRR days.
const (
	MRRLastDay  MRRDay = "last"  // the default: lines in service on the month's last day
	MRRFirstDay MRRDay = "first" // lines in service on the month's first day
)

// MRRDays lists the MRR days.
var MRRDays = []MRRDay{MRRLastDay, MRRFirstDay}

// ChurnTiming says when a voided order's revenue stops.
type ChurnTiming string

// The churn timings.
const (
	// ChurnAtPeriodEnd, the default: a voided order is taken back as if it
	// had never been sold (its months are restated), so a customer churns
	// at the end of the last paid service period that remains.
	ChurnAtPeriodEnd ChurnTiming = "period_end"
	// ChurnOnVoidDay: a voided order's lines count until the day it was
	// voided, and the customer's MRR drops that day.
	ChurnOnVoidDay ChurnTiming = "void_day"
)

// ChurnTimings lists the churn timings.
var ChurnTimings = []ChurnTiming{ChurnAtPeriodEnd, ChurnOnVoidDay}

// RevenueSettings are the settings METRICS.md names for revenue.
type RevenueSettings struct {
	MRRDay      MRRDay      `json:"mrr_day"`      // default MRRLastDay
	ChurnTiming ChurnTiming `json:"churn_timing"` // default ChurnAtPeriodEnd
	// NRRWithReactivation counts reactivation in NRR; default false.
	NRRWithReactivation bool `json:"nrr_with_reactivation"`
	// RenewalGraceDays: a renewal approved up to this many days after the
	// end still renews it; default 30.
	RenewalGraceDays int `json:"renewal_grace_days"`
	// CACMonths is the window of CAC: 1 (the month's spend ÷ its new
	// customers, the default) or 3 (a trailing three months of both).
	CACMonths int `json:"cac_months"`
	// GrossMarginPct scales CAC payback: payback = CAC ÷ (new MRR per new
	// customer × margin). Default 100 (no margin applied), in percent.
	GrossMarginPct int `json:"gross_margin_pct"`
	// MainCurrency is the currency the dashboard opens on; "" = the one
	// with the most MRR.
	MainCurrency string `json:"main_currency"`
	// Location is the reporting timezone, in which a void's day is cut;
	// nil = UTC. It is each process's --tz, not a saved setting.
	Location *time.Location `json:"-"`
}

// DefaultRevenueSettings are METRICS.md's defaults.
var DefaultRevenueSettings = RevenueSettings{MRRDay: MRRLastDay, ChurnTiming: ChurnAtPeriodEnd, RenewalGraceDays: 30, CACMonths: 1, GrossMarginPct: 100}

// WithDefaults fills what is unset with the defaults.
func (s RevenueSettings) WithDefaults() RevenueSettings {
	d := DefaultRevenueSettings
	if s.MRRDay == "" {
		s.MRRDay = d.MRRDay
	}
	if s.ChurnTiming == "" {
		s.ChurnTiming = d.ChurnTiming
	}
	if s.RenewalGraceDays == 0 {
		s.RenewalGraceDays = d.RenewalGraceDays
	}
	if s.CACMonths == 0 {
		s.CACMonths = d.CACMonths
	}
	if s.GrossMarginPct == 0 {
		s.GrossMarginPct = d.GrossMarginPct
	}
	return s
}

// Validate checks settings as an admin enters them, naming the field.
func (s RevenueSettings) Validate() error {
	if err := OneOf("mrr_day", s.MRRDay, MRRDays); err != nil {
		return err
	}
	if err := OneOf("churn_timing", s.ChurnTiming, ChurnTimings); err != nil {
		return err
	}
	if s.RenewalGraceDays < 0 || s.RenewalGraceDays > 365 {
		return Invalid("renewal_grace_days", "must be %d to %d", 0, 365)
	}
	if s.CACMonths != 1 && s.CACMonths != 3 {
		return Invalid("cac_months", "must be 1 or 3")
	}
	if s.GrossMarginPct < 1 || s.GrossMarginPct > 100 {
		return Invalid("gross_margin_pct", "must be %d to %d", 1, 100)
	}
	if s.MainCurrency != "" {
		if err := ValidCurrency("main_currency", s.MainCurrency); err != nil {
			return err
		}
	}
	return nil
}

// SampleDay is the day of month m on which MRR is measured.
func (s RevenueSettings) SampleDay(m Month) time.Time {
	if s.MRRDay == MRRFirstDay {
		return m.First()
	}
	return m.Last()
}

// Movement is the kind of a month's change in a customer's MRR.
type Movement string

// The movements (ChartMogul's definitions, METRICS.md).
const (
	MoveNone         Movement = ""
	MoveNew          Movement = "new"          // the customer's first ever paid MRR
	MoveExpansion    Movement = "expansion"    // more than last month, which had MRR
	MoveContraction  Movement = "contraction"  // less than last month, still above zero
	MoveChurn        Movement = "churn"        // down to zero from last month's MRR
	MoveReactivation Movement = "reactivation" // back from zero for a customer who paid before
)

// Movements lists the movements in the order the MRR bridge stacks them.
var Movements = []Movement{MoveNew, MoveExpansion, MoveReactivation, MoveContraction, MoveChurn}

// ValidMovement returns an EINVALID error naming field unless m is one of
// Movements.
func ValidMovement(field string, m Movement) error { return OneOf(field, m, Movements) }

// CustomerMonth is one customer's revenue in one currency and month.
type CustomerMonth struct {
	CustomerID int64
	Currency   string
	Month      Month
	MRR        Exact    // on the month's sample day
	Previous   Exact    // the month before's MRR
	Movement   Movement // what changed, if anything
	Change     Exact    // the movement's amount: |MRR − Previous|; 0 without a movement
	// Cohort is the month of the customer's first paid MRR in this currency.
	Cohort Month
	// Orders are the orders whose lines started or stopped counting between
	// the two sample days: what caused the movement.
	Orders []int64
}

// Amount is the month's amount of movement m (0 unless it is this row's).
func (c CustomerMonth) Amount(m Movement) Exact {
	if c.Movement == m && m != MoveNone {
		return c.Change
	}
	return Exact{}
}

// revenueTerm is one grant that can carry MRR, with the interval revenue
// counts it in.
type revenueTerm struct {
	sub   int // index into the subscriptions
	grant int // index into its grants
	g     Grant
	mrr   Exact
}

// CustomerSeries computes a customer's revenue month by month, per
// currency, from its subscriptions: a row for every month with MRR or a
// movement, in currency then month order. A month's MRR sums the paid
// recurring terms in service on its sample day; trials, 0-priced and
// once-priced lines are never MRR.
func CustomerSeries(customerID int64, subs []Subscription, s RevenueSettings) []CustomerMonth {
	s = s.WithDefaults()
	byCurrency := map[string][]revenueTerm{}
	for i, sub := range subs {
		for j, g := range sub.Grants {
			if mrr := g.MRR(); mrr.Sign() > 0 {
				byCurrency[g.Currency] = append(byCurrency[g.Currency], revenueTerm{sub: i, grant: j, g: g, mrr: mrr})
			}
		}
	}
	currencies := make([]string, 0, len(byCurrency))
	for c := range byCurrency {
		currencies = append(currencies, c)
	}
	sort.Strings(currencies)
	var out []CustomerMonth
	for _, cur := range currencies {
		terms := byCurrency[cur]
		first, last := terms[0].g.Start, terms[0].g.End
		for _, t := range terms {
			if t.g.Start.Before(first) {
				first = t.g.Start
			}
			if t.g.End.After(last) {
				last = t.g.End
			}
		}
		var prev Exact
		var prevOn []bool
		paidBefore := false
		var cohort Month
		for m := MonthOf(first) - 1; m <= MonthOf(last)+1; m++ {
			day := s.SampleDay(m)
			on := make([]bool, len(terms))
			var sum ExactSum
			for k, t := range terms {
				if inService(subs[t.sub], t.grant, day, s) {
					on[k] = true
					sum.Add(t.mrr)
				}
			}
			mrr, _ := sum.Exact()
			row := CustomerMonth{CustomerID: customerID, Currency: cur, Month: m, MRR: mrr, Previous: prev}
			switch d := diff(mrr, prev); {
			case prev.IsZero() && mrr.Sign() > 0 && paidBefore:
				row.Movement, row.Change = MoveReactivation, mrr
			case prev.IsZero() && mrr.Sign() > 0:
				row.Movement, row.Change = MoveNew, mrr
				cohort = m
			case prev.Sign() > 0 && mrr.IsZero():
				row.Movement, row.Change = MoveChurn, prev
			case d.Sign() > 0:
				row.Movement, row.Change = MoveExpansion, d
			case d.Sign() < 0:
				row.Movement, row.Change = MoveContraction, neg(d)
			}
			row.Cohort = cohort
			if prevOn != nil {
				seen := map[int64]bool{}
				for k := range terms {
					if on[k] != prevOn[k] && !seen[terms[k].g.OrderID] {
						seen[terms[k].g.OrderID] = true
						row.Orders = append(row.Orders, terms[k].g.OrderID)
					}
				}
				slices.Sort(row.Orders)
			}
			if mrr.Sign() > 0 {
				paidBefore = true
			}
			if row.MRR.Sign() > 0 || row.Movement != MoveNone {
				out = append(out, row)
			}
			prev, prevOn = mrr, on
		}
	}
	return out
}

func diff(a, b Exact) Exact {
	var s ExactSum
	s.Add(a)
	s.Sub(b)
	d, _ := s.Exact()
	return d
}

func neg(a Exact) Exact { return Exact{Num: -a.Num, Den: a.Den} }

// inService reports whether grant i of sub serves day d, as revenue counts
// it: within its term; not taken back by a void (under ChurnOnVoidDay a
// voided grant still counts before the day it was voided); and not ended
// by a cut — an upgrade — made after it and in effect on d.
func inService(sub Subscription, i int, d time.Time, s RevenueSettings) bool {
	g := sub.Grants[i]
	if d.Before(g.Start) || !d.Before(g.End) || !liveOn(g, d, s) {
		return false
	}
	for _, c := range sub.Grants[i+1:] {
		if c.Kind == GrantCut && !d.Before(c.Start) && liveOn(c, d, s) {
			return false
		}
	}
	return true
}

// liveOn reports whether grant g is in effect on day d: always unless
// voided, and under ChurnOnVoidDay a voided grant until its void day.
func liveOn(g Grant, d time.Time, s RevenueSettings) bool {
	if !g.Void {
		return true
	}
	if s.ChurnTiming != ChurnOnVoidDay || g.VoidedAt == nil {
		return false
	}
	return d.Before(NewCalendar(s.Location).Day(*g.VoidedAt))
}

// Renewal is one subscription term coming to its end, and whether the
// customer renewed it (METRICS.md, "Renewals").
type Renewal struct {
	CustomerID     int64
	SubscriptionID int64
	ProductID      int64
	Currency       string
	// EndsOn is the term's end (its first day out of service); it is due
	// in EndsOn's month.
	EndsOn time.Time
	Due    Month
	DueMRR Exact   // the MRR of what ends
	Orders []int64 // the orders whose terms end
	// Renewed: an approved renewal order for the customer extends the
	// subscription, approved before or up to RenewalGraceDays after the end.
	Renewed       bool
	RenewedMRR    Exact
	RenewalOrders []int64
}

// CustomerRenewals lists a customer's renewals: for every subscription,
// each end of a paid recurring term that is not the middle of continuing
// service. A term an upgrade cut short is not due (it was replaced, not
// left to end); a term another term of the same subscription already
// covers beyond its end is not due either. Void orders take no part.
func CustomerRenewals(customerID int64, subs []Subscription, s RevenueSettings) []Renewal {
	s = s.WithDefaults()
	var out []Renewal
	for _, sub := range subs {
		terms := sub.terms() // live terms, cut where an upgrade cut them
		ends := map[time.Time]*Renewal{}
		for _, t := range terms {
			mrr := t.MRR()
			if mrr.Sign() <= 0 || t.End.Before(originalEnd(sub, t)) {
				continue // not MRR, or cut short by an upgrade
			}
			if coveredAfter(terms, t) {
				continue
			}
			r := ends[t.End]
			if r == nil {
				r = &Renewal{CustomerID: customerID, SubscriptionID: sub.ID, ProductID: sub.ProductID, Currency: t.Currency, EndsOn: t.End, Due: MonthOf(t.End)}
				ends[t.End] = r
			}
			r.DueMRR = addExact(r.DueMRR, mrr)
			r.Orders = appendUnique(r.Orders, t.OrderID)
		}
		for end, r := range ends {
			grace := end.AddDate(0, 0, s.RenewalGraceDays)
			for _, t := range terms {
				if t.OrderKind != OrderRenewal || t.MRR().Sign() <= 0 || t.Start.Before(end) || t.Start.After(grace) {
					continue
				}
				if !t.ApprovedOn.IsZero() && t.ApprovedOn.After(grace) {
					continue
				}
				r.Renewed = true
				r.RenewedMRR = addExact(r.RenewedMRR, t.MRR())
				r.RenewalOrders = appendUnique(r.RenewalOrders, t.OrderID)
			}
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].EndsOn.Equal(out[j].EndsOn) {
			return out[i].EndsOn.Before(out[j].EndsOn)
		}
		return out[i].SubscriptionID < out[j].SubscriptionID
	})
	return out
}

// originalEnd is the end term t had before any cut (an order line makes
// one term on a subscription).
func originalEnd(sub Subscription, t Grant) time.Time {
	for _, g := range sub.Grants {
		if g.Kind == GrantTerm && g.OrderID == t.OrderID && g.LineID == t.LineID {
			return g.End
		}
	}
	return t.End
}

// coveredAfter reports whether another paid term that started before t's
// end still serves on it, so the service goes on without a renewal.
func coveredAfter(terms []Grant, t Grant) bool {
	for _, o := range terms {
		if o.OrderID == t.OrderID && o.LineID == t.LineID {
			continue
		}
		if o.MRR().Sign() > 0 && o.OrderKind != OrderRenewal && o.Start.Before(t.End) && o.End.After(t.End) {
			return true
		}
	}
	return false
}

func addExact(a, b Exact) Exact {
	var s ExactSum
	s.Add(a)
	s.Add(b)
	r, _ := s.Exact()
	return r
}

func appendUnique(ids []int64, id int64) []int64 {
	if slices.Contains(ids, id) {
		return ids
	}
	ids = append(ids, id)
	slices.Sort(ids)
	return ids
}
