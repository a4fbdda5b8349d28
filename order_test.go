package keel_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// The catalogue the order tests sell from.
const (
	basic      int64 = 1  // edition, 10.00 USD per seat and month
	pro        int64 = 2  // edition, 50.00 until 2026, then 60.00 USD per seat and month
	enterprise int64 = 3  // edition, 12,000.00 USD per seat and year
	storage    int64 = 10 // standalone quota add-on, 2.00 USD per GB and month
	support    int64 = 11 // add-on bound to the edition's term, 3.00 USD per month
	onboarding int64 = 12 // standalone, 500.00 USD once
	legacy     int64 = 13 // edition, disabled
	eurPack    int64 = 14 // standalone, 7.00 EUR per month
	whale      int64 = 15 // standalone, priced at keel.MaxAmount per month
)

var acme = keel.Customer{ID: 7, Name: "Acme", TenantID: "t-7"}

func catalogue() map[int64]keel.CatalogueEntry {
	from := day("2020-01-01")
	product := func(id int64, code string, kind keel.ProductKind, versions ...keel.PriceVersion) keel.CatalogueEntry {
		for i := range versions {
			versions[i].ProductID = id
		}
		return keel.CatalogueEntry{
			Product:  keel.Product{ID: id, Code: code, Name: code, Kind: kind, Unit: "seat", Status: keel.ProductEnabled},
			Versions: versions,
		}
	}
	price := func(id, amount int64, currency string, period keel.Period, from time.Time, to *time.Time) keel.PriceVersion {
		return keel.PriceVersion{ID: id, Amount: amount, Currency: currency, Period: period, EffectiveFrom: from, EffectiveTo: to}
	}
	cat := map[int64]keel.CatalogueEntry{
		basic: product(basic, "basic", keel.KindEdition, price(101, 1000, "USD", keel.PeriodMonth, from, nil)),
		pro: product(pro, "pro", keel.KindEdition,
			price(201, 5000, "USD", keel.PeriodMonth, from, ptr(day("2026-01-01"))),
			price(202, 6000, "USD", keel.PeriodMonth, day("2026-01-01"), nil)),
		enterprise: product(enterprise, "enterprise", keel.KindEdition, price(301, 1_200_000, "USD", keel.PeriodYear, from, nil)),
		storage:    product(storage, "storage", keel.KindAddonStandalone, price(1001, 200, "USD", keel.PeriodMonth, from, nil)),
		support:    product(support, "support", keel.KindAddonTerm, price(1101, 300, "USD", keel.PeriodMonth, from, nil)),
		onboarding: product(onboarding, "onboarding", keel.KindAddonStandalone, price(1201, 50000, "USD", keel.PeriodOnce, from, nil)),
		legacy:     product(legacy, "legacy", keel.KindEdition, price(1301, 100, "USD", keel.PeriodMonth, from, nil)),
		eurPack:    product(eurPack, "eur-pack", keel.KindAddonStandalone, price(1401, 700, "EUR", keel.PeriodMonth, from, nil)),
		whale:      product(whale, "whale", keel.KindAddonStandalone, price(1501, keel.MaxAmount, "USD", keel.PeriodMonth, from, nil)),
	}
	e := cat[legacy]
	e.Product.Status = keel.ProductDisabled
	cat[legacy] = e
	return cat
}

func line(product, qty int64, months int) keel.LineRequest {
	return keel.LineRequest{ProductID: product, Quantity: qty, Months: months}
}

func lineFrom(product, qty int64, months int, start string) keel.LineRequest {
	l := line(product, qty, months)
	l.Start = ptr(day(start))
	return l
}

func request(kind keel.OrderKind, lines ...keel.LineRequest) keel.OrderRequest {
	return keel.OrderRequest{Customer: acme, Kind: kind, Lines: lines, Catalogue: catalogue()}
}

// at is the date s at 09:30 UTC, the time of day the office works at.
func at(s string) time.Time { return day(s).Add(9*time.Hour + 30*time.Minute) }

func TestNewOrderRefusals(t *testing.T) {
	now := at("2026-03-10")
	many := make([]keel.LineRequest, keel.MaxLines+1)
	for i := range many {
		many[i] = line(storage, 1, 1)
	}
	tests := []struct {
		name   string
		by     keel.Employee
		req    keel.OrderRequest
		change func(r *keel.OrderRequest)
		code   string
		field  string
		says   string // a part of the message
	}{
		{name: "finance creates", by: finance, req: request(keel.OrderNew, line(pro, 1, 12)), code: keel.EFORBIDDEN, says: "order.create needs the role sales or csm"},
		{name: "admin creates", by: admin, req: request(keel.OrderNew, line(pro, 1, 12)), code: keel.EFORBIDDEN},
		{name: "leadership creates", by: leader, req: request(keel.OrderNew, line(pro, 1, 12)), code: keel.EFORBIDDEN},
		{name: "departed creates", by: departed, req: request(keel.OrderNew, line(pro, 1, 12)), code: keel.EUNAUTHORIZED},
		{name: "no customer", by: seller, req: request(keel.OrderNew, line(pro, 1, 12)), change: func(r *keel.OrderRequest) { r.Customer = keel.Customer{} }, code: keel.EINVALID, field: "customer_id"},
		{name: "unknown kind", by: seller, req: request("gift", line(pro, 1, 12)), code: keel.EINVALID, field: "kind", says: `"gift"`},
		{name: "no kind", by: seller, req: request("", line(pro, 1, 12)), code: keel.EINVALID, field: "kind"},
		{name: "no lines", by: seller, req: request(keel.OrderNew), code: keel.EINVALID, field: "lines"},
		{name: "too many lines", by: seller, req: request(keel.OrderAddon, many...), code: keel.EINVALID, field: "lines", says: "at most 50"},
		{name: "unknown product", by: seller, req: request(keel.OrderNew, line(99, 1, 12)), code: keel.EINVALID, field: "lines[0].product_id", says: "no product 99"},
		{name: "no product", by: seller, req: request(keel.OrderNew, line(0, 1, 12)), code: keel.EINVALID, field: "lines[0].product_id"},
		{name: "second line unknown", by: seller, req: request(keel.OrderNew, line(pro, 1, 12), line(98, 1, 1)), code: keel.EINVALID, field: "lines[1].product_id"},
		{name: "disabled product", by: seller, req: request(keel.OrderNew, line(legacy, 1, 12)), code: keel.EINVALID, field: "lines[0].product_id", says: "legacy is disabled"},
		{name: "quantity 0", by: seller, req: request(keel.OrderNew, line(pro, 0, 12)), code: keel.EINVALID, field: "lines[0].quantity"},
		{name: "negative quantity", by: seller, req: request(keel.OrderNew, line(pro, -3, 12)), code: keel.EINVALID, field: "lines[0].quantity"},
		{name: "quantity over a million", by: seller, req: request(keel.OrderNew, line(pro, 1_000_001, 12)), code: keel.EINVALID, field: "lines[0].quantity"},
		{name: "second line quantity", by: seller, req: request(keel.OrderNew, line(pro, 1, 12), line(storage, 0, 12)), code: keel.EINVALID, field: "lines[1].quantity"},
		{name: "months 0", by: seller, req: request(keel.OrderNew, line(pro, 1, 0)), code: keel.EINVALID, field: "lines[0].months"},
		{name: "months over 120", by: seller, req: request(keel.OrderNew, line(pro, 1, 121)), code: keel.EINVALID, field: "lines[0].months"},
		{name: "start before 2000", by: seller, req: request(keel.OrderNew, lineFrom(pro, 1, 12, "1999-12-31")), code: keel.EINVALID, field: "lines[0].start"},
		{name: "start over a year ahead", by: seller, req: request(keel.OrderNew, lineFrom(pro, 1, 12, "2027-03-11")), code: keel.EINVALID, field: "lines[0].start"},
		{name: "no price on the start day", by: seller, req: request(keel.OrderNew, lineFrom(pro, 1, 12, "2019-12-31")), code: keel.EINVALID, field: "lines[0].product_id", says: "no price on 2019-12-31"},
		{name: "yearly price, 18 months", by: seller, req: request(keel.OrderNew, line(enterprise, 1, 18)), code: keel.EINVALID, field: "lines[0].months", says: "multiple of 12"},
		{name: "yearly price, 6 months", by: seller, req: request(keel.OrderNew, line(enterprise, 1, 6)), code: keel.EINVALID, field: "lines[0].months"},
		{name: "mixed currencies", by: seller, req: request(keel.OrderAddon, line(storage, 1, 12), line(eurPack, 1, 12)), code: keel.EINVALID, field: "lines[1].product_id", says: "one order has one currency"},
		{name: "trial of an add-on", by: seller, req: request(keel.OrderTrial, line(storage, 1, 1)), code: keel.EINVALID, field: "lines[0].product_id", says: "a trial order is for an edition"},
		{name: "upgrade to an add-on", by: seller, req: request(keel.OrderUpgrade, line(support, 1, 12)), code: keel.EINVALID, field: "lines[0].product_id", says: "an upgrade order is for an edition"},
		{name: "add-on order for an edition", by: seller, req: request(keel.OrderAddon, line(storage, 1, 1), line(basic, 1, 12)), code: keel.EINVALID, field: "lines[1].product_id", says: "addon order is for add-ons"},
		{name: "two editions", by: seller, req: request(keel.OrderNew, line(basic, 1, 12), line(pro, 1, 12)), code: keel.EINVALID, field: "lines", says: "one edition"},
		{name: "one edition twice", by: csm, req: request(keel.OrderRenewal, line(pro, 1, 12), line(pro, 1, 12)), code: keel.EINVALID, field: "lines"},
		{name: "trial of two months", by: seller, req: request(keel.OrderTrial, line(basic, 5, 2)), code: keel.EINVALID, field: "lines[0].months", says: "at most 31 days"},
		{name: "one line over the money limit", by: seller, req: request(keel.OrderAddon, line(whale, 1, 2)), code: keel.EINVALID, field: "lines[0]"},
		{name: "a line whose total overflows", by: seller, req: request(keel.OrderAddon, line(whale, 1_000_000, 120)), code: keel.EINVALID, field: "lines[0]"},
		{name: "the order over the money limit", by: seller, req: request(keel.OrderAddon, line(whale, 1, 1), line(storage, 1, 1)), code: keel.EINVALID, field: "lines", says: "order total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if tt.change != nil {
				tt.change(&req)
			}
			o, err := keel.NewOrder(tt.by, req, keel.UTC.At(now))
			wantError(t, err, tt.code, tt.field)
			if msg := keel.ErrorMessage(err); !strings.Contains(msg, tt.says) {
				t.Errorf("message = %q, want it to say %q", msg, tt.says)
			}
			if !reflect.DeepEqual(o, keel.Order{}) {
				t.Errorf("order = %+v, want the zero order on refusal", o)
			}
		})
	}
}

