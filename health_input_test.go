package keel_test

import (
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

// TestKnownOn: a day's score sees only the orders approved by its end and
// the voids made by then, whatever happened since.
func TestKnownOn(t *testing.T) {
	b := keeltest.NewBook(t)
	b.Products("USD")
	b.Order("a", keel.OrderNew, "2026-01-05", keeltest.L("pro", 1, 12, ""), keeltest.L("seats", 10, 12, ""))
	support := b.Order("a", keel.OrderAddon, "2026-02-01", keeltest.L("support", 1, 6, ""))
	b.Void("a", support.ID, keeltest.Day(t, "2026-04-10").Add(15*time.Hour))
	b.Order("a", keel.OrderNew, "2026-05-20", keeltest.L("setup", 1, 1, "2026-01-05")) // back-dated, approved later
	c := b.Customer("a")
	cal := keel.UTC
	units := map[int64]string{}
	for id, e := range b.Catalogue {
		units[id] = e.Product.Unit
	}
	known := func(day string) (keel.HealthInput, []keel.Subscription) {
		d := keeltest.Day(t, day)
		var subs []keel.Subscription
		for _, s := range c.Subscriptions {
			subs = append(subs, s.KnownOn(d, cal))
		}
		var orders []keel.Order
		for _, o := range c.Orders {
			if o.VoidedAt != nil && o.VoidedAt.After(d.AddDate(0, 0, 1)) {
				o.Status, o.VoidedAt = keel.OrderApproved, nil
			}
			orders = append(orders, o)
		}
		in := keel.HealthInput{Day: d}
		in.FillRecords(subs, orders, units, d, cal)
		return in, subs
	}
	// 1 March: pro + 10 seats + support (not yet voided).
	in, subs := known("2026-03-01")
	if got, want := in.MRR, keel.ExactOf(30000+10*1000+5000); got != want {
		t.Errorf("MRR on 1 March = %v, want %v (support not yet voided)", got, want)
	}
	if in.Seats != 1+10 || in.RenewalOn != keeltest.Day(t, "2027-01-05") || !in.Orders || in.Outstanding != 0 {
		t.Errorf("1 March: %+v", in)
	}
	if !keel.Scored(subs, in.Day, 90) {
		t.Error("not scored while in service")
	}
	// 1 May: the support add-on was voided on 10 April.
	if in, _ = known("2026-05-01"); in.MRR != keel.ExactOf(40000) {
		t.Errorf("MRR on 1 May = %v, want 40000 (support voided)", in.MRR)
	}
	// The back-dated setup order was approved on 20 May: unknown before.
	grants := func(day string) int {
		_, subs := known(day)
		n := 0
		for _, s := range subs {
			n += len(s.Grants)
		}
		return n
	}
	if before, after := grants("2026-05-19"), grants("2026-05-21"); after != before+1 {
		t.Errorf("grants known on 19 May %d, on 21 May %d; want the back-dated order's one more", before, after)
	}
	// After the end, scored for 90 days, then no more.
	if _, subs := known("2027-03-01"); !keel.Scored(subs, keeltest.Day(t, "2027-03-01"), 90) {
		t.Error("not scored 55 days after the end")
	}
	if _, subs := known("2027-06-01"); keel.Scored(subs, keeltest.Day(t, "2027-06-01"), 90) {
		t.Error("scored 147 days after the end")
	}
	// A grant approved after the day is not there at all.
	early := c.Subscriptions[0].KnownOn(keeltest.Day(t, "2026-01-04"), cal)
	if len(early.Grants) != 0 {
		t.Errorf("on 4 January the subscription has %d grants, want none", len(early.Grants))
	}
}

func TestOutstandingPayment(t *testing.T) {
	cal := keel.UTC
	day := keeltest.Day(t, "2026-06-30")
	paidOn := keeltest.Day(t, "2026-06-10").Add(10 * time.Hour)
	o := keel.Order{ID: 1, Kind: keel.OrderNew, Status: keel.OrderApproved, Currency: "USD",
		Lines:   []keel.OrderLine{{UnitAmount: 10000, Quantity: 1, Months: 1, Period: keel.PeriodMonth}},
		Payment: &keel.Payment{Amount: 4000, PaidAt: paidOn}}
	in := keel.HealthInput{Day: day}
	in.FillRecords(nil, []keel.Order{o}, nil, day, cal)
	if !in.Orders || in.Outstanding != 6000 || in.OwedSince != keeltest.Day(t, "2026-06-10") {
		t.Errorf("input %+v, want 6000 owed since 10 June", in)
	}
	h, _ := keel.ScoreHealth(in, keel.DefaultHealthSettings)
	for _, c := range h.Components {
		if c.Component == keel.CompPayment && (c.NoData || c.Sub < 33 || c.Sub > 34) {
			t.Errorf("payment owed 20 of 30 days: %+v, want about 33", c)
		}
	}
}
