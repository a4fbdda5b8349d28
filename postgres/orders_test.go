package postgres

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// shop is a test's catalogue: two editions, a seat add-on bound to the
// edition's term, a standalone add-on priced per year, and a disabled
// edition.
type shop struct {
	basic, pro, seats, storage, gone keel.Product
}

func (e *storeEnv) shop(t *testing.T) shop {
	t.Helper()
	var s shop
	for _, x := range []struct {
		p      *keel.Product
		code   string
		kind   keel.ProductKind
		amount int64
		period keel.Period
	}{
		{&s.basic, "basic", keel.KindEdition, 5000, keel.PeriodMonth},
		{&s.pro, "pro", keel.KindEdition, 10000, keel.PeriodMonth},
		{&s.seats, "seats", keel.KindAddonTerm, 1000, keel.PeriodMonth},
		{&s.storage, "storage", keel.KindAddonStandalone, 120000, keel.PeriodYear},
		{&s.gone, "gone", keel.KindEdition, 1, keel.PeriodMonth},
	} {
		p, err := e.db.CreateProduct(e.ctx, e.admin, keel.Product{Code: x.code + "-" + e.id, Name: x.code, Kind: x.kind, Unit: "unit"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.AddPrice(e.ctx, e.admin, keel.PriceVersion{ProductID: p.ID, Amount: x.amount, Currency: "USD", Period: x.period, EffectiveFrom: ymd(2020, 1, 1)}); err != nil {
			t.Fatal(err)
		}
		*x.p = p
	}
	var err error
	if s.gone, err = e.db.SetProductStatus(e.ctx, e.admin, s.gone.ID, keel.ProductDisabled); err != nil {
		t.Fatal(err)
	}
	return s
}

var customerSeq int

// customer adds a customer linked to a tenant of its own.
func (e *storeEnv) customer(t *testing.T) int64 {
	t.Helper()
	customerSeq++
	c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: fmt.Sprintf("Customer %s-%d", e.id, customerSeq),
		TenantID: fmt.Sprintf("t-%s-%d", e.id, customerSeq), SalesOwner: &e.sales.ID})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func line(p keel.Product, qty int64, months int) keel.LineRequest {
	return keel.LineRequest{ProductID: p.ID, Quantity: qty, Months: months}
}

func lineFrom(p keel.Product, qty int64, months int, start time.Time) keel.LineRequest {
	return keel.LineRequest{ProductID: p.ID, Quantity: qty, Months: months, Start: &start}
}

func (e *storeEnv) draft(t *testing.T, cid int64, kind keel.OrderKind, lines ...keel.LineRequest) keel.Order {
	t.Helper()
	o, err := e.db.CreateOrder(e.ctx, e.sales, cid, kind, lines)
	if err != nil {
		t.Fatalf("create %s order: %v", kind, err)
	}
	return o
}

func (e *storeEnv) pending(t *testing.T, cid int64, kind keel.OrderKind, lines ...keel.LineRequest) keel.Order {
	t.Helper()
	o, err := e.db.SubmitOrder(e.ctx, e.sales, e.draft(t, cid, kind, lines...).ID)
	if err != nil {
		t.Fatalf("submit %s order: %v", kind, err)
	}
	return o
}

func paymentFor(o keel.Order) keel.Payment {
	return keel.Payment{Amount: o.Total(), PaidAt: storeToday.Add(-time.Hour), Reference: fmt.Sprintf("INV-%d", o.ID)}
}

func (e *storeEnv) approved(t *testing.T, cid int64, kind keel.OrderKind, lines ...keel.LineRequest) keel.Order {
	t.Helper()
	o := e.pending(t, cid, kind, lines...)
	if kind == keel.OrderTrial {
		return o
	}
	o, err := e.db.ApproveOrder(e.ctx, e.finance, o.ID, paymentFor(o))
	if err != nil {
		t.Fatalf("approve %s order: %v", kind, err)
	}
	return o
}

func TestOrderTransitions(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	pro12 := lineFrom(s.pro, 2, 12, ymd(2026, 6, 1))
	none := func(t *testing.T, cid int64) int64 { return 0 }
	draft := func(t *testing.T, cid int64) int64 { return e.draft(t, cid, keel.OrderNew, pro12).ID }
	pending := func(t *testing.T, cid int64) int64 { return e.pending(t, cid, keel.OrderNew, pro12).ID }
	approved := func(t *testing.T, cid int64) int64 { return e.approved(t, cid, keel.OrderNew, pro12).ID }
	rejected := func(t *testing.T, cid int64) int64 {
		id := pending(t, cid)
		if _, err := e.db.RejectOrder(e.ctx, e.finance, id, "no PO"); err != nil {
			t.Fatal(err)
		}
		return id
	}
	voided := func(t *testing.T, cid int64) int64 {
		id := approved(t, cid)
		if _, err := e.db.VoidOrder(e.ctx, e.finance, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	inService := func(t *testing.T, cid int64) int64 { approved(t, cid); return pending(t, cid) }
	trialDraft := func(t *testing.T, cid int64) int64 { return e.draft(t, cid, keel.OrderTrial, line(s.pro, 5, 1)).ID }
	hadTrial := func(t *testing.T, cid int64) int64 { e.approved(t, cid, keel.OrderTrial, line(s.pro, 5, 1)); return 0 }

	create := func(kind keel.OrderKind, lines ...keel.LineRequest) func(by keel.Employee, cid, id int64) (keel.Order, error) {
		return func(by keel.Employee, cid, _ int64) (keel.Order, error) {
			return e.db.CreateOrder(e.ctx, by, cid, kind, lines)
		}
	}
	submit := func(by keel.Employee, _, id int64) (keel.Order, error) { return e.db.SubmitOrder(e.ctx, by, id) }
	approve := func(by keel.Employee, _, id int64) (keel.Order, error) {
		o, err := e.db.Order(e.ctx, id)
		if err != nil {
			return o, err
		}
		return e.db.ApproveOrder(e.ctx, by, id, paymentFor(o))
	}
	approveWith := func(p keel.Payment) func(by keel.Employee, cid, id int64) (keel.Order, error) {
		return func(by keel.Employee, _, id int64) (keel.Order, error) {
			o, err := e.db.Order(e.ctx, id)
			if err != nil {
				return o, err
			}
			if p.Reference == "" {
				p.Reference = paymentFor(o).Reference
			}
			if p.PaidAt.IsZero() {
				p.PaidAt = paymentFor(o).PaidAt
			}
			if p.Amount < 0 {
				p.Amount = o.Total() + 1
			}
			return e.db.ApproveOrder(e.ctx, by, id, p)
		}
	}
	reject := func(by keel.Employee, _, id int64) (keel.Order, error) {
		return e.db.RejectOrder(e.ctx, by, id, "too expensive")
	}
	void := func(by keel.Employee, _, id int64) (keel.Order, error) { return e.db.VoidOrder(e.ctx, by, id) }

	total := int64(10000 * 2 * 12)
	tests := []struct {
		name       string
		setup      func(t *testing.T, cid int64) int64
		by         keel.Employee
		do         func(by keel.Employee, cid, id int64) (keel.Order, error)
		code       string           // the refusal; "" = allowed
		status     keel.OrderStatus // after an allowed change
		audit      string           // the audit action an allowed change writes; "" = none
		facts      []string         // the facts an allowed change writes
		messageHas string           // a refusal's message names this
	}{
		{"sales creates", none, e.sales, create(keel.OrderNew, pro12), "", keel.OrderDraft, "order.create", nil, ""},
		{"csm creates", none, e.csm, create(keel.OrderNew, pro12), "", keel.OrderDraft, "order.create", nil, ""},
		{"finance creates", none, e.finance, create(keel.OrderNew, pro12), keel.EFORBIDDEN, "", "", nil, "sales or csm"},
		{"admin creates", none, e.admin, create(keel.OrderNew, pro12), keel.EFORBIDDEN, "", "", nil, ""},
		{"leadership creates", none, e.leader, create(keel.OrderNew, pro12), keel.EFORBIDDEN, "", "", nil, ""},
		{"ordering a disabled product", none, e.sales, create(keel.OrderNew, line(s.gone, 1, 12)), keel.EINVALID, "", "", nil, "disabled"},
		{"ordering an unknown product", none, e.sales, create(keel.OrderNew, keel.LineRequest{ProductID: 1 << 40, Quantity: 1, Months: 1}), keel.EINVALID, "", "", nil, "product_id"},
		{"an add-on order for an edition", none, e.sales, create(keel.OrderAddon, line(s.pro, 1, 1)), keel.EINVALID, "", "", nil, "edition"},
		{"a second trial of the same edition", hadTrial, e.sales, create(keel.OrderTrial, line(s.pro, 5, 1)), keel.ECONFLICT, "", "", nil, "trial"},
		{"a trial of another edition after one", hadTrial, e.sales, create(keel.OrderTrial, line(s.basic, 5, 1)), "", keel.OrderDraft, "order.create", nil, ""},

		{"the creator submits", draft, e.sales, submit, "", keel.OrderPending, "order.submit", nil, ""},
		{"another salesperson submits", draft, e.sales2, submit, keel.EFORBIDDEN, "", "", nil, "created"},
		{"finance submits", draft, e.finance, submit, keel.EFORBIDDEN, "", "", nil, ""},
		{"submitting twice", pending, e.sales, submit, keel.ECONFLICT, "", "", nil, "pending_approval"},
		{"a trial approves itself", trialDraft, e.sales, submit, "", keel.OrderApproved, "order.submit", []string{"order.approved", "subscription.changed"}, ""},

		{"finance approves", pending, e.finance, approve, "", keel.OrderApproved, "order.approve", []string{"order.approved", "subscription.changed"}, ""},
		{"finance approves a part payment", pending, e.finance, approveWith(keel.Payment{Amount: total / 2}), "", keel.OrderApproved, "order.approve", []string{"order.approved", "subscription.changed"}, ""},
		{"sales approves", pending, e.sales, approve, keel.EFORBIDDEN, "", "", nil, "finance"},
		{"admin approves", pending, e.admin, approve, keel.EFORBIDDEN, "", "", nil, "finance"},
		{"approving a draft", draft, e.finance, approve, keel.ECONFLICT, "", "", nil, "draft"},
		{"approving more than the total", pending, e.finance, approveWith(keel.Payment{Amount: -1}), keel.EINVALID, "", "", nil, "paid_amount"},
		{"approving without a reference", pending, e.finance, approveWith(keel.Payment{Amount: 1, Reference: " "}), keel.EINVALID, "", "", nil, "payment_ref"},
		{"approving twice with the same payment", approved, e.finance, approve, "", keel.OrderApproved, "", nil, ""},
		{"approving twice with another payment", approved, e.finance, approveWith(keel.Payment{Amount: 1}), keel.ECONFLICT, "", "", nil, "approved"},
		{"approving a rejected order", rejected, e.finance, approve, keel.ECONFLICT, "", "", nil, "rejected"},
		{"a new order for a product in service", inService, e.finance, approve, keel.ECONFLICT, "", "", nil, "renewal"},

		{"finance rejects", pending, e.finance, reject, "", keel.OrderRejected, "order.reject", nil, ""},
		{"sales rejects", pending, e.sales, reject, keel.EFORBIDDEN, "", "", nil, ""},
		{"rejecting an approved order", approved, e.finance, reject, keel.ECONFLICT, "", "", nil, "approved"},

		{"finance voids", approved, e.finance, void, "", keel.OrderVoid, "order.void", []string{"order.voided", "subscription.changed"}, ""},
		{"sales voids", approved, e.sales, void, keel.EFORBIDDEN, "", "", nil, ""},
		{"voiding a voided order", voided, e.finance, void, keel.ECONFLICT, "", "", nil, "void"},
		{"voiding a pending order", pending, e.finance, void, keel.ECONFLICT, "", "", nil, "pending_approval"},

		{"approving an unknown order", none, e.finance, func(by keel.Employee, _, _ int64) (keel.Order, error) {
			return e.db.ApproveOrder(e.ctx, by, 1<<40, keel.Payment{Amount: 1, PaidAt: storeToday, Reference: "x"})
		}, keel.ENOTFOUND, "", "", nil, ""},
		{"ordering for an unknown customer", none, e.sales, func(by keel.Employee, _, _ int64) (keel.Order, error) {
			return e.db.CreateOrder(e.ctx, by, 1<<40, keel.OrderNew, []keel.LineRequest{pro12})
		}, keel.EINVALID, "", "", nil, "customer_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cid := e.customer(t)
			id := tt.setup(t, cid)
			var before keel.Order
			if id != 0 {
				var err error
				if before, err = e.db.Order(e.ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			grantsBefore := e.grants(t, cid)
			counts := e.counts(t)
			factsBefore := len(e.facts(t, cid))
			auditBefore := e.auditActions(t, "order", id)

			got, err := tt.do(tt.by, cid, id)
			wantCode(t, tt.name, err, tt.code)
			if tt.code != "" {
				if tt.messageHas != "" && !strings.Contains(keel.ErrorMessage(err), tt.messageHas) {
					t.Errorf("message %q does not mention %q", keel.ErrorMessage(err), tt.messageHas)
				}
				e.unchanged(t, counts)
				if id != 0 {
					after, err := e.db.Order(e.ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(after, before) {
						t.Errorf("a refused change changed the order:\n got %+v\nwant %+v", after, before)
					}
				}
				if g := e.grants(t, cid); !reflect.DeepEqual(g, grantsBefore) {
					t.Errorf("a refused change changed the grants:\n got %+v\nwant %+v", g, grantsBefore)
				}
				return
			}
			if got.Status != tt.status {
				t.Errorf("status: got %s, want %s", got.Status, tt.status)
			}
			stored, err := e.db.Order(e.ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, got) {
				t.Errorf("the order returned differs from the order stored:\n got %+v\nwant %+v", got, stored)
			}
			audit := e.auditActions(t, "order", got.ID)
			if got.ID != id {
				auditBefore = nil
			}
			wantAudit := append([]string{}, auditBefore...)
			if tt.audit != "" {
				wantAudit = append(wantAudit, tt.audit)
			}
			if strings.Join(audit, ",") != strings.Join(wantAudit, ",") {
				t.Errorf("audit: got %v, want %v", audit, wantAudit)
			}
			if fk := factKinds(e.facts(t, cid)[factsBefore:]); strings.Join(fk, ",") != strings.Join(tt.facts, ",") {
				t.Errorf("facts: got %v, want %v", fk, tt.facts)
			}
			if tt.audit == "" && len(tt.facts) == 0 {
				e.unchanged(t, counts)
			}
		})
	}
}

// grants lists every grant of the customer's subscriptions.
func (e *storeEnv) grants(t *testing.T, cid int64) []keel.Grant {
	t.Helper()
	g, err := loadGrants(e.ctx, e.db.pool, "s.customer_id = $1", cid)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// subState is what a subscription looks like on a day, as the domain derives it.
type subState struct {
	Status     keel.SubscriptionStatus
	Start, End string
	Quantity   int64
}

// state derives the customer's subscriptions on day at, by product; void
// subscriptions are left out (they grant nothing).
func (e *storeEnv) state(t *testing.T, cid int64, at time.Time) map[int64]subState {
	t.Helper()
	v, err := e.db.Customer(e.ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]subState{}
	for _, s := range v.Subscriptions {
		if st := s.Status(at); st != keel.SubVoid {
			out[s.ProductID] = subState{st, s.Start().Format(time.DateOnly), s.End().Format(time.DateOnly), s.QuantityAt(at)}
		}
	}
	return out
}

func TestRenewalExtendsFromTheCurrentEnd(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	first := e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 3, 12, ymd(2026, 1, 1)))
	renewal := e.approved(t, cid, keel.OrderRenewal, line(s.pro, 3, 12))

	grants, err := e.db.OrderGrants(e.ctx, renewal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || !grants[0].Start.Equal(ymd(2027, 1, 1)) || !grants[0].End.Equal(ymd(2028, 1, 1)) {
		t.Fatalf("renewal grants: got %+v, want one term 2027-01-01 to 2028-01-01 (from the current end, not today)", grants)
	}
	if grants[0].MonthlyAmount != 30000 || grants[0].OrderKind != keel.OrderRenewal || grants[0].LineID != renewal.Lines[0].ID {
		t.Errorf("renewal grant: got %+v", grants[0])
	}
	want := map[int64]subState{s.pro.ID: {keel.SubActive, "2026-01-01", "2028-01-01", 3}}
	if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, want) {
		t.Errorf("subscriptions: got %+v, want %+v", got, want)
	}
	v, err := e.db.Customer(e.ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != keel.StatusOf(v.Subscriptions, storeToday) || v.FirstPurchase == nil || !v.FirstPurchase.Equal(ymd(2026, 1, 1)) {
		t.Errorf("customer: status %s, first purchase %v", v.Status, v.FirstPurchase)
	}
	wantTotals := []keel.PaymentTotals{{Currency: "USD", Ordered: first.Total() + renewal.Total(), Paid: first.Total() + renewal.Total()}}
	if !reflect.DeepEqual(v.Totals, wantTotals) {
		t.Errorf("totals: got %+v, want %+v", v.Totals, wantTotals)
	}

	// The facts carry what the warehouse needs for MRR.
	fs := e.facts(t, cid)
	var approvedFact, subFact keel.Fact
	for _, f := range fs {
		switch f.Kind {
		case keel.FactOrderApproved:
			approvedFact = f
		case keel.FactSubscriptionChanged:
			subFact = f
		}
	}
	var of keel.OrderFact
	if err := json.Unmarshal(approvedFact.Data, &of); err != nil {
		t.Fatal(err)
	}
	if of.ID != renewal.ID || of.Kind != keel.OrderRenewal || of.Total != renewal.Total() || of.Payment == nil ||
		of.Payment.Reference != fmt.Sprintf("INV-%d", renewal.ID) || len(of.Lines) != 1 || of.Lines[0].MonthlyAmount != 30000 {
		t.Errorf("order.approved data: %s", approvedFact.Data)
	}
	if approvedFact.Tenant == "" || approvedFact.CustomerID != cid || !approvedFact.At.Equal(storeToday) {
		t.Errorf("order.approved envelope: %+v", approvedFact)
	}
	var sf keel.SubscriptionFact
	if err := json.Unmarshal(subFact.Data, &sf); err != nil {
		t.Fatal(err)
	}
	if sf.ProductID != s.pro.ID || sf.ProductCode != s.pro.Code || sf.ProductKind != keel.KindEdition || sf.Status != keel.SubActive ||
		*sf.Start != "2026-01-01" || *sf.End != "2028-01-01" || sf.Quantity != 3 || len(sf.Grants) != 2 || sf.Grants[1].MonthlyAmount != 30000 {
		t.Errorf("subscription.changed data: %s", subFact.Data)
	}

	// A year on, the customer is in its renewed term.
	e.setNow(ymd(2027, 3, 1))
	v, err = e.db.Customer(e.ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != keel.CustomerRenewed {
		t.Errorf("in the renewed term: status %s, want renewed", v.Status)
	}
}

func TestUpgradeSwitchesEditionFromItsStart(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 10, 12, ymd(2026, 1, 1)))
	before := e.state(t, cid, storeToday)
	up := e.approved(t, cid, keel.OrderUpgrade, line(s.pro, 10, 12))
	want := map[int64]subState{
		s.basic.ID: {keel.SubEnded, "2026-01-01", "2026-06-15", 0},
		s.pro.ID:   {keel.SubActive, "2026-06-15", "2027-06-15", 10},
	}
	if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, want) {
		t.Errorf("after the upgrade: got %+v, want %+v", got, want)
	}
	grants, err := e.db.OrderGrants(e.ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 2 || grants[0].Kind != keel.GrantCut || grants[0].ProductID != s.basic.ID || !grants[0].End.IsZero() {
		t.Errorf("upgrade grants: got %+v, want a cut of basic then a pro term", grants)
	}
	if _, err := e.db.VoidOrder(e.ctx, e.finance, up.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, before) {
		t.Errorf("after voiding the upgrade: got %+v, want as before it %+v", got, before)
	}
	// Both subscriptions changed: one fact each.
	fs := e.facts(t, cid)
	last := factKinds(fs[len(fs)-3:])
	if strings.Join(last, ",") != "order.voided,subscription.changed,subscription.changed" {
		t.Errorf("void facts: got %v", last)
	}
}

func TestQuotaAddOnAddsQuantity(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 1, 12, ymd(2026, 1, 1)))
	_, err := e.db.CreateOrder(e.ctx, e.sales, cid, keel.OrderAddon, []keel.LineRequest{line(s.pro, 1, 1)})
	wantCode(t, "an edition on an add-on order", err, keel.EINVALID)

	first := e.approved(t, cid, keel.OrderAddon, line(s.seats, 5, 1))
	second := e.approved(t, cid, keel.OrderAddon, line(s.seats, 3, 1), line(s.storage, 2, 12))
	want := map[int64]subState{
		s.pro.ID:     {keel.SubActive, "2026-01-01", "2027-01-01", 1},
		s.seats.ID:   {keel.SubActive, "2026-06-15", "2027-01-01", 8}, // bound to the edition's term
		s.storage.ID: {keel.SubActive, "2026-06-15", "2027-06-15", 2},
	}
	if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, want) {
		t.Errorf("after two add-ons: got %+v, want %+v", got, want)
	}
	if first.Total() != 5*1000 || second.Total() != 3*1000+2*120000 {
		t.Errorf("totals: %d and %d", first.Total(), second.Total())
	}
	// Voiding the first add-on takes back its 5 seats and nothing else.
	if _, err := e.db.VoidOrder(e.ctx, e.finance, first.ID); err != nil {
		t.Fatal(err)
	}
	want[s.seats.ID] = subState{keel.SubActive, "2026-06-15", "2027-01-01", 3}
	if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, want) {
		t.Errorf("after voiding the first add-on: got %+v, want %+v", got, want)
	}
	subs, n, err := e.db.Subscriptions(e.ctx, keel.SubscriptionFilter{CustomerID: cid})
	if err != nil || n != 3 || len(subs) != 3 {
		t.Fatalf("subscriptions: %d (%d), %v", len(subs), n, err)
	}
}

