package keel

import (
	"slices"
	"sort"
	"time"
)

// SubscriptionStatus is a subscription's state on a given day, derived from
// its grants.
type SubscriptionStatus string

// The subscription statuses.
const (
	SubPending SubscriptionStatus = "pending" // granted, not started yet
	SubActive  SubscriptionStatus = "active"  // in service today
	SubEnded   SubscriptionStatus = "ended"   // its last term is over
	SubVoid    SubscriptionStatus = "void"    // every order that shaped it was voided
)

// SubscriptionStatuses lists the subscription statuses.
var SubscriptionStatuses = []SubscriptionStatus{SubPending, SubActive, SubEnded, SubVoid}

// GrantKind says what a grant does to its subscription.
type GrantKind string

// The grant kinds.
const (
	// A term adds Quantity to the subscription from Start to End.
	GrantTerm GrantKind = "term"
	// A cut ends the subscription at Start: an upgrade switching the
	// customer to another edition from that day.
	GrantCut GrantKind = "cut"
)

// Grant is what one line of one approved order did to one subscription.
// A subscription is never edited directly: its state is the sum of its live
// grants, so voiding an order — marking its grants void — takes back exactly
// what that order granted and nothing else.
type Grant struct {
	ID             int64
	SubscriptionID int64 // 0 until stored: a new subscription for ProductID
	ProductID      int64
	OrderID        int64
	LineID         int64
	OrderKind      OrderKind
	Kind           GrantKind
	Trial          bool
	Quantity       int64
	Start          time.Time // UTC midnight
	End            time.Time // exclusive; zero for a cut
	MonthlyAmount  int64     // the line's recurring revenue per month, rounded (minor units); 0 for trials and one-off prices
	Currency       string
	Void           bool

	// What revenue needs of the order line behind the grant (METRICS.md):
	// the line's total and months, whose ratio is its exact MRR, and its
	// price period (once-priced lines are never MRR).
	Amount int64
	Months int
	Period Period
	// ApprovedOn is the day the order counts as approved: the day finance
	// recorded the payment (or a trial's own approval). History loaded
	// after the fact is approved today but was paid back then, and the
	// renewal rule ("approved up to 30 days after the end") is about the
	// business's dates, not the data entry's.
	ApprovedOn time.Time
	// VoidedAt is when the order was voided (void grants only).
	VoidedAt *time.Time
}

// MRR is the grant's exact recurring revenue per month: the line's total ÷
// its months for a paid term of a recurring price; 0 for cuts, trials and
// one-off prices.
func (g Grant) MRR() Exact {
	if g.Kind != GrantTerm || g.Trial || g.Period == PeriodOnce || g.Months <= 0 || g.Amount <= 0 {
		return Exact{}
	}
	return ExactRatio(g.Amount, int64(g.Months))
}

// Subscription is a customer's service of one product ("a service"). There
// is at most one per customer and product; orders add grants to it.
type Subscription struct {
	ID          int64
	CustomerID  int64
	ProductID   int64
	ProductKind ProductKind
	Grants      []Grant // in the order they were made (by id): a cut ends only the terms before it
}

// terms returns the live terms, each clipped at the earliest live cut made
// after it, without empty ones. A cut ends the service granted before it,
// not service granted again later (a customer back on an edition it left).
func (s Subscription) terms() []Grant {
	var cut time.Time
	hasCut := false
	var out []Grant
	for i := len(s.Grants) - 1; i >= 0; i-- {
		g := s.Grants[i]
		if g.Void {
			continue
		}
		switch g.Kind {
		case GrantCut:
			if !hasCut || g.Start.Before(cut) {
				cut, hasCut = g.Start, true
			}
		case GrantTerm:
			if hasCut && g.End.After(cut) {
				g.End = cut
			}
			if g.End.After(g.Start) {
				out = append(out, g)
			}
		}
	}
	slices.Reverse(out)
	return out
}

// Start is the first day of service; zero when there is none.
func (s Subscription) Start() time.Time {
	var start time.Time
	for _, g := range s.terms() {
		if start.IsZero() || g.Start.Before(start) {
			start = g.Start
		}
	}
	return start
}

// End is the day service ends (exclusive); zero when there is none.
func (s Subscription) End() time.Time {
	var end time.Time
	for _, g := range s.terms() {
		if g.End.After(end) {
			end = g.End
		}
	}
	return end
}

// QuantityAt is the quantity (seats, quota) in service on day t. Paid terms
// add up; a trial counts only on days no paid term covers.
func (s Subscription) QuantityAt(t time.Time) int64 {
	var paid, trial int64
	for _, g := range s.terms() {
		if t.Before(g.Start) || !t.Before(g.End) {
			continue
		}
		if g.Trial {
			trial += g.Quantity
		} else {
			paid += g.Quantity
		}
	}
	if paid > 0 {
		return paid
	}
	return trial
}

// Quantity is the quantity people ask about on day today: the one in
// service; for a subscription that has not started, that of its first day;
// for one that has ended, that of its last; 0 when every grant is void.
func (s Subscription) Quantity(today time.Time) int64 {
	switch s.Status(today) {
	case SubActive:
		return s.QuantityAt(today)
	case SubPending:
		return s.QuantityAt(s.Start())
	case SubEnded:
		return s.QuantityAt(s.End().AddDate(0, 0, -1))
	}
	return 0
}

// PaidAt reports whether a paid term covers day t.
func (s Subscription) PaidAt(t time.Time) bool {
	for _, g := range s.terms() {
		if !g.Trial && !t.Before(g.Start) && t.Before(g.End) {
			return true
		}
	}
	return false
}

// Trial reports whether every live term is a trial.
func (s Subscription) Trial() bool {
	terms := s.terms()
	for _, g := range terms {
		if !g.Trial {
			return false
		}
	}
	return len(terms) > 0
}

// Status is the subscription's state on day today (a reporting day).
func (s Subscription) Status(today time.Time) SubscriptionStatus {
	terms := s.terms()
	if len(terms) == 0 {
		return SubVoid
	}
	for _, g := range terms {
		if !today.Before(g.Start) && today.Before(g.End) {
			return SubActive
		}
	}
	if today.Before(s.End()) {
		return SubPending
	}
	return SubEnded
}

// OrderIDs lists the orders that shaped the subscription, oldest first.
func (s Subscription) OrderIDs() []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, g := range s.Grants {
		if !seen[g.OrderID] {
			seen[g.OrderID] = true
			ids = append(ids, g.OrderID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// SubscriptionFilter selects subscriptions. Empty fields do not filter.
type SubscriptionFilter struct {
	CustomerID int64
	ProductID  int64
	Status     SubscriptionStatus // status today
	Page
}
