package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The demo's sales side: a catalogue, the staff who sell and approve, and
// two to three years of orders for every demo tenant's customer — trials,
// first purchases, renewals, upgrades, add-ons, some customers who churn
// and a few who come back. Like the events, it is derived from the seed.

// StaffPlan is a demo employee.
type StaffPlan struct {
	Email string
	Name  string
	Roles []keel.Role
}

// The demo staff who act for the company as a whole.
const (
	StaffAdmin   = 0
	StaffFinance = 5
)

// StaffPassword is every demo employee's password, so that the console can
// be tried at once. It is set only when the demo creates the employee.
const StaffPassword = "keel-demo-password"

// Staff are the demo's employees; customers are shared among the two
// sellers and the two CSMs.
var Staff = []StaffPlan{
	{"admin@keel.example", "Ada Admin", []keel.Role{keel.RoleAdmin}},
	{"sales1@keel.example", "Sam Seller", []keel.Role{keel.RoleSales}},
	{"sales2@keel.example", "Sia Seller", []keel.Role{keel.RoleSales}},
	{"csm1@keel.example", "Cai Success", []keel.Role{keel.RoleCSM}},
	{"csm2@keel.example", "Cleo Success", []keel.Role{keel.RoleCSM}},
	{"finance@keel.example", "Fin Ledger", []keel.Role{keel.RoleFinance}},
	{"ceo@keel.example", "Lee Leader", []keel.Role{keel.RoleLeadership}},
}

// ProductPlan is a demo product with its price history.
type ProductPlan struct {
	Code, Name string
	Kind       keel.ProductKind
	Unit       string
	Disabled   bool
	Prices     []PricePlan
}

// PricePlan is one price version.
type PricePlan struct {
	Amount   int64
	Currency string
	Period   keel.Period
	From     time.Time
}

// OrderOutcome is what the demo does with an order after creating it.
type OrderOutcome string

// The outcomes.
const (
	OutcomeApprove OrderOutcome = "approve" // submit, then finance approves
	OutcomeVoid    OrderOutcome = "void"    // approved, then voided
	OutcomeReject  OrderOutcome = "reject"  // submitted, finance rejects
	OutcomePending OrderOutcome = "pending" // submitted, waiting for finance
	OutcomeDraft   OrderOutcome = "draft"   // created, not submitted
)

// LinePlan is one order line, naming its product by code.
type LinePlan struct {
	Product  string
	Quantity int64
	Months   int
	Start    time.Time
}

// OrderPlan is one order of a customer's history.
type OrderPlan struct {
	Kind     keel.OrderKind
	Lines    []LinePlan
	Outcome  OrderOutcome
	PaidPart float64 // share of the total paid (1 = in full)
	PaidAt   time.Time
	SoldBy   int // index into the customer's owners: 0 sales owner, 1 CSM owner
}

// CustomerPlan is one demo customer and its order history, oldest first.
type CustomerPlan struct {
	Tenant   Tenant
	Industry string
	Region   string
	Contacts []keel.Contact
	Sales    int // index into Staff
	CSM      int // index into Staff
	Orders   []OrderPlan
}

// SalesPlan is the whole sales side of the demo.
type SalesPlan struct {
	Products  []ProductPlan
	Customers []CustomerPlan
}