func TestVoidTakesBackExactlyWhatTheOrderGranted(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cases := []struct {
		name    string
		history func(cid int64)
		order   func(cid int64) keel.Order
	}{
		{"a new order", func(int64) {}, func(cid int64) keel.Order {
			return e.approved(t, cid, keel.OrderNew, line(s.pro, 2, 12), line(s.storage, 1, 12))
		}},
		{"a renewal", func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2026, 1, 1))) }, func(cid int64) keel.Order {
			return e.approved(t, cid, keel.OrderRenewal, line(s.pro, 4, 12))
		}},
		{"an upgrade", func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 2, 12, ymd(2026, 1, 1))) }, func(cid int64) keel.Order {
			return e.approved(t, cid, keel.OrderUpgrade, line(s.pro, 2, 12))
		}},
		{"an add-on", func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2026, 1, 1))) }, func(cid int64) keel.Order {
			return e.approved(t, cid, keel.OrderAddon, line(s.seats, 7, 1))
		}},
		{"a trial", func(int64) {}, func(cid int64) keel.Order {
			return e.approved(t, cid, keel.OrderTrial, line(s.basic, 3, 1))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cid := e.customer(t)
			c.history(cid)
			days := []time.Time{storeToday, ymd(2026, 12, 31), ymd(2027, 3, 1), ymd(2027, 9, 1)}
			before := map[time.Time]map[int64]subState{}
			for _, d := range days {
				before[d] = e.state(t, cid, d)
			}
			o := c.order(cid)
			if reflect.DeepEqual(e.state(t, cid, storeToday), before[storeToday]) && reflect.DeepEqual(e.state(t, cid, ymd(2027, 3, 1)), before[ymd(2027, 3, 1)]) {
				t.Fatalf("the order changed nothing; the test proves nothing")
			}
			voided, err := e.db.VoidOrder(e.ctx, e.finance, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if voided.Status != keel.OrderVoid || voided.VoidedBy == nil || *voided.VoidedBy != e.finance.ID {
				t.Errorf("voided order: %+v", voided)
			}
			for _, d := range days {
				if got := e.state(t, cid, d); !reflect.DeepEqual(got, before[d]) {
					t.Errorf("on %s: got %+v, want as before the order %+v", d.Format(time.DateOnly), got, before[d])
				}
			}
			grants, err := e.db.OrderGrants(e.ctx, o.ID)
			if err != nil || len(grants) == 0 {
				t.Fatalf("grants: %v, %v", grants, err)
			}
			for _, g := range grants {
				if !g.Void {
					t.Errorf("grant %d not void", g.ID)
				}
			}
		})
	}
	_, err := e.db.OrderGrants(e.ctx, 1<<40)
	wantCode(t, "grants of an unknown order", err, keel.ENOTFOUND)
}

