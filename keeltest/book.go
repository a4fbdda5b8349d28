// Package keeltest gives tests an in-memory company built through the
// domain's own rules — a catalogue, customers, and orders created,
// submitted, approved and voided as the stores would — and the worked
// revenue books of METRICS.md, so that the domain, the warehouse and the
// console are checked against the same histories.
package keeltest

import (
	"time"

	"github.com/keelhq/keel"
)

// TB is what the book needs of its caller to stop on a mistake: a test's
// testing.TB, or a benchmark's own (bench/revenue.go), so that the same
// histories serve tests and `keel bench revenue`.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Book is an in-memory company. Its subscriptions and grants are the ones
// Postgres would hold after the same orders.
type Book struct {
	t         TB
	Catalogue map[int64]keel.CatalogueEntry
	codes     map[string]int64
	customers map[string]*Customer
	keys      []string
	nextID    int64
	Sales     keel.Employee
	Finance   keel.Employee
	// Facts are the subscription.changed facts the stores would have
	// written, in order: one per subscription an order or a void changed.
	Facts []keel.Fact
}

// Customer is one customer of a Book with its orders and subscriptions.
type Customer struct {
	Customer      keel.Customer
	Orders        []keel.Order
	Subscriptions []keel.Subscription
}

// NewBook returns an empty book; ids start at 1.
func NewBook(t TB) *Book {
	t.Helper()
	return &Book{t: t, Catalogue: map[int64]keel.CatalogueEntry{}, codes: map[string]int64{}, customers: map[string]*Customer{},
		Sales:   keel.Employee{ID: 1, Email: "sales@book", Roles: []keel.Role{keel.RoleSales}, Status: keel.EmployeeActive},
		Finance: keel.Employee{ID: 2, Email: "finance@book", Roles: []keel.Role{keel.RoleFinance}, Status: keel.EmployeeActive}}
}

func (b *Book) id() int64 { b.nextID++; return b.nextID }

// Product adds a product with its price versions, each closing the one
// before, and returns its id.
func (b *Book) Product(code string, kind keel.ProductKind, prices ...keel.PriceVersion) int64 {
	b.t.Helper()
	unit := "seat" // editions and the add-ons bound to them count seats
	if kind == keel.KindAddonStandalone {
		unit = "unit"
	}
	p := keel.Product{ID: b.id(), Code: code, Name: code, Kind: kind, Unit: unit, Status: keel.ProductEnabled}
	var versions []keel.PriceVersion
	for _, v := range prices {
		v.ID, v.ProductID = b.id(), p.ID
		closes, err := p.AddPrice(versions, v)
		if err != nil {
			b.t.Fatalf("price of %s: %v", code, err)
		}
		if closes != nil {
			versions[len(versions)-1] = *closes
		}
		v.EffectiveFrom = keel.Date(v.EffectiveFrom)
		versions = append(versions, v)
	}
	b.Catalogue[p.ID] = keel.CatalogueEntry{Product: p, Versions: versions}
	b.codes[code] = p.ID
	return p.ID
}

// Customer returns the customer named key, adding it on first use.
func (b *Book) Customer(key string) *Customer {
	c := b.customers[key]
	if c == nil {
		c = &Customer{Customer: keel.Customer{ID: b.id(), Name: key, TenantID: key}}
		b.customers[key] = c
		b.keys = append(b.keys, key)
	}
	return c
}

// Keys are the customers' keys in the order they were added.
func (b *Book) Keys() []string { return b.keys }

// Line is one line of an order in a Book.
type Line struct {
	Product  string // the product's code
	Quantity int64
	Months   int
	Start    string // YYYY-MM-DD; "" = the approval day (or where a renewal extends)
}