var (
	industries = []string{"Logistics", "Healthcare", "Retail", "Manufacturing", "Finance", "Education", "Media", "Energy"}
	regions    = []string{"North America", "Europe", "Asia Pacific", "Greater China", "Latin America"}
	firstNames = []string{"Alex", "Bea", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lena", "Mo", "Nia", "Omar", "Pia"}
	lastNames  = []string{"Li", "Meyer", "Okafor", "Rossi", "Silva", "Tanaka", "Wang", "Novak", "Haddad", "Berg"}
)

// Sales returns the demo's sales plan for the tenants of cfg.
func Sales(cfg Config) SalesPlan {
	cfg = cfg.withDefaults()
	today := keel.Date(cfg.Now)
	ago := func(months int) time.Time { return today.AddDate(0, -months, 0) }
	plan := SalesPlan{Products: []ProductPlan{
		{"basic", "Keel Basic", keel.KindEdition, "seat", false, []PricePlan{
			{1200, "USD", keel.PeriodMonth, ago(48)}, {1500, "USD", keel.PeriodMonth, ago(14)}}},
		{"pro", "Keel Pro", keel.KindEdition, "seat", false, []PricePlan{
			{2500, "USD", keel.PeriodMonth, ago(48)}, {2900, "USD", keel.PeriodMonth, ago(14)}}},
		{"enterprise", "Keel Enterprise", keel.KindEdition, "seat", false, []PricePlan{
			{48000, "USD", keel.PeriodYear, ago(48)}, {54000, "USD", keel.PeriodYear, ago(8)}}},
		{"storage", "Extra storage", keel.KindAddonTerm, "100 GB", false, []PricePlan{
			{2000, "USD", keel.PeriodMonth, ago(48)}}},
		{"sso", "Single sign-on", keel.KindAddonTerm, "instance", false, []PricePlan{
			{9900, "USD", keel.PeriodMonth, ago(48)}}},
		{"onboarding", "Onboarding package", keel.KindAddonStandalone, "package", false, []PricePlan{
			{150000, "USD", keel.PeriodOnce, ago(48)}}},
		{"support-plus", "Premium support", keel.KindAddonStandalone, "plan", false, []PricePlan{
			{30000, "USD", keel.PeriodMonth, ago(48)}}},
		{"starter", "Keel Starter (retired)", keel.KindEdition, "seat", true, []PricePlan{
			{900, "USD", keel.PeriodMonth, ago(48)}}},
	}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5a1e5))
	for i, t := range Tenants(cfg) {
		plan.Customers = append(plan.Customers, customerPlan(rng, i, t, today))
	}
	return plan
}