func TestParallelApprovalsApproveOnce(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	o := e.pending(t, cid, keel.OrderNew, line(s.pro, 2, 12), line(s.storage, 1, 12))
	same := paymentFor(o)
	other := same
	other.Reference = "OTHER-" + same.Reference
	counts := e.counts(t)

	const n = 20
	errs := make([]error, n)
	results := make([]keel.Order, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := same
			if i%2 == 1 {
				p = other
			}
			<-start
			results[i], errs[i] = e.db.ApproveOrder(e.ctx, e.finance, o.ID, p)
		}()
	}
	close(start)
	wg.Wait()

	stored, err := e.db.Order(e.ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != keel.OrderApproved || stored.Payment == nil {
		t.Fatalf("stored order: %+v", stored)
	}
	winner := stored.Payment.Reference
	for i := range n {
		ref := same.Reference
		if i%2 == 1 {
			ref = other.Reference
		}
		if ref == winner {
			if errs[i] != nil || !reflect.DeepEqual(results[i], stored) {
				t.Errorf("approval %d with the winning payment: %v; want the approved order unchanged", i, errs[i])
			}
		} else {
			wantCode(t, fmt.Sprintf("approval %d with another payment", i), errs[i], keel.ECONFLICT)
		}
	}
	grants, err := e.db.OrderGrants(e.ctx, o.ID)
	if err != nil || len(grants) != 2 {
		t.Errorf("grants: got %d (%v), want one set of 2", len(grants), err)
	}
	if got := e.auditActions(t, "order", o.ID); strings.Join(got, ",") != "order.create,order.submit,order.approve" {
		t.Errorf("audit: got %v, want one approval", got)
	}
	// One order.approved and one subscription.changed per subscription.
	if got := e.counts(t); got.audit != counts.audit+1 || got.facts != counts.facts+3 {
		t.Errorf("rows written: got %+v, want one audit row and 3 facts more than %+v", got, counts)
	}
	kinds := factKinds(e.facts(t, cid))
	if strings.Join(kinds, ",") != "customer.created,tenant.linked,order.approved,subscription.changed,subscription.changed" {
		t.Errorf("facts: %v", kinds)
	}
}