func TestNewOrderDraft(t *testing.T) {
	now := time.Date(2026, 3, 10, 17, 30, 0, 0, time.FixedZone("UTC+8", 8*3600))
	req := request(keel.OrderNew, lineFrom(pro, 10, 12, "2025-12-20"), line(storage, 50, 12), line(onboarding, 1, 1))
	o, err := keel.NewOrder(csm, req, keel.UTC.At(now))
	wantOK(t, err)
	want := keel.Order{
		CustomerID: acme.ID, Kind: keel.OrderNew, Status: keel.OrderDraft, Currency: "USD",
		CreatedBy: csm.ID, CreatedAt: now.UTC(),
		Lines: []keel.OrderLine{
			// Back-dated: the price version in effect on the service start.
			{ProductID: pro, ProductKind: keel.KindEdition, PriceVersionID: 201, UnitAmount: 5000, Period: keel.PeriodMonth, Quantity: 10, Months: 12, Start: ptr(day("2025-12-20"))},
			{ProductID: storage, ProductKind: keel.KindAddonStandalone, PriceVersionID: 1001, UnitAmount: 200, Period: keel.PeriodMonth, Quantity: 50, Months: 12},
			{ProductID: onboarding, ProductKind: keel.KindAddonStandalone, PriceVersionID: 1201, UnitAmount: 50000, Period: keel.PeriodOnce, Quantity: 1, Months: 1},
		},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("NewOrder =\n%+v\nwant\n%+v", o, want)
	}
	if got, want := o.Total(), int64(5000*10*12+200*50*12+50000); got != want {
		t.Errorf("Total() = %d, want %d", got, want)
	}

	// Without a start the line is priced on the day it is sold.
	o, err = keel.NewOrder(seller, request(keel.OrderRenewal, line(pro, 10, 12)), keel.UTC.At(now))
	wantOK(t, err)
	if got := o.Lines[0]; got.PriceVersionID != 202 || got.UnitAmount != 6000 || got.Start != nil {
		t.Errorf("line = %+v, want price version 202 at 6000 and no start", got)
	}
	if o.CreatedBy != seller.ID {
		t.Errorf("CreatedBy = %d, want %d", o.CreatedBy, seller.ID)
	}
	o, err = keel.NewOrder(seller, request(keel.OrderAddon, line(eurPack, 2, 3)), keel.UTC.At(now))
	wantOK(t, err)
	if o.Currency != "EUR" || o.Total() != 700*2*3 {
		t.Errorf("currency, total = %s, %d, want EUR, %d", o.Currency, o.Total(), 700*2*3)
	}
}

func TestTrialOrders(t *testing.T) {
	now := at("2026-03-10")
	tests := []struct {
		name    string
		maxDays int
		start   string
		months  int
		wantEnd string // "" = refused
	}{
		// The default of 31 days fits a month from any day of the year.
		{"a month from the 10th of January", 0, "2026-01-10", 1, "2026-02-10"},  // 31 days
		{"a month from the 10th of February", 0, "2026-02-10", 1, "2026-03-10"}, // 28 days
		{"a month from the 31st of January", 0, "2026-01-31", 1, "2026-02-28"},  // a month from 31 January ends on 28 February (revenue case end-of-month-start)
		{"a month from today", 0, "", 1, "2026-04-10"},
		{"two months", 0, "2026-02-10", 2, ""},
		{"30 days allowed, a month of 31 asked", 30, "2026-01-10", 1, ""},
		{"30 days allowed, a month of 30", 30, "2026-04-10", 1, "2026-05-10"},
		{"59 days allowed, two months in winter", 59, "2026-01-10", 2, "2026-03-10"}, // 59 days
		{"59 days allowed, two months in summer", 59, "2026-07-10", 2, ""},           // 62 days
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := line(pro, 5, tt.months)
			if tt.start != "" {
				l = lineFrom(pro, 5, tt.months, tt.start)
			}
			req := request(keel.OrderTrial, l)
			req.Settings.TrialMaxDays = tt.maxDays
			o, err := keel.NewOrder(seller, req, keel.UTC.At(now))
			if tt.wantEnd == "" {
				wantError(t, err, keel.EINVALID, "lines[0].months")
				return
			}
			wantOK(t, err)
			// Trials are free, whatever the edition costs.
			if l := o.Lines[0]; l.UnitAmount != 0 || l.PriceVersionID != 0 || l.Total() != 0 || l.MonthlyAmount() != 0 {
				t.Errorf("trial line = %+v, want no price", l)
			}
			if o.Total() != 0 || o.Currency != "USD" {
				t.Errorf("total, currency = %d, %q, want 0, USD", o.Total(), o.Currency)
			}
			o.ID = 40
			grants, err := o.Submit(seller, keel.CustomerState{Orders: []keel.Order{o}, Catalogue: req.Catalogue, Settings: req.Settings}, keel.UTC.At(now))
			wantOK(t, err)
			start := day("2026-03-10")
			if tt.start != "" {
				start = day(tt.start)
			}
			want := []keel.Grant{{ProductID: pro, OrderID: 40, OrderKind: keel.OrderTrial, Kind: keel.GrantTerm, Trial: true,
				Quantity: 5, Start: start, End: day(tt.wantEnd), Currency: "USD", Months: o.Lines[0].Months, Period: keel.PeriodMonth, ApprovedOn: keel.Date(now)}}
			if !reflect.DeepEqual(grants, want) {
				t.Errorf("grants =\n%+v\nwant\n%+v", grants, want)
			}
		})
	}
}

