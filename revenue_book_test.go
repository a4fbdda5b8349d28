package keel

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// book is an in-memory company for revenue tests: a catalogue, customers,
// and orders made, approved and voided through the domain's own rules, so
// the grants revenue reads are the ones Postgres would store.
type book struct {
	t         *testing.T
	cat       map[int64]CatalogueEntry
	codes     map[string]int64
	customers map[string]*bookCustomer
	keys      []string
	nextID    int64
	sales     Employee
	finance   Employee
}

type bookCustomer struct {
	c      Customer
	orders []Order
	subs   []Subscription
}

func newBook(t *testing.T) *book {
	t.Helper()
	return &book{t: t, cat: map[int64]CatalogueEntry{}, codes: map[string]int64{}, customers: map[string]*bookCustomer{},
		sales:   Employee{ID: 1, Email: "s@x", Roles: []Role{RoleSales}, Status: EmployeeActive},
		finance: Employee{ID: 2, Email: "f@x", Roles: []Role{RoleFinance}, Status: EmployeeActive}}
}

func (b *book) id() int64 { b.nextID++; return b.nextID }

// product adds a product with its price versions (amount, currency,
// period, effective from), each closing the one before.
func (b *book) product(code string, kind ProductKind, prices ...PriceVersion) {
	p := Product{ID: b.id(), Code: code, Name: code, Kind: kind, Unit: "unit", Status: ProductEnabled}
	var versions []PriceVersion
	for _, v := range prices {
		v.ID, v.ProductID = b.id(), p.ID
		closes, err := p.AddPrice(versions, v)
		if err != nil {
			b.t.Fatalf("price of %s: %v", code, err)
		}
		if closes != nil {
			versions[len(versions)-1] = *closes
		}
		v.EffectiveFrom = Date(v.EffectiveFrom)
		versions = append(versions, v)
	}
	b.cat[p.ID] = CatalogueEntry{Product: p, Versions: versions}
	b.codes[code] = p.ID
}

func (b *book) customer(key string) *bookCustomer {
	c := b.customers[key]
	if c == nil {
		c = &bookCustomer{c: Customer{ID: b.id(), Name: key, TenantID: key}}
		b.customers[key] = c
		b.keys = append(b.keys, key)
	}
	return c
}

type bookLine struct {
	product  string
	quantity int64
	months   int
	start    string // "" = the approval day (or where a renewal extends)
}

// order creates, submits and (unless a trial) approves an order on day on,
// paid in full that day, and returns it.
func (b *book) order(key string, kind OrderKind, on string, lines ...bookLine) Order {
	b.t.Helper()
	c := b.customer(key)
	now := day(b.t, on).Add(9 * time.Hour)
	var reqs []LineRequest
	for _, l := range lines {
		r := LineRequest{ProductID: b.codes[l.product], Quantity: l.quantity, Months: l.months}
		if l.start != "" {
			s := day(b.t, l.start)
			r.Start = &s
		}
		reqs = append(reqs, r)
	}
	o, err := NewOrder(b.sales, OrderRequest{Customer: c.c, Kind: kind, Lines: reqs, Catalogue: b.cat, Orders: c.orders}, now)
	if err != nil {
		b.t.Fatalf("order for %s: %v", key, err)
	}
	o.ID = b.id()
	for i := range o.Lines {
		o.Lines[i].ID = b.id()
	}
	grants, err := o.Submit(b.sales, CustomerState{Orders: c.orders, Subscriptions: c.subs, Catalogue: b.cat}, now)
	if err != nil {
		b.t.Fatalf("submit order %d: %v", o.ID, err)
	}
	if o.Status == OrderPending {
		var repeat bool
		grants, repeat, err = o.Approve(b.finance, Payment{Amount: o.Total(), PaidAt: now, Reference: "ref"}, c.subs, now)
		if err != nil || repeat {
			b.t.Fatalf("approve order %d: %v (repeat %v)", o.ID, err, repeat)
		}
	}
	for _, g := range grants {
		g.ID = b.id()
		if g.SubscriptionID == 0 {
			for _, s := range c.subs {
				if s.ProductID == g.ProductID {
					g.SubscriptionID = s.ID
				}
			}
		}
		if g.SubscriptionID == 0 {
			p := b.cat[g.ProductID].Product
			c.subs = append(c.subs, Subscription{ID: b.id(), CustomerID: c.c.ID, ProductID: p.ID, ProductKind: p.Kind})
			g.SubscriptionID = c.subs[len(c.subs)-1].ID
		}
		for i := range c.subs {
			if c.subs[i].ID == g.SubscriptionID {
				c.subs[i].Grants = append(c.subs[i].Grants, g)
			}
		}
	}
	c.orders = append(c.orders, o)
	return o
}

