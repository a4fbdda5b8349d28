package demo

import (
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// TestSalesPlanFollowsTheRules plays the whole plan through the domain's
// rules in memory, as the stores would, so a plan the API would refuse
// fails here first; then it checks the plan has the variety it promises.
func TestSalesPlanFollowsTheRules(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	plan := Sales(Config{Now: now})
	if got := len(plan.Customers); got != 200 {
		t.Fatalf("customers: got %d, want 200", got)
	}

	cat := map[int64]keel.CatalogueEntry{}
	byCode := map[string]int64{}
	for i, p := range plan.Products {
		id := int64(i + 1)
		prod := keel.Product{ID: id, Code: p.Code, Name: p.Name, Kind: p.Kind, Unit: p.Unit, Status: keel.ProductEnabled}
		if err := prod.Validate(); err != nil {
			t.Fatalf("product %s: %v", p.Code, err)
		}
		var versions []keel.PriceVersion
		for j, pp := range p.Prices {
			v := keel.PriceVersion{ID: id*100 + int64(j), ProductID: id, Amount: pp.Amount, Currency: pp.Currency, Period: pp.Period, EffectiveFrom: pp.From}
			closes, err := prod.AddPrice(versions, v)
			if err != nil {
				t.Fatalf("product %s price %d: %v", p.Code, j, err)
			}
			if closes != nil {
				versions[len(versions)-1] = *closes
			}
			versions = append(versions, v)
		}
		if p.Disabled {
			prod.Status = keel.ProductDisabled
		}
		cat[id] = keel.CatalogueEntry{Product: prod, Versions: versions}
		byCode[p.Code] = id
	}

	staff := make([]keel.Employee, len(Staff))
	for i, s := range Staff {
		staff[i] = keel.Employee{ID: int64(i + 1), Email: s.Email, Name: s.Name, Roles: s.Roles, Status: keel.EmployeeActive}
		if err := staff[i].Validate(); err != nil {
			t.Fatalf("staff %s: %v", s.Email, err)
		}
	}
	finance := staff[StaffFinance]

	statuses := map[keel.CustomerStatus]int{}
	kinds := map[keel.OrderKind]int{}
	for ci, c := range plan.Customers {
		cust := keel.Customer{ID: int64(ci + 1), Name: c.Tenant.Name, TenantID: c.Tenant.ID, Contacts: c.Contacts}
		if err := cust.Validate(); err != nil {
			t.Fatalf("customer %s: %v", c.Tenant.ID, err)
		}
		subs := map[int64]*keel.Subscription{}
		var orders []keel.Order
		list := func() []keel.Subscription {
			var out []keel.Subscription
			for _, s := range subs {
				out = append(out, *s)
			}
			return out
		}
		apply := func(o keel.Order, grants []keel.Grant) {
			for _, g := range grants {
				s := subs[g.ProductID]
				if s == nil {
					s = &keel.Subscription{ID: g.ProductID, CustomerID: cust.ID, ProductID: g.ProductID, ProductKind: cat[g.ProductID].Product.Kind}
					subs[g.ProductID] = s
				}
				s.Grants = append(s.Grants, g)
			}
		}
		for oi, op := range c.Orders {
			seller := staff[c.Sales]
			if op.SoldBy == 1 {
				seller = staff[c.CSM]
			}
			var lines []keel.LineRequest
			for _, l := range op.Lines {
				start := l.Start
				lines = append(lines, keel.LineRequest{ProductID: byCode[l.Product], Quantity: l.Quantity, Months: l.Months, Start: &start})
			}
			o, err := keel.NewOrder(seller, keel.OrderRequest{Customer: cust, Kind: op.Kind, Lines: lines, Catalogue: cat, Orders: orders}, keel.UTC.At(now))
			if err != nil {
				t.Fatalf("customer %s order %d (%s): %v", c.Tenant.ID, oi, op.Kind, err)
			}
			o.ID = int64(ci*100 + oi + 1)
			kinds[op.Kind]++
			if op.Outcome != OutcomeDraft {
				grants, err := o.Submit(seller, keel.CustomerState{Orders: orders, Subscriptions: list(), Catalogue: cat}, keel.UTC.At(now))
				if err != nil {
					t.Fatalf("customer %s order %d (%s) submit: %v", c.Tenant.ID, oi, op.Kind, err)
				}
				apply(o, grants)
			}
			switch op.Outcome {
			case OutcomeApprove, OutcomeVoid:
				if op.Kind == keel.OrderTrial {
					break
				}
				pay := keel.Payment{Amount: int64(float64(o.Total()) * op.PaidPart), PaidAt: op.PaidAt, Reference: "r"}
				grants, _, err := o.Approve(finance, pay, list(), keel.UTC.At(now))
				if err != nil {
					t.Fatalf("customer %s order %d (%s) approve: %v", c.Tenant.ID, oi, op.Kind, err)
				}
				apply(o, grants)
				if op.Outcome == OutcomeVoid {
					if err := o.Void(finance, now); err != nil {
						t.Fatal(err)
					}
					for _, s := range subs {
						for gi := range s.Grants {
							if s.Grants[gi].OrderID == o.ID {
								s.Grants[gi].Void = true
							}
						}
					}
				}
			case OutcomeReject:
				if err := o.Reject(finance, "later", now); err != nil {
					t.Fatal(err)
				}
			}
			orders = append(orders, o)
		}
		st := keel.StatusOf(list(), now)
		statuses[st]++
		if c.Tenant.Profile == Stopped && st == keel.CustomerChurned {
			// Churned customers stopped in the last few months, not years ago.
			var last time.Time
			for _, s := range subs {
				if e := s.End(); e.After(last) {
					last = e
				}
			}
			if now.Sub(last) > 100*24*time.Hour {
				t.Errorf("customer %s churned %s ago; want within about three months", c.Tenant.ID, now.Sub(last))
			}
		}
	}
	t.Logf("statuses %v, kinds %v", statuses, kinds)
	for _, st := range []keel.CustomerStatus{keel.CustomerTrial, keel.CustomerActive, keel.CustomerRenewed, keel.CustomerChurned} {
		if statuses[st] == 0 {
			t.Errorf("no customer is %s; the demo should show every status", st)
		}
	}
	for _, k := range []keel.OrderKind{keel.OrderTrial, keel.OrderNew, keel.OrderRenewal, keel.OrderUpgrade, keel.OrderAddon} {
		if kinds[k] == 0 {
			t.Errorf("no %s order in the plan", k)
		}
	}
}

func TestSalesPlanIsDeterministic(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, b := Sales(Config{Now: now}).Summary(), Sales(Config{Now: now}).Summary()
	if a != b {
		t.Fatalf("same seed, different plans:\n%s\n%s", a, b)
	}
	if c := Sales(Config{Now: now, Seed: 2}).Summary(); c == a {
		t.Errorf("another seed gave the same plan: %s", c)
	}
}