func TestTrialsPerEdition(t *testing.T) {
	now := at("2026-03-10")
	earlier := func(id int64, kind keel.OrderKind, st keel.OrderStatus, product int64) keel.Order {
		return keel.Order{ID: id, CustomerID: acme.ID, Kind: kind, Status: st, CreatedBy: seller.ID,
			Lines: []keel.OrderLine{{ProductID: product, ProductKind: keel.KindEdition, Quantity: 3, Months: 1, Period: keel.PeriodMonth}}}
	}
	tests := []struct {
		name   string
		orders []keel.Order
		limit  int
		ok     bool
	}{
		{"first trial", nil, 0, true},
		{"a draft trial of the edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderDraft, basic)}, 0, false},
		{"a pending trial of the edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderPending, basic)}, 0, false},
		{"an approved trial of the edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderApproved, basic)}, 0, false},
		{"a rejected trial of the edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderRejected, basic)}, 0, true},
		{"a void trial of the edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderVoid, basic)}, 0, true},
		{"a trial of another edition", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderApproved, pro)}, 0, true},
		{"a paid order of the edition", []keel.Order{earlier(1, keel.OrderNew, keel.OrderPending, basic)}, 0, true},
		{"two allowed, one had", []keel.Order{earlier(1, keel.OrderTrial, keel.OrderApproved, basic)}, 2, true},
		{"two allowed, two had", []keel.Order{
			earlier(1, keel.OrderTrial, keel.OrderApproved, basic),
			earlier(2, keel.OrderTrial, keel.OrderVoid, basic),
			earlier(3, keel.OrderTrial, keel.OrderApproved, basic)}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(keel.OrderTrial, line(basic, 3, 1))
			req.Orders, req.Settings.TrialsPerEdition = tt.orders, tt.limit
			_, err := keel.NewOrder(seller, req, keel.UTC.At(now))
			if tt.ok {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.ECONFLICT, "lines")
			if msg := keel.ErrorMessage(err); !strings.Contains(msg, "trial(s) of basic") {
				t.Errorf("message = %q, want it to name the edition", msg)
			}
		})
	}
}

func TestSubmitRechecksTheTrialLimit(t *testing.T) {
	now := at("2026-03-10")
	cat := catalogue()
	// Two trials of one edition created side by side: neither saw the other.
	a, err := keel.NewOrder(seller, request(keel.OrderTrial, line(basic, 3, 1)), keel.UTC.At(now))
	wantOK(t, err)
	b, err := keel.NewOrder(csm, request(keel.OrderTrial, line(basic, 3, 1)), keel.UTC.At(now.Add(time.Second)))
	wantOK(t, err)
	a.ID, b.ID = 1, 2

	grants, err := a.Submit(seller, keel.CustomerState{Orders: []keel.Order{a, b}, Catalogue: cat}, keel.UTC.At(now.Add(time.Minute)))
	wantOK(t, err)
	if a.Status != keel.OrderApproved || len(grants) != 1 {
		t.Fatalf("first trial: status %q with %d grants, want approved with 1", a.Status, len(grants))
	}
	_, err = b.Submit(csm, keel.CustomerState{Orders: []keel.Order{a, b}, Catalogue: cat}, keel.UTC.At(now.Add(2*time.Minute)))
	wantError(t, err, keel.ECONFLICT, "lines")
	if b.Status != keel.OrderDraft || b.SubmittedAt != nil {
		t.Errorf("second trial: status %q, submitted %v; want an untouched draft", b.Status, b.SubmittedAt)
	}

	// A trial approved in the meantime stops a draft too.
	c, err := keel.NewOrder(seller, request(keel.OrderTrial, line(pro, 3, 1)), keel.UTC.At(now))
	wantOK(t, err)
	c.ID = 3
	other := keel.Order{ID: 4, Kind: keel.OrderTrial, Status: keel.OrderApproved, Lines: []keel.OrderLine{{ProductID: pro}}}
	_, err = c.Submit(seller, keel.CustomerState{Orders: []keel.Order{c, other}, Catalogue: cat}, keel.UTC.At(now))
	wantError(t, err, keel.ECONFLICT, "lines")
}

func TestSubmit(t *testing.T) {
	now := at("2026-03-10")
	draft := func(t *testing.T, kind keel.OrderKind, lines ...keel.LineRequest) keel.Order {
		t.Helper()
		o, err := keel.NewOrder(seller, request(kind, lines...), keel.UTC.At(now))
		wantOK(t, err)
		o.ID = 30
		return o
	}
	cs := keel.CustomerState{Catalogue: catalogue()}

	t.Run("sends a draft for approval", func(t *testing.T) {
		o := draft(t, keel.OrderNew, line(pro, 10, 12))
		grants, err := o.Submit(seller, cs, keel.UTC.At(now.Add(time.Hour)))
		wantOK(t, err)
		if grants != nil {
			t.Errorf("grants = %+v, want none before approval", grants)
		}
		if o.Status != keel.OrderPending || o.SubmittedAt == nil || !o.SubmittedAt.Equal(now.Add(time.Hour)) {
			t.Errorf("status %q, submitted %v; want pending_approval at %v", o.Status, o.SubmittedAt, now.Add(time.Hour))
		}
		if o.DecidedAt != nil || o.DecidedBy != nil {
			t.Errorf("decided %v by %v, want undecided", o.DecidedAt, o.DecidedBy)
		}
	})
	refusals := []struct {
		name  string
		by    keel.Employee
		state keel.OrderStatus
		code  string
	}{
		{"another seller", seller2, keel.OrderDraft, keel.EFORBIDDEN},
		{"finance", finance, keel.OrderDraft, keel.EFORBIDDEN},
		{"the creator, departed", func() keel.Employee { e := seller; e.Status = keel.EmployeeDeparted; return e }(), keel.OrderDraft, keel.EUNAUTHORIZED},
		{"already pending", seller, keel.OrderPending, keel.ECONFLICT},
		{"already approved", seller, keel.OrderApproved, keel.ECONFLICT},
		{"rejected", seller, keel.OrderRejected, keel.ECONFLICT},
		{"void", seller, keel.OrderVoid, keel.ECONFLICT},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			o := draft(t, keel.OrderNew, line(pro, 10, 12))
			o.Status = tt.state
			before := o
			grants, err := o.Submit(tt.by, cs, keel.UTC.At(now))
			wantError(t, err, tt.code, "")
			if grants != nil || !reflect.DeepEqual(o, before) {
				t.Errorf("refused submit changed the order or granted: %+v, %+v", o, grants)
			}
		})
	}
	t.Run("a trial approves itself", func(t *testing.T) {
		o := draft(t, keel.OrderTrial, line(basic, 4, 1))
		grants, err := o.Submit(seller, cs, keel.UTC.At(now))
		wantOK(t, err)
		want := []keel.Grant{{ProductID: basic, OrderID: 30, OrderKind: keel.OrderTrial, Kind: keel.GrantTerm, Trial: true,
			Quantity: 4, Start: day("2026-03-10"), End: day("2026-04-10"), Currency: "USD", Months: 1, Period: keel.PeriodMonth, ApprovedOn: keel.Date(now)}}
		if !reflect.DeepEqual(grants, want) {
			t.Errorf("grants =\n%+v\nwant\n%+v", grants, want)
		}
		if o.Status != keel.OrderApproved || o.DecidedAt == nil || o.SubmittedAt == nil || o.Payment != nil {
			t.Errorf("trial after submit: %+v, want approved, submitted and decided, with no payment", o)
		}
	})
}