func customerPlan(rng *rand.Rand, i int, t Tenant, today time.Time) CustomerPlan {
	c := CustomerPlan{
		Tenant:   t,
		Industry: industries[rng.IntN(len(industries))],
		Region:   regions[rng.IntN(len(regions))],
		Sales:    1 + i%2,
		CSM:      3 + (i/2)%2,
	}
	domain := strings.ToLower(strings.Fields(t.Name)[0]) + ".example"
	for n := 1 + rng.IntN(3); n > 0; n-- {
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		c.Contacts = append(c.Contacts, keel.Contact{
			Name: first + " " + last, Email: strings.ToLower(first+"."+last) + "@" + domain,
			Title: []string{"CTO", "Head of Operations", "IT Manager", "CFO", "Team Lead"}[rng.IntN(5)],
		})
	}

	edition := []string{"basic", "basic", "pro", "pro", "enterprise"}[rng.IntN(5)]
	seats := int64(t.Seats)
	if t.Profile == Growing && rng.Float64() < 0.3 {
		// Still trying the product: a trial that started days ago.
		c.Orders = []OrderPlan{{Kind: keel.OrderTrial, Outcome: OutcomeApprove,
			Lines: []LinePlan{{edition, min(seats, 10), 1, today.AddDate(0, 0, -3-rng.IntN(20))}}}}
		return c
	}
	// The first purchase lies 4 to 36 months back; older customers renew.
	start := today.AddDate(0, -(4 + rng.IntN(33)), -rng.IntN(28))
	// Customers who stopped using the product mostly let their last term
	// lapse a little after they stopped: they churned.
	churns := t.Profile == Stopped && rng.Float64() < 0.7
	lapse := today.AddDate(0, 0, -t.StoppedDaysAgo+10+rng.IntN(15))
	if churns {
		start = lapse.AddDate(0, -12*(1+rng.IntN(3)), 0)
	}
	if rng.Float64() < 0.7 {
		trial := start.AddDate(0, -1, 0)
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderTrial, Outcome: OutcomeApprove,
			Lines: []LinePlan{{edition, min(seats, 10), 1, trial}}})
	}
	first := OrderPlan{Kind: keel.OrderNew, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: start,
		Lines: []LinePlan{{edition, seats, 12, start}}}
	if rng.Float64() < 0.15 {
		first.Lines = append(first.Lines, LinePlan{"onboarding", 1, 1, start})
	}
	c.Orders = append(c.Orders, first)

	reactivates := !churns && rng.Float64() < 0.04
	end := start.AddDate(0, 12, 0)
	upgraded, addon := false, false
	for term := 1; ; term++ {
		// A mid-term upgrade for growing customers on a lower edition.
		if !upgraded && t.Profile == Growing && edition != "enterprise" && term == 1 {
			at := end.AddDate(0, -6, 0)
			if at.Before(today) {
				next := map[string]string{"basic": "pro", "pro": "enterprise"}[edition]
				edition, upgraded = next, true
				c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderUpgrade, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: at,
					Lines: []LinePlan{{edition, seats, 12, at}}})
				end = at.AddDate(0, 12, 0)
			}
		}
		// Extra storage for a third of the customers, for the rest of the term.
		if !addon && rng.Float64() < 0.33 {
			at := end.AddDate(0, -3-rng.IntN(6), 0)
			if at.Before(today) {
				addon = true
				c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: at,
					Lines: []LinePlan{{"storage", 1 + int64(rng.IntN(5)), 6, at}}})
			}
		}
		if churns && !end.Before(lapse) {
			break // the last term lapsed: no renewal
		}
		if !end.Before(today.AddDate(0, 1, 0)) {
			break // the current term runs on; renewal is not due yet
		}
		if reactivates && term == 1 && end.Before(today.AddDate(0, -6, 0)) {
			// Gone for three months, then back.
			back := end.AddDate(0, 3, 0)
			c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderNew, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: back,
				Lines: []LinePlan{{edition, seats, 12, back}}})
			end = back.AddDate(0, 12, 0)
			continue
		}
		if t.Profile == Growing {
			seats += seats / 4
		}
		renewal := OrderPlan{Kind: keel.OrderRenewal, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: end.AddDate(0, 0, -7),
			Lines: []LinePlan{{edition, seats, 12, end}}, SoldBy: 1}
		if renewal.PaidAt.After(today) {
			// Due soon: sent to finance, not paid yet.
			renewal.Outcome, renewal.PaidAt = OutcomePending, time.Time{}
		} else if rng.Float64() < 0.1 {
			renewal.PaidPart = 0.5 // paid in part: the rest is outstanding
		}
		c.Orders = append(c.Orders, renewal)
		if renewal.Outcome == OutcomePending {
			break
		}
		end = end.AddDate(0, 12, 0)
	}

	// A little of everything else finance sees.
	switch r := rng.Float64(); {
	case r < 0.03:
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeReject,
			Lines: []LinePlan{{"support-plus", 1, 12, today}}})
	case r < 0.05:
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeDraft,
			Lines: []LinePlan{{"support-plus", 1, 6, today}}})
	case r < 0.07 && !churns:
		at := today.AddDate(0, 0, -20)
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeVoid, PaidPart: 1, PaidAt: at,
			Lines: []LinePlan{{"support-plus", 1, 12, at}}})
	}
	return c
}

// Summary counts a plan's orders by kind and outcome, for the demo's report.
func (p SalesPlan) Summary() string {
	kinds := map[keel.OrderKind]int{}
	outcomes := map[OrderOutcome]int{}
	n := 0
	for _, c := range p.Customers {
		for _, o := range c.Orders {
			kinds[o.Kind]++
			outcomes[o.Outcome]++
			n++
		}
	}
	return fmt.Sprintf("%d customers, %d orders (%d trial, %d new, %d renewal, %d upgrade, %d addon; %d pending, %d rejected, %d void)",
		len(p.Customers), n, kinds[keel.OrderTrial], kinds[keel.OrderNew], kinds[keel.OrderRenewal], kinds[keel.OrderUpgrade],
		kinds[keel.OrderAddon], outcomes[OutcomePending], outcomes[OutcomeReject], outcomes[OutcomeVoid])
}
