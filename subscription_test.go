package keel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// term is a paid term of order for qty from start to end (dates).
func term(order int64, kind keel.OrderKind, qty int64, start, end string) keel.Grant {
	return keel.Grant{OrderID: order, OrderKind: kind, Kind: keel.GrantTerm, Quantity: qty, Start: day(start), End: day(end), Currency: "USD"}
}

// trialTerm is a trial term.
func trialTerm(order int64, qty int64, start, end string) keel.Grant {
	g := term(order, keel.OrderTrial, qty, start, end)
	g.Trial = true
	return g
}

// cut is an upgrade's cut at day at.
func cut(order int64, at string) keel.Grant {
	return keel.Grant{OrderID: order, OrderKind: keel.OrderUpgrade, Kind: keel.GrantCut, Start: day(at)}
}

func void(g keel.Grant) keel.Grant {
	g.Void = true
	return g
}

func sub(id, product int64, grants ...keel.Grant) keel.Subscription {
	return keel.Subscription{ID: id, CustomerID: 7, ProductID: product, ProductKind: keel.KindEdition, Grants: grants}
}

func TestSubscriptionAcrossGapsAndCuts(t *testing.T) {
	type probe struct {
		at     string
		qty    int64
		status keel.SubscriptionStatus
	}
	tests := []struct {
		name       string
		sub        keel.Subscription
		start, end string // "" = zero
		probes     []probe
	}{
		{
			name:  "one term",
			sub:   sub(1, 2, term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01")),
			start: "2026-01-01", end: "2027-01-01",
			probes: []probe{
				{"2025-12-31", 0, keel.SubPending},
				{"2026-01-01", 10, keel.SubActive},
				{"2026-12-31", 10, keel.SubActive},
				{"2027-01-01", 0, keel.SubEnded},
			},
		},
		{
			name: "a gap between two terms",
			sub: sub(1, 2,
				term(1, keel.OrderNew, 5, "2026-01-01", "2026-04-01"),
				term(2, keel.OrderRenewal, 7, "2026-06-01", "2026-09-01")),
			start: "2026-01-01", end: "2026-09-01",
			probes: []probe{
				{"2026-03-31", 5, keel.SubActive},
				{"2026-04-01", 0, keel.SubPending}, // the next term is granted, not started
				{"2026-05-31", 0, keel.SubPending},
				{"2026-06-01", 7, keel.SubActive},
				{"2026-09-01", 0, keel.SubEnded},
			},
		},
		{
			name: "overlapping terms add up",
			sub: sub(1, 10,
				term(1, keel.OrderNew, 5, "2026-01-01", "2027-01-01"),
				term(2, keel.OrderAddon, 3, "2026-03-01", "2026-09-01")),
			start: "2026-01-01", end: "2027-01-01",
			probes: []probe{
				{"2026-02-28", 5, keel.SubActive},
				{"2026-03-01", 8, keel.SubActive},
				{"2026-08-31", 8, keel.SubActive},
				{"2026-09-01", 5, keel.SubActive},
			},
		},
		{
			name: "a cut ends every term at its day",
			sub: sub(1, 1,
				term(1, keel.OrderNew, 5, "2026-01-01", "2027-01-01"),
				term(2, keel.OrderRenewal, 5, "2027-01-01", "2028-01-01"),
				cut(3, "2026-04-01")),
			start: "2026-01-01", end: "2026-04-01",
			probes: []probe{
				{"2026-03-31", 5, keel.SubActive},
				{"2026-04-01", 0, keel.SubEnded},
				{"2027-06-01", 0, keel.SubEnded}, // the prepaid renewal was cut away
			},
		},
		{
			name: "the earliest of two cuts wins",
			sub: sub(1, 1,
				term(1, keel.OrderNew, 5, "2026-01-01", "2027-01-01"),
				cut(3, "2026-06-01"),
				cut(4, "2026-04-01")),
			start: "2026-01-01", end: "2026-04-01",
			probes: []probe{{"2026-05-01", 0, keel.SubEnded}},
		},
		{
			name: "a void cut cuts nothing",
			sub: sub(1, 1,
				term(1, keel.OrderNew, 5, "2026-01-01", "2027-01-01"),
				void(cut(3, "2026-04-01"))),
			start: "2026-01-01", end: "2027-01-01",
			probes: []probe{{"2026-06-01", 5, keel.SubActive}},
		},
		{
			name: "a term granted after a cut is not cut", // back on an edition left before
			sub: sub(1, 1,
				term(1, keel.OrderNew, 5, "2026-01-01", "2027-01-01"),
				cut(3, "2026-04-01"),
				term(5, keel.OrderUpgrade, 8, "2026-10-01", "2027-10-01")),
			start: "2026-01-01", end: "2027-10-01",
			probes: []probe{
				{"2026-03-31", 5, keel.SubActive},
				{"2026-04-01", 0, keel.SubPending},
				{"2026-10-01", 8, keel.SubActive},
				{"2027-10-01", 0, keel.SubEnded},
			},
		},
		{
			name: "a trial counts only where nothing is paid",
			sub: sub(1, 2,
				trialTerm(1, 3, "2026-01-01", "2026-01-31"),
				term(2, keel.OrderNew, 10, "2026-01-20", "2027-01-20")),
			start: "2026-01-01", end: "2027-01-20",
			probes: []probe{
				{"2026-01-19", 3, keel.SubActive},
				{"2026-01-20", 10, keel.SubActive},
				{"2026-01-30", 10, keel.SubActive},
			},
		},
		{
			name: "every grant void",
			sub: sub(1, 2,
				void(term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01")),
				void(term(2, keel.OrderRenewal, 10, "2027-01-01", "2028-01-01"))),
			probes: []probe{
				{"2025-12-01", 0, keel.SubVoid},
				{"2026-06-01", 0, keel.SubVoid},
				{"2029-01-01", 0, keel.SubVoid},
			},
		},
		{
			name:   "no grants",
			sub:    sub(1, 2),
			probes: []probe{{"2026-06-01", 0, keel.SubVoid}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.sub
			var wantStart, wantEnd time.Time
			if tt.start != "" {
				wantStart, wantEnd = day(tt.start), day(tt.end)
			}
			if got := s.Start(); !got.Equal(wantStart) {
				t.Errorf("Start() = %v, want %v", got, wantStart)
			}
			if got := s.End(); !got.Equal(wantEnd) {
				t.Errorf("End() = %v, want %v", got, wantEnd)
			}
			for _, p := range tt.probes {
				// Any time of the day gives the day's answer.
				for _, at := range []time.Time{day(p.at), day(p.at).Add(23*time.Hour + 59*time.Minute)} {
					if got := s.QuantityAt(at); got != p.qty {
						t.Errorf("QuantityAt(%s) = %d, want %d", at.Format(time.RFC3339), got, p.qty)
					}
					if got := s.Status(at); got != p.status {
						t.Errorf("Status(%s) = %q, want %q", at.Format(time.RFC3339), got, p.status)
					}
				}
			}
		})
	}
}

func TestSubscriptionPaidAtAndTrial(t *testing.T) {
	trialOnly := sub(1, 2, trialTerm(1, 3, "2026-01-01", "2026-01-31"))
	if trialOnly.PaidAt(day("2026-01-10")) {
		t.Error("PaidAt during a trial = true, want false")
	}
	if !trialOnly.Trial() {
		t.Error("Trial() of a trial-only subscription = false, want true")
	}
	paid := sub(1, 2, trialTerm(1, 3, "2026-01-01", "2026-01-31"), term(2, keel.OrderNew, 10, "2026-02-01", "2027-02-01"))
	if paid.Trial() {
		t.Error("Trial() after a paid term = true, want false")
	}
	if paid.PaidAt(day("2026-01-31")) || !paid.PaidAt(day("2026-02-01")) || paid.PaidAt(day("2027-02-01")) {
		t.Errorf("PaidAt at 2026-01-31 / 2026-02-01 / 2027-02-01 = %v / %v / %v, want false / true / false",
			paid.PaidAt(day("2026-01-31")), paid.PaidAt(day("2026-02-01")), paid.PaidAt(day("2027-02-01")))
	}
	voided := sub(1, 2, void(trialTerm(1, 3, "2026-01-01", "2026-01-31")))
	if voided.Trial() {
		t.Error("Trial() with no live terms = true, want false")
	}
}

func TestSubscriptionQuantity(t *testing.T) {
	s := sub(1, 2,
		term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01"),
		term(2, keel.OrderAddon, 5, "2026-06-01", "2027-01-01"))
	for _, tt := range []struct {
		today string
		want  int64
	}{
		{"2025-12-31", 10}, // not started: its first day's
		{"2026-03-01", 10}, // in service: today's
		{"2026-07-01", 15},
		{"2027-01-01", 15}, // ended: its last day's
		{"2030-01-01", 15},
	} {
		if got := s.Quantity(day(tt.today)); got != tt.want {
			t.Errorf("Quantity(%s) = %d, want %d", tt.today, got, tt.want)
		}
	}
	if got := sub(1, 2, void(term(1, keel.OrderNew, 10, "2026-01-01", "2027-01-01"))).Quantity(day("2026-03-01")); got != 0 {
		t.Errorf("Quantity of a void subscription = %d, want 0", got)
	}
}

func TestSubscriptionOrderIDs(t *testing.T) {
	s := sub(1, 2,
		term(9, keel.OrderRenewal, 1, "2027-01-01", "2028-01-01"),
		term(3, keel.OrderNew, 1, "2026-01-01", "2027-01-01"),
		void(term(5, keel.OrderAddon, 1, "2026-03-01", "2026-04-01")), // voided orders shaped it too
		cut(9, "2027-06-01"),
	)
	if got, want := s.OrderIDs(), []int64{3, 5, 9}; !slices.Equal(got, want) {
		t.Errorf("OrderIDs() = %v, want %v", got, want)
	}
	if got := sub(2, 2).OrderIDs(); len(got) != 0 {
		t.Errorf("OrderIDs() of no grants = %v, want none", got)
	}
}