// world is a customer's orders and subscriptions, kept the way the stores
// keep them: grants are applied to subscriptions in the order they are made.
type world struct {
	t       *testing.T
	cat     map[int64]keel.CatalogueEntry
	orders  []keel.Order
	subs    []keel.Subscription
	lastID  int64
	lastSub int64
}

func newWorld(t *testing.T) *world {
	return &world{t: t, cat: catalogue(), lastSub: 100}
}

func (w *world) state() keel.CustomerState {
	return keel.CustomerState{Orders: w.orders, Subscriptions: w.subs, Catalogue: w.cat}
}

// draft creates and submits an order on day now.
func (w *world) draft(kind keel.OrderKind, now time.Time, lines ...keel.LineRequest) (*keel.Order, []keel.Grant, error) {
	w.t.Helper()
	o, err := keel.NewOrder(seller, keel.OrderRequest{Customer: acme, Kind: kind, Lines: lines, Catalogue: w.cat, Orders: w.orders}, keel.UTC.At(now))
	if err != nil {
		return nil, nil, err
	}
	w.lastID++
	o.ID = w.lastID
	w.orders = append(w.orders, o)
	p := &w.orders[len(w.orders)-1]
	grants, err := p.Submit(seller, w.state(), keel.UTC.At(now))
	if err != nil {
		return p, nil, err
	}
	w.apply(grants)
	return p, grants, nil
}

// order creates, submits and approves an order on day now, paid in full,
// and applies its grants. It returns the order's id and grants, or the
// error of the step that refused it.
func (w *world) order(kind keel.OrderKind, now time.Time, lines ...keel.LineRequest) (int64, []keel.Grant, error) {
	w.t.Helper()
	o, grants, err := w.draft(kind, now, lines...)
	if err != nil || kind == keel.OrderTrial {
		if o == nil {
			return 0, nil, err
		}
		return o.ID, grants, err
	}
	grants, _, err = o.Approve(finance, keel.Payment{Amount: o.Total(), PaidAt: now, Reference: fmt.Sprint("INV-", o.ID)}, w.subs, keel.UTC.At(now))
	if err != nil {
		return o.ID, nil, err
	}
	w.apply(grants)
	return o.ID, grants, nil
}

// must is order for steps that have to succeed.
func (w *world) must(kind keel.OrderKind, now time.Time, lines ...keel.LineRequest) (int64, []keel.Grant) {
	w.t.Helper()
	id, grants, err := w.order(kind, now, lines...)
	if err != nil {
		w.t.Fatalf("%s order on %s: %v", kind, now.Format(time.DateOnly), err)
	}
	return id, grants
}

func (w *world) apply(grants []keel.Grant) {
	for _, g := range grants {
		i := w.subFor(g)
		g.SubscriptionID = w.subs[i].ID
		w.subs[i].Grants = append(w.subs[i].Grants, g)
	}
}

func (w *world) subFor(g keel.Grant) int {
	for i, s := range w.subs {
		if g.SubscriptionID != 0 && s.ID == g.SubscriptionID {
			return i
		}
	}
	if g.SubscriptionID != 0 {
		w.t.Fatalf("grant for subscription %d, which does not exist", g.SubscriptionID)
	}
	for _, s := range w.subs {
		if s.ProductID == g.ProductID {
			w.t.Fatalf("grant asks for a new subscription of product %d, which has subscription %d", g.ProductID, s.ID)
		}
	}
	w.lastSub++
	w.subs = append(w.subs, keel.Subscription{ID: w.lastSub, CustomerID: acme.ID, ProductID: g.ProductID, ProductKind: w.cat[g.ProductID].Product.Kind})
	return len(w.subs) - 1
}

// void voids the order and marks its grants void, as the store does.
func (w *world) void(id int64, now time.Time) {
	w.t.Helper()
	for i := range w.orders {
		if w.orders[i].ID == id {
			if err := w.orders[i].Void(finance, now); err != nil {
				w.t.Fatalf("void order %d: %v", id, err)
			}
		}
	}
	for i := range w.subs {
		for j := range w.subs[i].Grants {
			if w.subs[i].Grants[j].OrderID == id {
				w.subs[i].Grants[j].Void = true
			}
		}
	}
}

func (w *world) sub(product int64) keel.Subscription {
	for _, s := range w.subs {
		if s.ProductID == product {
			return s
		}
	}
	return keel.Subscription{}
}

// view is what users see of a product's subscription over the days probed.
type view struct {
	Start, End time.Time
	Quantity   []int64
	Status     []keel.SubscriptionStatus
}

var probeDays = []string{"2025-06-01", "2025-12-31", "2026-01-01", "2026-03-09", "2026-03-10", "2026-04-01", "2026-06-01",
	"2026-09-01", "2026-12-31", "2027-01-01", "2027-03-10", "2027-04-01", "2027-06-01", "2028-01-01"}

func (w *world) view(product int64) view {
	s := w.sub(product)
	v := view{Start: s.Start(), End: s.End()}
	for _, d := range probeDays {
		v.Quantity = append(v.Quantity, s.QuantityAt(day(d)))
		v.Status = append(v.Status, s.Status(day(d)))
	}
	return v
}

func (w *world) views() map[int64]view {
	out := map[int64]view{}
	for _, p := range []int64{basic, pro, enterprise, storage, support} {
		out[p] = w.view(p)
	}
	return out
}

