package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// replayed is a sales plan played through the domain's rules.
type replayed struct {
	plan     SalesPlan
	subs     [][]keel.Subscription // per customer, as Postgres would hold them
	orders   [][]keel.Order
	statuses map[keel.CustomerStatus]int
	kinds    map[keel.OrderKind]int
}

// replay plays the whole plan through the domain's rules in memory, as
// the stores would — every order created, submitted, approved with its
// payment, voided or rejected at now — so a plan the API would refuse
// fails here first.
func replay(t *testing.T, plan SalesPlan, now time.Time) replayed {
	t.Helper()
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
			v := keel.PriceVersion{ID: id*100 + int64(j), ProductID: id, Amount: pp.Amount, Currency: pp.Currency, Period: pp.Period, EffectiveFrom: keel.Date(pp.From)}
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
	moment := keel.UTC.At(now)

	r := replayed{plan: plan, statuses: map[keel.CustomerStatus]int{}, kinds: map[keel.OrderKind]int{}}
	nextID := int64(0)
	id := func() int64 { nextID++; return nextID }
	for ci, c := range plan.Customers {
		cust := keel.Customer{ID: int64(ci + 1), Name: c.Tenant.Name, TenantID: c.Tenant.ID, Contacts: c.Contacts}
		if err := cust.Validate(); err != nil {
			t.Fatalf("customer %s: %v", c.Tenant.ID, err)
		}
		var subs []keel.Subscription
		var orders []keel.Order
		apply := func(grants []keel.Grant) {
			for _, g := range grants {
				g.ID = id()
				k := -1
				for i := range subs {
					if subs[i].ProductID == g.ProductID {
						k = i
					}
				}
				if k < 0 {
					subs = append(subs, keel.Subscription{ID: id(), CustomerID: cust.ID, ProductID: g.ProductID, ProductKind: cat[g.ProductID].Product.Kind})
					k = len(subs) - 1
				}
				g.SubscriptionID = subs[k].ID
				subs[k].Grants = append(subs[k].Grants, g)
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
			o, err := keel.NewOrder(seller, keel.OrderRequest{Customer: cust, Kind: op.Kind, Lines: lines, Catalogue: cat, Orders: orders}, moment)
			if err != nil {
				t.Fatalf("customer %s (%s) order %d (%s %v): %v", c.Tenant.ID, c.Tenant.Profile, oi, op.Kind, op.Lines, err)
			}
			o.ID = id()
			for i := range o.Lines {
				o.Lines[i].ID = id()
			}
			r.kinds[op.Kind]++
			if op.Outcome != OutcomeDraft {
				grants, err := o.Submit(seller, keel.CustomerState{Orders: orders, Subscriptions: subs, Catalogue: cat}, moment)
				if err != nil {
					t.Fatalf("customer %s (%s) order %d (%s) submit: %v", c.Tenant.ID, c.Tenant.Profile, oi, op.Kind, err)
				}
				apply(grants)
			}
			switch op.Outcome {
			case OutcomeApprove, OutcomeVoid:
				if op.Kind == keel.OrderTrial {
					break
				}
				pay := keel.Payment{Amount: int64(float64(o.Total()) * op.PaidPart), PaidAt: op.PaidAt, Reference: "r"}
				grants, _, err := o.Approve(finance, pay, subs, moment)
				if err != nil {
					t.Fatalf("customer %s (%s) order %d (%s %v) approve: %v", c.Tenant.ID, c.Tenant.Profile, oi, op.Kind, op.Lines, err)
				}
				apply(grants)
				if op.Outcome == OutcomeVoid {
					if err := o.Void(finance, now); err != nil {
						t.Fatal(err)
					}
					at := now.UTC()
					for i := range subs {
						for gi := range subs[i].Grants {
							if g := &subs[i].Grants[gi]; g.OrderID == o.ID {
								g.Void, g.VoidedAt = true, &at
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
		r.statuses[keel.StatusOf(subs, keel.Date(now))]++
		r.subs = append(r.subs, subs)
		r.orders = append(r.orders, orders)
	}
	return r
}

// series is every customer's revenue under the default settings.
func (r replayed) series() []keel.CustomerMonth {
	var rows []keel.CustomerMonth
	for ci, subs := range r.subs {
		rows = append(rows, keel.CustomerSeries(int64(ci+1), subs, keel.DefaultRevenueSettings)...)
	}
	return rows
}

// TestSalesPlanFollowsTheRules replays the plan and checks it has the
// variety it promises: every customer status and order kind.
func TestSalesPlanFollowsTheRules(t *testing.T) {
	plan := Sales(Config{Now: testNow})
	if got := len(plan.Customers); got != 200 {
		t.Fatalf("customers: got %d, want 200", got)
	}
	r := replay(t, plan, testNow)
	t.Logf("statuses %v, kinds %v", r.statuses, r.kinds)
	for _, st := range []keel.CustomerStatus{keel.CustomerTrial, keel.CustomerActive, keel.CustomerRenewed, keel.CustomerChurned} {
		if r.statuses[st] == 0 {
			t.Errorf("no customer is %s; the demo should show every status", st)
		}
	}
	for _, k := range keel.OrderKinds {
		if r.kinds[k] == 0 {
			t.Errorf("no %s order in the plan", k)
		}
	}
	// The service the life says each tenant has is the service its orders
	// grant: events and revenue tell one story.
	today := keel.Date(testNow)
	for ci, c := range plan.Customers {
		for d := today.AddDate(0, 0, -WindowDays); !d.After(today); d = d.AddDate(0, 0, 7) {
			var paid, trial bool
			var seats int64
			for _, s := range r.subs[ci] {
				if !s.PaidAt(d) {
					if s.ProductKind == keel.KindEdition && s.QuantityAt(d) > 0 {
						trial = true // a trial's quantity counts only where no paid term does
					}
					continue
				}
				if s.ProductKind == keel.KindEdition {
					paid = true
				}
				if unit := plan.Products[s.ProductID-1].Unit; unit == "seat" {
					seats += s.QuantityAt(d)
				}
			}
			in, lifeTrial := c.Tenant.life.inService(d)
			if in != (paid || trial) || (in && lifeTrial != (!paid && trial)) {
				t.Fatalf("%s (%s) on %s: life says in service %v (trial %v), orders say paid %v, trial %v",
					c.Tenant.ID, c.Tenant.Profile, d.Format(time.DateOnly), in, lifeTrial, paid, trial)
			}
			if paid {
				if got := c.Tenant.life.seatsOn(d); got != seats {
					t.Fatalf("%s (%s) on %s: life says %d seats, orders %d", c.Tenant.ID, c.Tenant.Profile, d.Format(time.DateOnly), got, seats)
				}
			}
		}
	}
}

// TestSalesPlanTellsTheRevenueStory computes the replayed book's revenue
// with the domain's own rules and checks the dashboard has a story to
// tell: at least 24 months of MRR, growing, with every movement most
// months, reactivations, renewals approved on time, a voided back-dated
// order, and spend for every month.
func TestSalesPlanTellsTheRevenueStory(t *testing.T) {
	plan := Sales(Config{Now: testNow})
	r := replay(t, plan, testNow)
	rows := r.series()
	thisMonth := keel.MonthOf(testNow)
	totals := keel.MonthTotals(rows, thisMonth-HistoryMonths-1, thisMonth)
	byMonth := map[keel.Month]keel.MonthTotal{}
	var months []keel.Month
	for _, m := range totals {
		if m.Currency != "USD" {
			t.Fatalf("a total in %s; the demo sells in USD", m.Currency)
		}
		if m.MRR.Sign() > 0 || len(months) > 0 {
			byMonth[m.Month] = m
			months = append(months, m.Month)
		}
	}
	var table strings.Builder
	withMRR := 0
	count := map[keel.Movement]int{}
	for _, m := range months {
		tot := byMonth[m]
		if tot.MRR.Sign() > 0 {
			withMRR++
		}
		fmt.Fprintf(&table, "%s  mrr %9d  new %7d  exp %6d  react %6d  contr %6d  churn %7d  customers %3d\n", m, tot.MRR.Round()/100,
			tot.New.Round()/100, tot.Expansion.Round()/100, tot.Reactivation.Round()/100, tot.Contraction.Round()/100, tot.Churn.Round()/100, tot.Customers)
		if m > thisMonth-24 {
			for _, mv := range keel.Movements {
				if tot.Of(mv).Sign() > 0 {
					count[mv]++
				}
			}
		}
	}
	t.Logf("the month table (dollars):\n%s", table.String())
	t.Logf("months of the last 24 with each movement: %v", count)
	if withMRR < 24 {
		t.Errorf("%d months with MRR, want at least 24", withMRR)
	}
	// Most months show every movement; reactivation is rarer.
	for mv, want := range map[keel.Movement]int{keel.MoveNew: 20, keel.MoveExpansion: 20, keel.MoveContraction: 12, keel.MoveChurn: 14, keel.MoveReactivation: 5} {
		if count[mv] < want {
			t.Errorf("%s in %d of the last 24 months, want at least %d", mv, count[mv], want)
		}
	}
	// A growing company: MRR now well above a year and two years ago.
	now, yearAgo, twoAgo := byMonth[thisMonth].MRR.Round(), byMonth[thisMonth-12].MRR.Round(), byMonth[thisMonth-24].MRR.Round()
	if !(now > yearAgo*6/5 && yearAgo > twoAgo*6/5) {
		t.Errorf("MRR %d two years ago, %d a year ago, %d now: want growth of over a fifth a year", twoAgo, yearAgo, now)
	}
	// Churn rate between 1 and 4 % of customers a month over the last year.
	var churned, paying int64
	for m := thisMonth - 12; m < thisMonth; m++ {
		churned += byMonth[m].ChurnedCustomers
		paying += byMonth[m-1].Customers
	}
	if rate := float64(churned) / float64(paying); rate < 0.01 || rate > 0.04 {
		t.Errorf("monthly customer churn over the last year %.1f %%, want 1 to 4 %%", 100*rate)
	}

	// Renewals count as approved on time: the payment's day is the
	// approval day, back-dated as finance would have entered it.
	var due, renewed int
	for ci, subs := range r.subs {
		for _, rn := range keel.CustomerRenewals(int64(ci+1), subs, keel.DefaultRevenueSettings) {
			if rn.EndsOn.After(keel.Date(testNow)) {
				continue
			}
			due++
			if rn.Renewed {
				renewed++
			}
		}
	}
	t.Logf("renewals due %d, renewed %d", due, renewed)
	if due == 0 || float64(renewed)/float64(due) < 0.7 {
		t.Errorf("%d of %d renewals due renewed; want most", renewed, due)
	}

	// The voided back-dated order: approved for a start months ago, then
	// voided, so the months since are restated.
	backdated := 0
	for ci, c := range plan.Customers {
		for oi, o := range c.Orders {
			if o.Outcome == OutcomeVoid && testNow.Sub(o.Lines[0].Start) > 90*24*time.Hour && r.orders[ci][oi].Status == keel.OrderVoid {
				backdated++
			}
		}
	}
	if backdated == 0 {
		t.Error("no order voided after being approved back-dated by months")
	}

	// Spend for every month with MRR, so CAC has a month's spend each month.
	spend := map[keel.Month]int64{}
	for _, s := range plan.Spend {
		if err := s.Validate(); err != nil {
			t.Fatalf("spend %s: %v", s.Month, err)
		}
		spend[s.Month] = s.Amount
	}
	for _, m := range months {
		if spend[m] <= 0 {
			t.Errorf("no spend in %s", m)
		}
	}

	// Every kind of event the story names happened.
	var upgrades, seatAddons, fewerSeats, downgrades, oneOff, monthly int
	for _, c := range plan.Customers {
		editions := map[string]int64{}
		for _, o := range c.Orders {
			if o.Outcome != OutcomeApprove {
				continue
			}
			for _, l := range o.Lines {
				switch {
				case l.Product == "seats" && o.Kind == keel.OrderAddon:
					seatAddons++
				case l.Product == "onboarding" || l.Product == "training":
					oneOff++
				case o.Kind == keel.OrderUpgrade:
					upgrades++
				case o.Kind == keel.OrderRenewal && editions[l.Product] > l.Quantity:
					fewerSeats++
				case o.Kind == keel.OrderNew && len(editions) > 0 && editions[l.Product] == 0 && isEdition(plan, l.Product):
					downgrades++
				}
				if isEdition(plan, l.Product) {
					if l.Months == 1 && o.Kind == keel.OrderNew {
						monthly++
					}
					editions[l.Product] = l.Quantity
				}
			}
		}
	}
	t.Logf("upgrades %d, seat add-ons %d, renewals with fewer seats %d, edition downgrades %d, one-off items %d, monthly plans %d",
		upgrades, seatAddons, fewerSeats, downgrades, oneOff, monthly)
	for what, n := range map[string]int{"upgrade": upgrades, "seat add-on": seatAddons, "renewal with fewer seats": fewerSeats,
		"move to a lower edition": downgrades, "one-off item": oneOff, "monthly plan": monthly} {
		if n == 0 {
			t.Errorf("no %s in the plan", what)
		}
	}
}

func isEdition(plan SalesPlan, code string) bool {
	for _, p := range plan.Products {
		if p.Code == code {
			return p.Kind == keel.KindEdition
		}
	}
	return false
}

func TestSalesPlanIsDeterministic(t *testing.T) {
	a, b := Sales(Config{Now: testNow}).Summary(), Sales(Config{Now: testNow}).Summary()
	if a != b {
		t.Fatalf("same seed, different plans:\n%s\n%s", a, b)
	}
	if c := Sales(Config{Now: testNow, Seed: 2}).Summary(); c == a {
		t.Errorf("another seed gave the same plan: %s", c)
	}
}

// A customer that comes back buys anew only after its earlier service
// ended: the product refuses a new order of a product still in service
// (at 10,000 customers, one whose upgrade had moved its term's end past
// the day it left came back before then, and the load stopped there).
func TestSalesNewOrdersDoNotOverlapService(t *testing.T) {
	for _, now := range []time.Time{time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC), time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC)} {
		plan := Sales(Config{Tenants: 10000, Seed: 1, Now: now})
		checked := 0
		for _, c := range plan.Customers {
			until := map[string]time.Time{} // product → end of its service so far
			for _, o := range c.Orders {
				if o.Outcome != OutcomeApprove {
					continue
				}
				for _, l := range o.Lines {
					end := keel.AddMonths(l.Start, l.Months)
					if o.Kind == keel.OrderNew {
						checked++
						if l.Start.Before(until[l.Product]) {
							t.Fatalf("now %s: customer %s: new order of %s starting %s, in service until %s",
								now.Format(time.DateOnly), c.Tenant.ID, l.Product, l.Start.Format(time.DateOnly), until[l.Product].Format(time.DateOnly))
						}
					}
					if end.After(until[l.Product]) {
						until[l.Product] = end
					}
				}
			}
		}
		if checked < 1000 {
			t.Fatalf("only %d new orders checked", checked)
		}
	}
}