func TestParallelOrdersForManyCustomers(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	const n = 50
	cids := make([]int64, n)
	for i := range cids {
		cids[i] = e.customer(t)
	}
	counts := e.counts(t)
	errs := make([]error, n)
	orders := make([]keel.Order, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			by := e.sales
			if i%2 == 1 {
				by = e.csm
			}
			o, err := e.db.CreateOrder(e.ctx, by, cids[i], keel.OrderNew, []keel.LineRequest{line(s.pro, int64(i+1), 12), line(s.seats, 1, 12)})
			if err == nil {
				o, err = e.db.SubmitOrder(e.ctx, by, o.ID)
			}
			if err == nil {
				o, err = e.db.ApproveOrder(e.ctx, e.finance, o.ID, paymentFor(o))
			}
			orders[i], errs[i] = o, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("customer %d: %v", i, err)
		}
	}
	for i, cid := range cids {
		want := map[int64]subState{
			s.pro.ID:   {keel.SubActive, "2026-06-15", "2027-06-15", int64(i + 1)},
			s.seats.ID: {keel.SubActive, "2026-06-15", "2027-06-15", 1},
		}
		if got := e.state(t, cid, storeToday); !reflect.DeepEqual(got, want) {
			t.Errorf("customer %d: got %+v, want %+v", i, got, want)
		}
		if got := factKinds(e.facts(t, cid)); strings.Join(got, ",") != "customer.created,tenant.linked,order.approved,subscription.changed,subscription.changed" {
			t.Errorf("customer %d facts: %v", i, got)
		}
		if got := e.auditActions(t, "order", orders[i].ID); strings.Join(got, ",") != "order.create,order.submit,order.approve" {
			t.Errorf("customer %d audit: %v", i, got)
		}
	}
	if got := e.counts(t); got.audit != counts.audit+3*n || got.facts != counts.facts+3*n {
		t.Errorf("rows written: got %+v, want %d audit rows and %d facts more than %+v", got, 3*n, 3*n, counts)
	}
}