func TestApprove(t *testing.T) {
	now := at("2026-03-10")
	pending := func(t *testing.T) keel.Order {
		t.Helper()
		o, err := keel.NewOrder(seller, request(keel.OrderNew, line(pro, 10, 12)), keel.UTC.At(now))
		wantOK(t, err)
		o.ID = 31
		_, err = o.Submit(seller, keel.CustomerState{}, keel.UTC.At(now))
		wantOK(t, err)
		return o
	}
	const total = 6000 * 10 * 12
	paid := keel.Payment{Amount: total, PaidAt: now.Add(-time.Hour), Reference: "INV-31"}

	t.Run("grants the subscription", func(t *testing.T) {
		o := pending(t)
		p := keel.Payment{Amount: 500_000, PaidAt: time.Date(2026, 3, 9, 18, 0, 0, 0, time.FixedZone("UTC+8", 8*3600)), Reference: "INV-31"}
		grants, repeat, err := o.Approve(finance, p, nil, keel.UTC.At(now))
		wantOK(t, err)
		if repeat {
			t.Error("repeat = true on the first approval")
		}
		want := []keel.Grant{{ProductID: pro, OrderID: 31, OrderKind: keel.OrderNew, Kind: keel.GrantTerm, Quantity: 10,
			Start: day("2026-03-10"), End: day("2027-03-10"), MonthlyAmount: 60000, Currency: "USD",
			Amount: total, Months: 12, Period: keel.PeriodMonth, ApprovedOn: day("2026-03-09")}}
		if !reflect.DeepEqual(grants, want) {
			t.Errorf("grants =\n%+v\nwant\n%+v", grants, want)
		}
		if o.Status != keel.OrderApproved || o.DecidedBy == nil || *o.DecidedBy != finance.ID || o.DecidedAt == nil || !o.DecidedAt.Equal(now) {
			t.Errorf("order after approval: status %q, decided by %v at %v", o.Status, o.DecidedBy, o.DecidedAt)
		}
		if o.Payment == nil || o.Payment.Amount != 500_000 || o.Payment.Reference != "INV-31" ||
			!o.Payment.PaidAt.Equal(day("2026-03-09").Add(10*time.Hour)) || o.Payment.PaidAt.Location() != time.UTC {
			t.Errorf("payment = %+v, want 500000 paid 2026-03-09T10:00Z (UTC), INV-31", o.Payment)
		}
	})

	refusals := []struct {
		name   string
		by     keel.Employee
		status keel.OrderStatus
		p      keel.Payment
		code   string
		field  string
	}{
		{"sales approves", seller, keel.OrderPending, paid, keel.EFORBIDDEN, ""},
		{"admin approves", admin, keel.OrderPending, paid, keel.EFORBIDDEN, ""},
		{"departed finance", departed, keel.OrderPending, paid, keel.EUNAUTHORIZED, ""},
		{"a draft", finance, keel.OrderDraft, paid, keel.ECONFLICT, ""},
		{"a rejected order", finance, keel.OrderRejected, paid, keel.ECONFLICT, ""},
		{"a void order", finance, keel.OrderVoid, paid, keel.ECONFLICT, ""},
		{"negative amount", finance, keel.OrderPending, keel.Payment{Amount: -1, PaidAt: now, Reference: "INV-31"}, keel.EINVALID, "paid_amount"},
		{"more than the total", finance, keel.OrderPending, keel.Payment{Amount: total + 1, PaidAt: now, Reference: "INV-31"}, keel.EINVALID, "paid_amount"},
		{"no payment date", finance, keel.OrderPending, keel.Payment{Amount: total, Reference: "INV-31"}, keel.EINVALID, "paid_at"},
		{"paid before 2000", finance, keel.OrderPending, keel.Payment{Amount: total, PaidAt: day("1999-12-31"), Reference: "INV-31"}, keel.EINVALID, "paid_at"},
		{"paid tomorrow", finance, keel.OrderPending, keel.Payment{Amount: total, PaidAt: now.Add(15 * time.Hour), Reference: "INV-31"}, keel.EINVALID, "paid_at"},
		{"paid in two days", finance, keel.OrderPending, keel.Payment{Amount: total, PaidAt: now.Add(48 * time.Hour), Reference: "INV-31"}, keel.EINVALID, "paid_at"},
		{"no reference", finance, keel.OrderPending, keel.Payment{Amount: total, PaidAt: now, Reference: " "}, keel.EINVALID, "payment_ref"},
		{"reference too long", finance, keel.OrderPending, keel.Payment{Amount: total, PaidAt: now, Reference: strings.Repeat("r", 201)}, keel.EINVALID, "payment_ref"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			o := pending(t)
			o.Status = tt.status
			before := o
			grants, repeat, err := o.Approve(tt.by, tt.p, nil, keel.UTC.At(now))
			wantError(t, err, tt.code, tt.field)
			if grants != nil || repeat || !reflect.DeepEqual(o, before) {
				t.Errorf("refused approval: grants %+v, repeat %v, order %+v; want nothing changed", grants, repeat, o)
			}
		})
	}

	for _, p := range []keel.Payment{
		{Amount: 0, PaidAt: now, Reference: "credit note 7"},                  // nothing paid yet: all outstanding
		{Amount: total, PaidAt: now.Add(14 * time.Hour), Reference: "INV-31"}, // 23:30: later today is still today
	} {
		o := pending(t)
		if _, _, err := o.Approve(finance, p, nil, keel.UTC.At(now)); err != nil {
			t.Errorf("Approve with %+v: %v, want it accepted", p, err)
		}
	}

	t.Run("the same approval again is a harmless repeat", func(t *testing.T) {
		o := pending(t)
		_, _, err := o.Approve(finance, paid, nil, keel.UTC.At(now))
		wantOK(t, err)
		before := o
		grants, repeat, err := o.Approve(finance, paid, nil, keel.UTC.At(now.Add(time.Minute)))
		wantOK(t, err)
		if !repeat || grants != nil || !reflect.DeepEqual(o, before) {
			t.Errorf("repeat approval: grants %+v, repeat %v, order changed %v; want no grants, repeat, unchanged", grants, repeat, !reflect.DeepEqual(o, before))
		}

		// The order as read back from a database: the same instant, in
		// the server's zone.
		stored := o
		stored.Payment = &keel.Payment{Amount: paid.Amount, PaidAt: paid.PaidAt.In(time.FixedZone("CST", 8*3600)), Reference: paid.Reference}
		grants, repeat, err = stored.Approve(finance, paid, nil, keel.UTC.At(now.Add(time.Minute)))
		wantOK(t, err)
		if !repeat || grants != nil {
			t.Errorf("repeat of a stored order: grants %+v, repeat %v; want a repeat", grants, repeat)
		}
	})
	t.Run("a different second approval is a conflict", func(t *testing.T) {
		for _, p := range []keel.Payment{
			{Amount: paid.Amount - 1, PaidAt: paid.PaidAt, Reference: paid.Reference},
			{Amount: paid.Amount, PaidAt: paid.PaidAt.Add(time.Hour), Reference: paid.Reference},
			{Amount: paid.Amount, PaidAt: paid.PaidAt, Reference: "INV-32"},
		} {
			o := pending(t)
			_, _, err := o.Approve(finance, paid, nil, keel.UTC.At(now))
			wantOK(t, err)
			before := o
			grants, repeat, err := o.Approve(finance, p, nil, keel.UTC.At(now))
			wantError(t, err, keel.ECONFLICT, "")
			if grants != nil || repeat || !reflect.DeepEqual(o, before) {
				t.Errorf("second approval with %+v: grants %+v, repeat %v; want nothing", p, grants, repeat)
			}
		}
	})
}