// void voids an approved order at instant at, marking its grants void as
// the store does.
func (b *book) void(key string, orderID int64, at time.Time) {
	b.t.Helper()
	c := b.customer(key)
	for i := range c.orders {
		if c.orders[i].ID != orderID {
			continue
		}
		if err := c.orders[i].Void(b.finance, at); err != nil {
			b.t.Fatalf("void order %d: %v", orderID, err)
		}
	}
	for i := range c.subs {
		for j := range c.subs[i].Grants {
			if g := &c.subs[i].Grants[j]; g.OrderID == orderID {
				g.Void, g.VoidedAt = true, &at
			}
		}
	}
}

// series is every customer's revenue rows.
func (b *book) series(s RevenueSettings) []CustomerMonth {
	var rows []CustomerMonth
	for _, k := range b.keys {
		c := b.customers[k]
		rows = append(rows, CustomerSeries(c.c.ID, c.subs, s)...)
	}
	return rows
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("day %q: %v", s, err)
	}
	return d
}

func month(t *testing.T, s string) Month {
	t.Helper()
	m, err := ParseMonth("month", s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// revenueCases is ../shared/revenue-cases.json as kept in testdata: twelve
// books with the month table an independent calculator expects.
type revenueCases struct {
	Products []struct {
		Code   string      `json:"code"`
		Kind   ProductKind `json:"kind"`
		Prices []struct {
			Amount        int64  `json:"amount"`
			Period        Period `json:"period"`
			EffectiveFrom string `json:"effective_from"`
			Currency      string `json:"currency"`
		} `json:"prices"`
	} `json:"products"`
	Cases []struct {
		Name   string `json:"name"`
		Note   string `json:"note"`
		Orders []struct {
			Customer string    `json:"customer"`
			Kind     OrderKind `json:"kind"`
			Lines    []struct {
				Product  string `json:"product"`
				Quantity int64  `json:"quantity"`
				Months   int    `json:"months"`
				Start    string `json:"start"`
			} `json:"lines"`
			ApproveOn string `json:"approve_on"`
			Void      bool   `json:"void"`
		} `json:"orders"`
		From     string `json:"from"`
		To       string `json:"to"`
		Expected []struct {
			Month        string `json:"month"`
			MRR          int64  `json:"mrr"`
			New          int64  `json:"new"`
			Expansion    int64  `json:"expansion"`
			Contraction  int64  `json:"contraction"`
			Churn        int64  `json:"churn"`
			Reactivation int64  `json:"reactivation"`
			Customers    int64  `json:"customers"`
		} `json:"expected"`
	} `json:"cases"`
}

func loadRevenueCases(t *testing.T) revenueCases {
	t.Helper()
	raw, err := os.ReadFile("testdata/revenue-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var rc revenueCases
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	if len(rc.Cases) == 0 {
		t.Fatal("no revenue cases")
	}
	return rc
}

// TestRevenueCases replays each worked book of METRICS.md through the
// domain's order rules and compares the month table with what the
// independent calculator expects.
func TestRevenueCases(t *testing.T) {
	rc := loadRevenueCases(t)
	for _, c := range rc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			b := newBook(t)
			for _, p := range rc.Products {
				var prices []PriceVersion
				for _, v := range p.Prices {
					prices = append(prices, PriceVersion{Amount: v.Amount, Currency: v.Currency, Period: v.Period, EffectiveFrom: day(t, v.EffectiveFrom)})
				}
				b.product(p.Code, p.Kind, prices...)
			}
			for _, o := range c.Orders {
				var lines []bookLine
				for _, l := range o.Lines {
					lines = append(lines, bookLine{l.Product, l.Quantity, l.Months, l.Start})
				}
				ord := b.order(o.Customer, o.Kind, o.ApproveOn, lines...)
				if o.Void {
					b.void(o.Customer, ord.ID, day(t, o.ApproveOn).Add(10*time.Hour))
				}
			}
			from, to := month(t, c.From), month(t, c.To)
			totals := MonthTotals(b.series(RevenueSettings{}), from, to)
			if len(totals) != len(c.Expected) {
				t.Fatalf("%d months, want %d (%s)", len(totals), len(c.Expected), c.Note)
			}
			for i, want := range c.Expected {
				got := totals[i]
				if got.Month.String() != want.Month || got.Currency != "CNY" {
					t.Fatalf("row %d is %s %s, want %s CNY", i, got.Month, got.Currency, want.Month)
				}
				type row struct{ MRR, New, Expansion, Contraction, Churn, Reactivation, Customers int64 }
				g := row{got.MRR.Round(), got.New.Round(), got.Expansion.Round(), got.Contraction.Round(), got.Churn.Round(), got.Reactivation.Round(), got.Customers}
				w := row{want.MRR, want.New, want.Expansion, want.Contraction, want.Churn, want.Reactivation, want.Customers}
				if g != w {
					t.Errorf("%s: got %+v, want %+v (%s)", want.Month, g, w, c.Note)
				}
			}
		})
	}
}