func TestParallelTrialsOfOneCustomer(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := e.db.CreateOrder(e.ctx, e.sales, cid, keel.OrderTrial, []keel.LineRequest{line(s.pro, 5, 1)})
			if err == nil {
				_, err = e.db.SubmitOrder(e.ctx, e.sales, o.ID)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch keel.ErrorCode(err) {
		case "":
			ok++
		case keel.ECONFLICT:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d trials went through, want exactly 1", ok)
	}
	if got := e.state(t, cid, storeToday); len(got) != 1 || got[s.pro.ID].Quantity != 5 {
		t.Errorf("subscriptions: %+v, want one trial of 5", got)
	}
}

// TestOrdersOldestFirst lists a queue: by submission, oldest first, whatever
// order the orders were created in; drafts last.
func TestOrdersOldestFirst(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	var o [4]keel.Order
	for i := range o {
		o[i] = e.draft(t, cid, keel.OrderNew, line(s.basic, 1, 12))
	}
	for k, i := range []int{2, 0, 1} { // o[3] stays a draft
		e.setNow(storeToday.Add(time.Duration(k) * time.Minute))
		if _, err := e.db.SubmitOrder(e.ctx, e.sales, o[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f keel.OrderFilter) []int64 {
		t.Helper()
		got, _, err := e.db.Orders(e.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range got {
			out = append(out, x.ID)
		}
		return out
	}
	if got, want := ids(keel.OrderFilter{CustomerID: cid, OldestFirst: true}), []int64{o[2].ID, o[0].ID, o[1].ID, o[3].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("oldest first = %v, want %v", got, want)
	}
	if got, want := ids(keel.OrderFilter{CustomerID: cid, OldestFirst: true, Page: keel.Page{Limit: 2, Offset: 1}}), []int64{o[0].ID, o[1].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("oldest first, second and third = %v, want %v", got, want)
	}
	if got, want := ids(keel.OrderFilter{CustomerID: cid}), []int64{o[3].ID, o[2].ID, o[1].ID, o[0].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("newest first = %v, want %v", got, want)
	}
}