func TestRejectAndVoid(t *testing.T) {
	now := at("2026-03-10")
	order := func(st keel.OrderStatus) keel.Order {
		return keel.Order{ID: 32, CustomerID: acme.ID, Kind: keel.OrderNew, Status: st, Currency: "USD", CreatedBy: seller.ID,
			Lines: []keel.OrderLine{{ProductID: pro, UnitAmount: 6000, Period: keel.PeriodMonth, Quantity: 1, Months: 12}}}
	}

	t.Run("reject a pending order", func(t *testing.T) {
		o := order(keel.OrderPending)
		wantOK(t, o.Reject(finance, "no PO number", now))
		if o.Status != keel.OrderRejected || o.RejectReason != "no PO number" || o.DecidedBy == nil || *o.DecidedBy != finance.ID || !o.DecidedAt.Equal(now) {
			t.Errorf("rejected order = %+v", o)
		}
	})
	t.Run("void an approved order", func(t *testing.T) {
		o := order(keel.OrderApproved)
		wantOK(t, o.Void(finance, now))
		if o.Status != keel.OrderVoid || o.VoidedBy == nil || *o.VoidedBy != finance.ID || !o.VoidedAt.Equal(now) {
			t.Errorf("voided order = %+v", o)
		}
	})
	refusals := []struct {
		name   string
		status keel.OrderStatus
		do     func(o *keel.Order) error
		code   string
		field  string
	}{
		{"reject a draft", keel.OrderDraft, func(o *keel.Order) error { return o.Reject(finance, "", now) }, keel.ECONFLICT, ""},
		{"reject an approved order", keel.OrderApproved, func(o *keel.Order) error { return o.Reject(finance, "", now) }, keel.ECONFLICT, ""},
		{"reject twice", keel.OrderRejected, func(o *keel.Order) error { return o.Reject(finance, "", now) }, keel.ECONFLICT, ""},
		{"sales rejects", keel.OrderPending, func(o *keel.Order) error { return o.Reject(seller, "", now) }, keel.EFORBIDDEN, ""},
		{"no reason", keel.OrderPending, func(o *keel.Order) error { return o.Reject(finance, "", now) }, keel.EINVALID, "reason"},
		{"a blank reason", keel.OrderPending, func(o *keel.Order) error { return o.Reject(finance, " \n\t", now) }, keel.EINVALID, "reason"},
		{"reason too long", keel.OrderPending, func(o *keel.Order) error { return o.Reject(finance, strings.Repeat("r", 2001), now) }, keel.EINVALID, "reason"},
		{"void a voided order", keel.OrderVoid, func(o *keel.Order) error { return o.Void(finance, now) }, keel.ECONFLICT, ""},
		{"void a pending order", keel.OrderPending, func(o *keel.Order) error { return o.Void(finance, now) }, keel.ECONFLICT, ""},
		{"void a draft", keel.OrderDraft, func(o *keel.Order) error { return o.Void(finance, now) }, keel.ECONFLICT, ""},
		{"void a rejected order", keel.OrderRejected, func(o *keel.Order) error { return o.Void(finance, now) }, keel.ECONFLICT, ""},
		{"sales voids", keel.OrderApproved, func(o *keel.Order) error { return o.Void(seller, now) }, keel.EFORBIDDEN, ""},
		{"departed finance voids", keel.OrderApproved, func(o *keel.Order) error { return o.Void(departed, now) }, keel.EUNAUTHORIZED, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			o := order(tt.status)
			before := o
			wantError(t, tt.do(&o), tt.code, tt.field)
			if !reflect.DeepEqual(o, before) {
				t.Errorf("refused: order changed to %+v", o)
			}
		})
	}
}

func TestGrantsNew(t *testing.T) {
	t.Run("a product already paid and in service", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(pro, 10, 12))
		_, grants, err := w.order(keel.OrderNew, at("2026-03-10"), line(pro, 5, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
		if msg := keel.ErrorMessage(err); !strings.Contains(msg, "until 2027-01-01; use a renewal") {
			t.Errorf("message = %q, want the end date and a renewal suggested", msg)
		}
		if grants != nil || w.orders[1].Status != keel.OrderPending {
			t.Errorf("refused: grants %+v, order %q; want none, still pending", grants, w.orders[1].Status)
		}
	})
	t.Run("a second edition while one is paid", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(basic, 10, 12))
		_, _, err := w.order(keel.OrderNew, at("2026-03-10"), line(pro, 10, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
		if msg := keel.ErrorMessage(err); !strings.Contains(msg, "use an upgrade") {
			t.Errorf("message = %q, want an upgrade suggested", msg)
		}
	})
	t.Run("the same product again after a lapse", func(t *testing.T) {
		w := newWorld(t)
		first, _ := w.must(keel.OrderNew, at("2025-01-01"), line(pro, 10, 12))
		_, grants := w.must(keel.OrderNew, at("2026-03-10"), line(pro, 8, 12))
		s := w.sub(pro)
		if len(grants) != 1 || grants[0].SubscriptionID != s.ID || !grants[0].Start.Equal(day("2026-03-10")) || !grants[0].End.Equal(day("2027-03-10")) {
			t.Errorf("grants = %+v, want one term on subscription %d from 2026-03-10 to 2027-03-10", grants, s.ID)
		}
		if got := s.OrderIDs(); len(got) != 2 || got[0] != first {
			t.Errorf("OrderIDs = %v, want both orders", got)
		}
		if got := s.QuantityAt(day("2026-02-01")); got != 0 {
			t.Errorf("QuantityAt in the lapse = %d, want 0", got)
		}
	})
}

