package scoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func TestMain(m *testing.M) { teststack.Main(m) }

// world is a small company on the test servers: a catalogue, staff, and
// customers whose tenants send events, all on one test's own tenants.
type world struct {
	t       *testing.T
	ctx     context.Context
	pg      *postgres.DB
	ch      *warehouse.Store
	id      string
	now     time.Time
	sales   keel.Employee
	csm     keel.Employee
	finance keel.Employee
	pro     keel.Product
	mu      sync.Mutex
}

var seq int

func newWorld(t *testing.T, now time.Time) *world {
	t.Helper()
	return newWorldOn(t, now, teststack.Get(t).Postgres.URL())
}

// newWorldOn is newWorld on the Postgres database at pgURL.
func newWorldOn(t *testing.T, now time.Time, pgURL string) *world {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	pg, err := postgres.Open(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	ch, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	seq++
	w := &world{t: t, ctx: ctx, pg: pg, ch: ch, id: fmt.Sprintf("%d-%d", seq, time.Now().UnixNano()%1e6), now: now}
	pg.SetClock(w.clock)
	for _, x := range []struct {
		e    *keel.Employee
		role keel.Role
	}{{&w.sales, keel.RoleSales}, {&w.csm, keel.RoleCSM}, {&w.finance, keel.RoleFinance}} {
		e, _, err := pg.AddEmployee(ctx, keel.System, keel.Employee{Email: fmt.Sprintf("%s-%s@example.com", x.role, w.id), Name: string(x.role), Roles: []keel.Role{x.role}})
		if err != nil {
			t.Fatal(err)
		}
		*x.e = e
	}
	admin, _, err := pg.AddEmployee(ctx, keel.System, keel.Employee{Email: "admin-" + w.id + "@example.com", Name: "admin", Roles: []keel.Role{keel.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	if w.pro, err = pg.CreateProduct(ctx, admin, keel.Product{Code: "pro-" + w.id, Name: "Pro", Kind: keel.KindEdition, Unit: "seat"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.AddPrice(ctx, admin, keel.PriceVersion{ProductID: w.pro.ID, Amount: 3000, Currency: "USD", Period: keel.PeriodMonth,
		EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) clock() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }

// customer makes a customer with a tenant (or none), a CSM, and a 12-seat
// year of Pro from start, paid on start.
func (w *world) customer(name string, tenant bool, start time.Time) (keel.CustomerView, string) {
	w.t.Helper()
	c := keel.Customer{Name: name + " " + w.id, CSMOwner: &w.csm.ID, SalesOwner: &w.sales.ID}
	tid := ""
	if tenant {
		tid = "t-" + name + "-" + w.id
		c.TenantID = tid
	}
	cv, err := w.pg.CreateCustomer(w.ctx, w.sales, c)
	if err != nil {
		w.t.Fatal(err)
	}
	o, err := w.pg.CreateOrder(w.ctx, w.sales, cv.ID, keel.OrderNew, []keel.LineRequest{{ProductID: w.pro.ID, Quantity: 12, Months: 12, Start: &start}})
	if err != nil {
		w.t.Fatal(err)
	}
	if o, err = w.pg.SubmitOrder(w.ctx, w.sales, o.ID); err != nil {
		w.t.Fatal(err)
	}
	paid := start.Add(10 * time.Hour)
	if paid.After(w.now) {
		paid = w.now // a start ahead is paid today
	}
	if _, err := w.pg.ApproveOrder(w.ctx, w.finance, o.ID, keel.Payment{Amount: o.Total(), PaidAt: paid, Reference: "INV"}); err != nil {
		w.t.Fatal(err)
	}
	return cv, tid
}

// events sends users logins and feature use on the days [from, to).
func (w *world) events(tenant string, users int, from, to time.Time) {
	w.t.Helper()
	b := warehouse.Batch{Topic: "test.scoring"}
	n := 0
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		for u := range users {
			for k, typ := range []string{ingest.TypeLogin, ingest.TypeFeatureUsed} {
				e := ingest.Event{Tenant: tenant, ID: fmt.Sprintf("%s-%s-%d-%d", tenant, d.Format("0102"), u, k), Type: typ,
					User: fmt.Sprintf("u%d", u), Time: d.Add(9*time.Hour + time.Duration(u)*time.Minute), Props: `{"feature":"export"}`}
				b.AddEvent(&e, warehouse.Position{Partition: 0, Offset: int64(n)}, w.now)
				n++
			}
		}
	}
	if err := w.ch.Insert(w.ctx, &b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) scorer() *Scorer {
	w.t.Helper()
	s, err := New(Config{Calendar: keel.UTC, Now: w.clock}, w.pg, w.ch, slog.New(slog.DiscardHandler))
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *world) scores(day time.Time, ids ...int64) map[int64]warehouse.HealthRow {
	w.t.Helper()
	var us []uint64
	for _, id := range ids {
		us = append(us, uint64(id))
	}
	out := map[int64]warehouse.HealthRow{}
	if err := w.ch.Health(w.ctx, warehouse.HealthFilter{From: day, To: day, Customers: us}, func(r warehouse.HealthRow) error {
		out[r.CustomerID] = r
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func day(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }

// TestScoring scores a busy customer, one that went quiet, one with no
// tenant and one that has not started yet: the busy one is green, the
// quiet one red with its warnings raised, the one without a tenant has no
// activity data, the future one is not scored; scoring a day again
// replaces it; a day is scored from what was known by its end.
func TestScoring(t *testing.T) {
	w := newWorld(t, time.Date(2026, 6, 30, 8, 0, 0, 0, time.UTC))
	busy, busyT := w.customer("busy", true, day("2026-01-01"))
	quiet, quietT := w.customer("quiet", true, day("2026-01-01"))
	lone, _ := w.customer("lone", false, day("2026-01-01"))
	later, _ := w.customer("later", true, day("2026-08-01"))
	w.events(busyT, 12, day("2026-05-01"), day("2026-06-30"))
	w.events(quietT, 12, day("2026-04-01"), day("2026-05-20"))

	s := w.scorer()
	rs, err := s.Score(w.ctx, day("2026-06-28"), day("2026-06-29"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || !rs[1].AlertsEvaluated || rs[1].Scored < 3 {
		t.Fatalf("results %+v", rs)
	}
	got := w.scores(day("2026-06-29"), busy.ID, quiet.ID, lone.ID, later.ID)
	if b := got[busy.ID]; b.Band != keel.BandGreen || b.MRR != 36000 || b.Currency != "USD" {
		t.Errorf("busy customer: %+v, want green with MRR 36000 USD", b)
	}
	q := got[quiet.ID]
	if q.Band != keel.BandRed {
		t.Errorf("quiet customer: score %d %s, want red", q.Score, q.Band)
	}
	for _, c := range got[lone.ID].Components {
		if (c.Component == keel.CompLoginTrend || c.Component == keel.CompSeats) && !c.NoData {
			t.Errorf("customer without a tenant: %s has data", c.Component)
		}
	}
	if _, ok := got[later.ID]; ok {
		t.Error("a customer whose service starts in August was scored in June")
	}
	alerts, _, err := w.pg.Alerts(w.ctx, keel.AlertFilter{CustomerID: quiet.ID})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[keel.AlertRule]bool{}
	for _, a := range alerts {
		rules[a.Rule] = true
		if a.Owner == nil || *a.Owner != w.csm.ID || a.MRRAtRisk != 36000 {
			t.Errorf("warning %+v, want owned by the CSM with 36000 at risk", a)
		}
	}
	if !rules[keel.RuleNoLogin] || !rules[keel.RuleFellIntoRed] || !rules[keel.RuleLowSeats] {
		t.Errorf("quiet customer's warnings: %v, want no login, low seat use and fell into red", rules)
	}
	if as, _, _ := w.pg.Alerts(w.ctx, keel.AlertFilter{CustomerID: busy.ID}); len(as) != 0 {
		t.Errorf("busy customer has warnings: %+v", as)
	}

	// Scoring a day again replaces it; warnings of a day already
	// evaluated are not evaluated again.
	again, err := s.Score(w.ctx, day("2026-06-29"), day("2026-06-29"))
	if err != nil || again[0].AlertsEvaluated {
		t.Errorf("re-run: %+v, %v; want scores only", again, err)
	}
	if n := len(w.scores(day("2026-06-29"), busy.ID, quiet.ID, lone.ID)); n != 3 {
		t.Errorf("after a re-run %d scores of the day, want 3", n)
	}

	// No look-ahead: on 19 May the quiet customer was still busy.
	if _, err := s.Score(w.ctx, day("2026-05-19"), day("2026-05-19")); err != nil {
		t.Fatal(err)
	}
	if b := w.scores(day("2026-05-19"), quiet.ID)[quiet.ID]; b.Band == keel.BandRed {
		t.Errorf("quiet customer on 19 May: %d %s, want not red yet", b.Score, b.Band)
	}
	if _, err := s.Score(w.ctx, day("2026-07-01"), day("2026-07-01")); keel.ErrorField(err) != "to" {
		t.Errorf("scoring tomorrow: %v, want a refusal naming to", err)
	}
}

func TestTwoScorersAtOnce(t *testing.T) {
	w := newWorld(t, time.Date(2026, 6, 30, 8, 0, 0, 0, time.UTC))
	w.customer("a", true, day("2026-01-01"))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = w.scorer().Score(w.ctx, day("2026-06-01"), day("2026-06-29")) }()
	}
	wg.Wait()
	busy := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrBusy):
			busy++
		case err != nil:
			t.Fatal(err)
		}
	}
	if busy > 1 {
		t.Errorf("both scorers were refused: %v", errs)
	}
}