// Order creates, submits and (unless a trial) approves an order of
// customer key on day on (YYYY-MM-DD), paid in full that day, and returns
// it as approved. A refusal of the rules fails the test.
func (b *Book) Order(key string, kind keel.OrderKind, on string, lines ...Line) keel.Order {
	b.t.Helper()
	c := b.Customer(key)
	now := Day(b.t, on).Add(9 * time.Hour)
	var reqs []keel.LineRequest
	for _, l := range lines {
		r := keel.LineRequest{ProductID: b.codes[l.Product], Quantity: l.Quantity, Months: l.Months}
		if l.Start != "" {
			s := Day(b.t, l.Start)
			r.Start = &s
		}
		reqs = append(reqs, r)
	}
	o, err := keel.NewOrder(b.Sales, keel.OrderRequest{Customer: c.Customer, Kind: kind, Lines: reqs, Catalogue: b.Catalogue, Orders: c.Orders}, keel.UTC.At(now))
	if err != nil {
		b.t.Fatalf("order for %s: %v", key, err)
	}
	o.ID = b.id()
	for i := range o.Lines {
		o.Lines[i].ID = b.id()
	}
	grants, err := o.Submit(b.Sales, keel.CustomerState{Orders: c.Orders, Subscriptions: c.Subscriptions, Catalogue: b.Catalogue}, keel.UTC.At(now))
	if err != nil {
		b.t.Fatalf("submit order %d: %v", o.ID, err)
	}
	if o.Status == keel.OrderPending {
		var repeat bool
		grants, repeat, err = o.Approve(b.Finance, keel.Payment{Amount: o.Total(), PaidAt: now, Reference: "ref"}, c.Subscriptions, keel.UTC.At(now))
		if err != nil || repeat {
			b.t.Fatalf("approve order %d: %v (repeat %v)", o.ID, err, repeat)
		}
	}
	touched := map[int64]bool{}
	for _, g := range grants {
		g.ID = b.id()
		if g.SubscriptionID == 0 {
			for _, s := range c.Subscriptions {
				if s.ProductID == g.ProductID {
					g.SubscriptionID = s.ID
				}
			}
		}
		if g.SubscriptionID == 0 {
			p := b.Catalogue[g.ProductID].Product
			c.Subscriptions = append(c.Subscriptions, keel.Subscription{ID: b.id(), CustomerID: c.Customer.ID, ProductID: p.ID, ProductKind: p.Kind})
			g.SubscriptionID = c.Subscriptions[len(c.Subscriptions)-1].ID
		}
		for i := range c.Subscriptions {
			if c.Subscriptions[i].ID == g.SubscriptionID {
				c.Subscriptions[i].Grants = append(c.Subscriptions[i].Grants, g)
			}
		}
		touched[g.SubscriptionID] = true
	}
	c.Orders = append(c.Orders, o)
	b.changed(c, touched, now)
	return o
}

// changed records the subscription.changed facts of the subscriptions in
// touched, as the stores write them in the change's transaction.
func (b *Book) changed(c *Customer, touched map[int64]bool, now time.Time) {
	b.t.Helper()
	for _, s := range c.Subscriptions {
		if !touched[s.ID] {
			continue
		}
		p := b.Catalogue[s.ProductID].Product
		f, err := keel.NewFact(keel.FactSubscriptionChanged, c.Customer.ID, c.Customer.TenantID, now, keel.SubscriptionFactOf(s, p.Code, p.Unit, now))
		if err != nil {
			b.t.Fatalf("fact of subscription %d: %v", s.ID, err)
		}
		b.Facts = append(b.Facts, f)
	}
}

// Void voids an approved order of customer key at instant at, marking its
// grants void as the store does.
func (b *Book) Void(key string, orderID int64, at time.Time) {
	b.t.Helper()
	c := b.Customer(key)
	for i := range c.Orders {
		if c.Orders[i].ID != orderID {
			continue
		}
		if err := c.Orders[i].Void(b.Finance, at); err != nil {
			b.t.Fatalf("void order %d: %v", orderID, err)
		}
	}
	touched := map[int64]bool{}
	for i := range c.Subscriptions {
		for j := range c.Subscriptions[i].Grants {
			if g := &c.Subscriptions[i].Grants[j]; g.OrderID == orderID {
				at := at.UTC()
				g.Void, g.VoidedAt = true, &at
				touched[c.Subscriptions[i].ID] = true
			}
		}
	}
	b.changed(c, touched, at)
}

// Series is every customer's revenue rows under settings s.
func (b *Book) Series(s keel.RevenueSettings) []keel.CustomerMonth {
	var rows []keel.CustomerMonth
	for _, k := range b.keys {
		c := b.customers[k]
		rows = append(rows, keel.CustomerSeries(c.Customer.ID, c.Subscriptions, s)...)
	}
	return rows
}

// Renewals is every customer's renewals under settings s.
func (b *Book) Renewals(s keel.RevenueSettings) []keel.Renewal {
	var out []keel.Renewal
	for _, k := range b.keys {
		c := b.customers[k]
		out = append(out, keel.CustomerRenewals(c.Customer.ID, c.Subscriptions, s)...)
	}
	return out
}

// Day parses YYYY-MM-DD, failing the test on anything else.
func Day(t TB, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatalf("day %q: %v", s, err)
	}
	return d
}

// Month parses YYYY-MM, failing the test on anything else.
func Month(t TB, s string) keel.Month {
	t.Helper()
	m, err := keel.ParseMonth("month", s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// L is a Line: product's code, quantity, months and start ("" for none).
func L(product string, quantity int64, months int, start string) Line {
	return Line{Product: product, Quantity: quantity, Months: months, Start: start}
}