func TestGrantsRenewal(t *testing.T) {
	tests := []struct {
		name      string
		approved  string // the renewal's approval day
		start     string // the line's explicit start, if any
		want      [2]string
		statusGap keel.CustomerStatus // status on 2026-06-15
	}{
		{"while active: from the current end", "2026-05-20", "", [2]string{"2026-06-01", "2027-06-01"}, keel.CustomerRenewed},
		{"on the last day: from the current end", "2026-05-31", "", [2]string{"2026-06-01", "2027-06-01"}, keel.CustomerRenewed},
		{"on the end day: from that day", "2026-06-01", "", [2]string{"2026-06-01", "2027-06-01"}, keel.CustomerRenewed},
		{"after a lapse: from the approval day", "2026-07-15", "", [2]string{"2026-07-15", "2027-07-15"}, keel.CustomerActive}, // paid ahead, nothing now
		{"after a lapse, back-dated: from the start given", "2026-07-15", "2026-06-01", [2]string{"2026-06-01", "2027-06-01"}, keel.CustomerRenewed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.must(keel.OrderNew, at("2025-06-01"), line(pro, 10, 12))
			l := line(pro, 12, 12)
			if tt.start != "" {
				l = lineFrom(pro, 12, 12, tt.start)
			}
			id, grants := w.must(keel.OrderRenewal, at(tt.approved), l)
			s := w.sub(pro)
			want := []keel.Grant{{SubscriptionID: s.ID, ProductID: pro, OrderID: id, OrderKind: keel.OrderRenewal, Kind: keel.GrantTerm,
				Quantity: 12, Start: day(tt.want[0]), End: day(tt.want[1]), MonthlyAmount: 72000, Currency: "USD",
				Amount: 72000 * 12, Months: 12, Period: keel.PeriodMonth, ApprovedOn: day(tt.approved)}}
			if !reflect.DeepEqual(grants, want) {
				t.Fatalf("grants =\n%+v\nwant\n%+v", grants, want)
			}
			// No overlap: the old term's last day has the old quantity,
			// the new term's first day the new one.
			if got := s.QuantityAt(day("2026-05-31")); got != 10 {
				t.Errorf("QuantityAt(2026-05-31) = %d, want 10", got)
			}
			if got := s.QuantityAt(day(tt.want[0])); got != 12 {
				t.Errorf("QuantityAt(%s) = %d, want 12", tt.want[0], got)
			}
			if !s.End().Equal(day(tt.want[1])) {
				t.Errorf("End() = %v, want %s", s.End(), tt.want[1])
			}
			if got := keel.StatusOf(w.subs, day("2026-06-15")); got != tt.statusGap {
				t.Errorf("StatusOf(2026-06-15) = %q, want %q", got, tt.statusGap)
			}
		})
	}
	t.Run("nothing to renew", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(basic, 10, 12))
		_, _, err := w.order(keel.OrderRenewal, at("2026-03-10"), line(pro, 10, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
		if msg := keel.ErrorMessage(err); !strings.Contains(msg, "use a new order") {
			t.Errorf("message = %q, want a new order suggested", msg)
		}
	})
	t.Run("a voided service", func(t *testing.T) {
		w := newWorld(t)
		id, _ := w.must(keel.OrderNew, at("2026-01-01"), line(pro, 10, 12))
		w.void(id, at("2026-01-05"))
		_, _, err := w.order(keel.OrderRenewal, at("2026-03-10"), line(pro, 10, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
	})
	t.Run("an edition left by an upgrade", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(basic, 10, 12))
		w.must(keel.OrderUpgrade, at("2026-03-10"), line(pro, 10, 12))
		_, _, err := w.order(keel.OrderRenewal, at("2026-04-01"), line(basic, 10, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
		if got := w.sub(basic).QuantityAt(day("2026-05-01")); got != 0 {
			t.Errorf("basic QuantityAt(2026-05-01) = %d, want 0: one edition at a time", got)
		}
	})
}

func TestGrantsUpgrade(t *testing.T) {
	w := newWorld(t)
	w.must(keel.OrderNew, at("2026-01-01"), line(basic, 10, 12))
	basicSub := w.sub(basic)
	id, grants := w.must(keel.OrderUpgrade, at("2026-04-01"), line(pro, 12, 12))
	want := []keel.Grant{
		{SubscriptionID: basicSub.ID, ProductID: basic, OrderID: id, OrderKind: keel.OrderUpgrade, Kind: keel.GrantCut, Start: day("2026-04-01"), Currency: "USD",
			ApprovedOn: day("2026-04-01")},
		{ProductID: pro, OrderID: id, OrderKind: keel.OrderUpgrade, Kind: keel.GrantTerm, Quantity: 12,
			Start: day("2026-04-01"), End: day("2027-04-01"), MonthlyAmount: 72000, Currency: "USD",
			Amount: 72000 * 12, Months: 12, Period: keel.PeriodMonth, ApprovedOn: day("2026-04-01")},
	}
	if !reflect.DeepEqual(grants, want) {
		t.Fatalf("grants =\n%+v\nwant\n%+v", grants, want)
	}
	b, p := w.sub(basic), w.sub(pro)
	if !b.End().Equal(day("2026-04-01")) || b.Status(day("2026-03-31")) != keel.SubActive || b.Status(day("2026-04-01")) != keel.SubEnded {
		t.Errorf("basic: End %v, status on 03-31 %q, on 04-01 %q; want cut on 2026-04-01", b.End(), b.Status(day("2026-03-31")), b.Status(day("2026-04-01")))
	}
	if p.Status(day("2026-04-01")) != keel.SubActive || p.QuantityAt(day("2026-04-01")) != 12 {
		t.Errorf("pro on 2026-04-01: %q with %d seats, want active with 12", p.Status(day("2026-04-01")), p.QuantityAt(day("2026-04-01")))
	}

	t.Run("nothing to upgrade from", func(t *testing.T) {
		w := newWorld(t)
		_, _, err := w.order(keel.OrderUpgrade, at("2026-03-10"), line(pro, 10, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
	})
	t.Run("to the edition in service", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(pro, 10, 12))
		_, _, err := w.order(keel.OrderUpgrade, at("2026-03-10"), line(pro, 20, 12))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
		if msg := keel.ErrorMessage(err); !strings.Contains(msg, "already has this edition") {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("back to an edition left before", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(basic, 10, 12))
		w.must(keel.OrderUpgrade, at("2026-04-01"), line(pro, 10, 12))
		w.must(keel.OrderUpgrade, at("2026-09-01"), line(basic, 15, 12))
		b, p := w.sub(basic), w.sub(pro)
		if got := b.QuantityAt(day("2026-10-01")); got != 15 || b.Status(day("2026-10-01")) != keel.SubActive {
			t.Errorf("basic on 2026-10-01: %q with %d seats, want active with 15", b.Status(day("2026-10-01")), got)
		}
		if got := b.QuantityAt(day("2026-06-01")); got != 0 {
			t.Errorf("basic on 2026-06-01 (on pro): %d seats, want 0", got)
		}
		if !p.End().Equal(day("2026-09-01")) {
			t.Errorf("pro End() = %v, want 2026-09-01", p.End())
		}
		if got := keel.StatusOf(w.subs, day("2026-10-01")); got != keel.CustomerActive {
			t.Errorf("StatusOf = %q, want active", got)
		}
	})
	t.Run("a new order for an edition left before", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2025-01-01"), line(basic, 10, 12))
		w.must(keel.OrderUpgrade, at("2025-04-01"), line(pro, 10, 12))
		w.must(keel.OrderNew, at("2026-05-01"), line(basic, 5, 12))
		if got := w.sub(basic).QuantityAt(day("2026-06-01")); got != 5 {
			t.Errorf("basic QuantityAt(2026-06-01) = %d, want 5", got)
		}
		if got := keel.StatusOf(w.subs, day("2026-06-01")); got != keel.CustomerActive {
			t.Errorf("StatusOf = %q, want active", got)
		}
	})
}

func TestGrantsAddons(t *testing.T) {
	t.Run("a quota add-on adds quantity over its term", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(storage, 5, 12))
		id, grants := w.must(keel.OrderAddon, at("2026-03-01"), line(storage, 3, 6))
		s := w.sub(storage)
		want := []keel.Grant{{SubscriptionID: s.ID, ProductID: storage, OrderID: id, OrderKind: keel.OrderAddon, Kind: keel.GrantTerm,
			Quantity: 3, Start: day("2026-03-01"), End: day("2026-09-01"), MonthlyAmount: 600, Currency: "USD",
			Amount: 600 * 6, Months: 6, Period: keel.PeriodMonth, ApprovedOn: day("2026-03-01")}}
		if !reflect.DeepEqual(grants, want) {
			t.Fatalf("grants =\n%+v\nwant\n%+v", grants, want)
		}
		for d, q := range map[string]int64{"2026-02-28": 5, "2026-03-01": 8, "2026-08-31": 8, "2026-09-01": 5, "2026-12-31": 5, "2027-01-01": 0} {
			if got := s.QuantityAt(day(d)); got != q {
				t.Errorf("QuantityAt(%s) = %d, want %d", d, got, q)
			}
		}
	})
	t.Run("an add-on bound to the term ends with the edition", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2026-01-01"), line(pro, 10, 12))
		_, grants := w.must(keel.OrderAddon, at("2026-03-10"), line(support, 2, 3))
		if len(grants) != 1 || !grants[0].Start.Equal(day("2026-03-10")) || !grants[0].End.Equal(day("2027-01-01")) || grants[0].SubscriptionID != 0 {
			t.Fatalf("grants = %+v, want one new subscription from 2026-03-10 to 2027-01-01", grants)
		}
		if got := w.sub(support).QuantityAt(day("2026-12-31")); got != 2 {
			t.Errorf("support QuantityAt(2026-12-31) = %d, want 2", got)
		}
	})
	t.Run("an add-on bound to the term without an edition", func(t *testing.T) {
		w := newWorld(t)
		w.must(keel.OrderNew, at("2025-01-01"), line(pro, 10, 12)) // lapsed 2026-01-01
		_, _, err := w.order(keel.OrderAddon, at("2026-03-10"), line(support, 2, 3))
		wantError(t, err, keel.ECONFLICT, "lines[0]")
	})
}

