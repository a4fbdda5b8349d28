package postgres

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/keelhq/keel"
)

// subscriptionFacts reads the subscription.changed facts of customer cid
// from the outbox, oldest first.
func (e *storeEnv) subscriptionFacts(t *testing.T, cid int64) []keel.SubscriptionFact {
	t.Helper()
	rows, err := e.db.pool.Query(e.ctx, `SELECT payload->'data' FROM outbox WHERE kind = $1 AND key = $2 ORDER BY id`,
		string(keel.FactSubscriptionChanged), strconv.FormatInt(cid, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []keel.SubscriptionFact
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var f keel.SubscriptionFact
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// TestSubscriptionFactsCarryRevenue: an approval's and a void's
// subscription.changed facts carry each grant's line amount, months,
// period and approval day, and the voided grants apart with their void
// time — exactly what the domain's subscription holds, so the warehouse
// computes MRR from facts alone. A yearly price's monthly amount is
// rounded, no longer truncated.
func TestSubscriptionFactsCarryRevenue(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	o := e.approved(t, cid, keel.OrderNew, lineFrom(s.storage, 1, 12, ymd(2026, 1, 31)), lineFrom(s.basic, 3, 12, ymd(2026, 1, 31)))
	facts := e.subscriptionFacts(t, cid)
	if len(facts) != 2 {
		t.Fatalf("%d subscription facts, want 2", len(facts))
	}
	for _, f := range facts {
		g := f.Grants[0]
		if g.Months != 12 || g.ApprovedOn == nil || *g.ApprovedOn != paymentFor(o).PaidAt.UTC().Format("2006-01-02") || *g.End != "2027-01-31" {
			t.Errorf("grant %+v: want 12 months, approved on the payment's day, ending 2027-01-31", g)
		}
		switch f.ProductID {
		case s.storage.ID:
			if g.Amount != 120000 || g.Period != keel.PeriodYear || g.MonthlyAmount != 10000 {
				t.Errorf("storage grant %+v, want 120000 a year, 10000 a month", g)
			}
		case s.basic.ID:
			if g.Amount != 5000*3*12 || g.Period != keel.PeriodMonth || f.ProductUnit != "unit" {
				t.Errorf("basic grant %+v of %+v, want 180000 over 12 months", g, f)
			}
		}
	}
	sub, err := facts[0].Subscription()
	if err != nil {
		t.Fatal(err)
	}
	if got := sub.Grants[0].MRR(); got != keel.ExactRatio(facts[0].Grants[0].Amount, 12) {
		t.Errorf("MRR from the fact = %v", got)
	}
	if _, err := e.db.VoidOrder(e.ctx, e.finance, o.ID); err != nil {
		t.Fatal(err)
	}
	facts = e.subscriptionFacts(t, cid)
	last := facts[len(facts)-1]
	if len(last.Grants) != 0 || len(last.Voided) != 1 || last.Voided[0].VoidedAt == nil {
		t.Errorf("after the void: %+v, want no live grant and the voided one with its time", last)
	}
}

func TestRevenueSettingsAndSpend(t *testing.T) {
	e := newStoreEnv(t)
	got, err := e.db.RevenueSettings(e.ctx)
	if err != nil || got.MRRDay != keel.MRRLastDay || got.RenewalGraceDays != 30 {
		t.Fatalf("settings before any save: %+v, %v; want METRICS.md's defaults", got, err)
	}
	want := keel.DefaultRevenueSettings
	want.ChurnTiming, want.MainCurrency = keel.ChurnOnVoidDay, "CNY"
	if _, err := e.db.SetRevenueSettings(e.ctx, e.sales, want); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("sales saves settings: %v, want forbidden", err)
	}
	bad := want
	bad.CACMonths = 2
	if _, err := e.db.SetRevenueSettings(e.ctx, e.admin, bad); keel.ErrorField(err) != "cac_months" {
		t.Errorf("bad CAC window: %v, want a refusal naming cac_months", err)
	}
	if _, err := e.db.SetRevenueSettings(e.ctx, e.admin, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.db.RevenueSettings(e.ctx); got != want {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	var n int
	e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM outbox WHERE kind = 'settings.changed' AND key = '0'`).Scan(&n)
	if n == 0 {
		t.Error("no settings.changed fact")
	}

	m := keel.MonthAt(2026, 3)
	if _, err := e.db.SetSpend(e.ctx, e.sales, keel.Spend{Month: m, Currency: "USD", Amount: 1}); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("sales enters spend: %v, want forbidden", err)
	}
	if _, err := e.db.SetSpend(e.ctx, e.finance, keel.Spend{Month: m, Currency: "USD", Amount: -1}); keel.ErrorField(err) != "amount" {
		t.Errorf("negative spend: %v, want a refusal naming amount", err)
	}
	for _, amount := range []int64{500000, 750000} {
		if _, err := e.db.SetSpend(e.ctx, e.finance, keel.Spend{Month: m, Currency: "USD", Amount: amount}); err != nil {
			t.Fatal(err)
		}
	}
	spend, err := e.db.Spend(e.ctx, m, m)
	if err != nil || len(spend) != 1 || spend[0].Amount != 750000 || spend[0].UpdatedBy != e.finance.ID {
		t.Errorf("spend = %+v, %v; want one entry of 750000 by finance", spend, err)
	}
	var audits int
	e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM audit_log WHERE action IN ('spend.set', 'settings.revenue')`).Scan(&audits)
	if audits < 3 {
		t.Errorf("%d audit rows for settings and spend, want at least 3", audits)
	}
}

func TestRepublishSubscriptions(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	e.approved(t, cid, keel.OrderNew, line(s.basic, 1, 12), line(s.seats, 2, 12))
	before := len(e.subscriptionFacts(t, cid))
	n, err := e.db.RepublishSubscriptions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := e.subscriptionFacts(t, cid)
	if n < 2 || len(after) != before+2 {
		t.Errorf("republished %d facts, customer's went %d → %d; want its two subscriptions again", n, before, len(after))
	}
}