func TestVoidRestoresThePreviousState(t *testing.T) {
	type step struct {
		kind  keel.OrderKind
		day   string
		lines []keel.LineRequest
	}
	tests := []struct {
		name   string
		before []step
		order  step
	}{
		{"a new order", nil, step{keel.OrderNew, "2026-01-01", []keel.LineRequest{line(pro, 10, 12), line(storage, 5, 12)}}},
		{"a renewal", []step{{keel.OrderNew, "2025-06-01", []keel.LineRequest{line(pro, 10, 12)}}},
			step{keel.OrderRenewal, "2026-05-20", []keel.LineRequest{line(pro, 12, 12)}}},
		{"an upgrade", []step{{keel.OrderNew, "2026-01-01", []keel.LineRequest{line(basic, 10, 12)}}},
			step{keel.OrderUpgrade, "2026-04-01", []keel.LineRequest{line(pro, 10, 12)}}},
		{"an upgrade of a renewed edition", []step{
			{keel.OrderNew, "2025-06-01", []keel.LineRequest{line(basic, 10, 12)}},
			{keel.OrderRenewal, "2026-05-01", []keel.LineRequest{line(basic, 10, 12)}}},
			step{keel.OrderUpgrade, "2026-09-01", []keel.LineRequest{line(enterprise, 10, 12)}}},
		{"a quota add-on", []step{{keel.OrderNew, "2026-01-01", []keel.LineRequest{line(pro, 10, 12), line(storage, 5, 12)}}},
			step{keel.OrderAddon, "2026-03-10", []keel.LineRequest{line(storage, 3, 6), line(support, 1, 1)}}},
		{"a paid order after a trial", []step{{keel.OrderTrial, "2025-12-20", []keel.LineRequest{line(pro, 3, 1)}}},
			step{keel.OrderNew, "2026-01-01", []keel.LineRequest{line(pro, 10, 12)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			for _, s := range tt.before {
				w.must(s.kind, at(s.day), s.lines...)
			}
			before, status, first := w.views(), keel.StatusOf(w.subs, day("2026-10-01")), keel.FirstPurchase(w.subs)
			id, _ := w.must(tt.order.kind, at(tt.order.day), tt.order.lines...)
			if reflect.DeepEqual(w.views(), before) {
				t.Fatal("the order changed nothing; the test proves nothing")
			}
			w.void(id, at(tt.order.day).Add(48*time.Hour))
			if after := w.views(); !reflect.DeepEqual(after, before) {
				for p := range before {
					if !reflect.DeepEqual(after[p], before[p]) {
						t.Errorf("product %d after void:\n%+v\nwant as before:\n%+v", p, after[p], before[p])
					}
				}
			}
			if got := keel.StatusOf(w.subs, day("2026-10-01")); got != status {
				t.Errorf("StatusOf after void = %q, want %q as before", got, status)
			}
			if got := keel.FirstPurchase(w.subs); !reflect.DeepEqual(got, first) {
				t.Errorf("FirstPurchase after void = %v, want %v as before", got, first)
			}
		})
	}
}

func TestTrialThenPaid(t *testing.T) {
	w := newWorld(t)
	w.must(keel.OrderTrial, at("2026-01-10"), line(basic, 3, 1))
	trialSub := w.sub(basic)
	if got := keel.StatusOf(w.subs, day("2026-01-15")); got != keel.CustomerTrial {
		t.Errorf("StatusOf during the trial = %q, want trial", got)
	}
	_, grants := w.must(keel.OrderNew, at("2026-01-20"), line(basic, 10, 12))
	if len(grants) != 1 || grants[0].SubscriptionID != trialSub.ID || grants[0].Trial {
		t.Fatalf("grants = %+v, want one paid term on the trial's subscription %d", grants, trialSub.ID)
	}
	s := w.sub(basic)
	for d, q := range map[string]int64{"2026-01-15": 3, "2026-01-20": 10, "2026-02-05": 10, "2027-01-19": 10, "2027-01-20": 0} {
		if got := s.QuantityAt(day(d)); got != q {
			t.Errorf("QuantityAt(%s) = %d, want %d", d, got, q)
		}
	}
	if s.Trial() {
		t.Error("Trial() = true after a paid order")
	}
	if got := keel.StatusOf(w.subs, day("2026-01-25")); got != keel.CustomerActive {
		t.Errorf("StatusOf = %q, want active", got)
	}
	if got := keel.FirstPurchase(w.subs); got == nil || !got.Equal(day("2026-01-20")) {
		t.Errorf("FirstPurchase = %v, want 2026-01-20", got)
	}

	// A trial is for customers who have not bought the edition.
	w.orders = nil // the limit of one trial aside
	_, _, err := w.order(keel.OrderTrial, at("2026-03-10"), line(basic, 3, 1))
	wantError(t, err, keel.ECONFLICT, "lines[0]")
}

func TestLineTotals(t *testing.T) {
	tests := []struct {
		name           string
		l              keel.OrderLine
		total, monthly int64
	}{
		{"monthly", keel.OrderLine{UnitAmount: 1000, Period: keel.PeriodMonth, Quantity: 3, Months: 12}, 36000, 3000},
		{"monthly, one month", keel.OrderLine{UnitAmount: 1000, Period: keel.PeriodMonth, Quantity: 1, Months: 1}, 1000, 1000},
		{"yearly, one year", keel.OrderLine{UnitAmount: 1_200_000, Period: keel.PeriodYear, Quantity: 1, Months: 12}, 1_200_000, 100_000},
		{"yearly, two years", keel.OrderLine{UnitAmount: 120_000, Period: keel.PeriodYear, Quantity: 2, Months: 24}, 480_000, 20_000},
		{"once", keel.OrderLine{UnitAmount: 50_000, Period: keel.PeriodOnce, Quantity: 2, Months: 12}, 100_000, 0},
		{"free", keel.OrderLine{UnitAmount: 0, Period: keel.PeriodMonth, Quantity: 5, Months: 1}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Total(); got != tt.total {
				t.Errorf("Total() = %d, want %d", got, tt.total)
			}
			if got := tt.l.MonthlyAmount(); got != tt.monthly {
				t.Errorf("MonthlyAmount() = %d, want %d", got, tt.monthly)
			}
		})
	}
	o := keel.Order{Lines: []keel.OrderLine{tests[0].l, tests[3].l, tests[4].l}}
	if got, want := o.Total(), int64(36000+480_000+100_000); got != want {
		t.Errorf("Order.Total() = %d, want %d", got, want)
	}
}

// TestRefusalsShowMoneyInCurrencyUnits: a refusal that names an amount
// writes it as the pages do, with its currency — never in minor units,
// where a 60.00 USD order once read as "order total 6000 USD".
func TestRefusalsShowMoneyInCurrencyUnits(t *testing.T) {
	now := at("2026-03-10")
	o, err := keel.NewOrder(seller, request(keel.OrderNew, line(basic, 6, 1)), keel.UTC.At(now))
	wantOK(t, err)
	o.ID = 33
	_, err = o.Submit(seller, keel.CustomerState{}, keel.UTC.At(now))
	wantOK(t, err)
	_, _, err = o.Approve(finance, keel.Payment{Amount: 600_000, PaidAt: now, Reference: "INV-33"}, nil, keel.UTC.At(now))
	wantError(t, err, keel.EINVALID, "paid_amount")
	if got, want := keel.ErrorMessage(err), "paid_amount: 6,000.00 USD is more than the order total 60.00 USD"; got != want {
		t.Errorf("over-large payment: %q, want %q", got, want)
	}

	_, err = keel.NewOrder(seller, request(keel.OrderAddon, line(whale, 1, 2)), keel.UTC.At(now))
	if got, want := keel.ErrorMessage(err), "lines[0]: the line total is over the limit of 10,000,000,000.00 USD"; got != want {
		t.Errorf("line over the limit: %q, want %q", got, want)
	}

	for _, tt := range []struct {
		v    keel.PriceVersion
		want string
	}{
		{keel.PriceVersion{Amount: keel.MaxAmount + 1, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")},
			"amount: 10,000,000,000.01 USD is over the limit of 10,000,000,000.00 USD"},
		{keel.PriceVersion{Amount: keel.MaxAmount + 1, Currency: "JPY", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")},
			"amount: 1,000,000,000,001 JPY is over the limit of 1,000,000,000,000 JPY"},
	} {
		if got := keel.ErrorMessage(tt.v.Validate()); got != tt.want {
			t.Errorf("price over the limit: %q, want %q", got, tt.want)
		}
	}
}
