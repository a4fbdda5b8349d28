package demo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The demo's sales side: a catalogue, the staff who sell and approve, the
// orders of every demo tenant's life (life.go) and the company's sales and
// marketing spend. Like the events, it is derived from the seed.

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
	// Spend is the sales and marketing spend of each month, for CAC.
	Spend []keel.Spend
}

var (
	industries = []string{"Logistics", "Healthcare", "Retail", "Manufacturing", "Finance", "Education", "Media", "Energy"}
	regions    = []string{"North America", "Europe", "Asia Pacific", "Greater China", "Latin America"}
	firstNames = []string{"Alex", "Bea", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lena", "Mo", "Nia", "Omar", "Pia"}
	lastNames  = []string{"Li", "Meyer", "Okafor", "Rossi", "Silva", "Tanaka", "Wang", "Novak", "Haddad", "Berg"}
)

// Sales returns the demo's sales plan for the tenants of cfg: the
// catalogue, each tenant's customer with the orders of its life (see
// Tenants), and the company's sales and marketing spend for every month
// of the history.
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
		{"seats", "Additional seats", keel.KindAddonTerm, "seat", false, []PricePlan{
			{2000, "USD", keel.PeriodMonth, ago(48)}}},
		{"storage", "Extra storage", keel.KindAddonTerm, "100 GB", false, []PricePlan{
			{2000, "USD", keel.PeriodMonth, ago(48)}}},
		{"sso", "Single sign-on", keel.KindAddonTerm, "instance", false, []PricePlan{
			{9900, "USD", keel.PeriodMonth, ago(48)}}},
		{"onboarding", "Onboarding package", keel.KindAddonStandalone, "package", false, []PricePlan{
			{150000, "USD", keel.PeriodOnce, ago(48)}}},
		{"training", "Training day", keel.KindAddonStandalone, "day", false, []PricePlan{
			{90000, "USD", keel.PeriodOnce, ago(48)}}},
		{"support-plus", "Premium support", keel.KindAddonStandalone, "plan", false, []PricePlan{
			{30000, "USD", keel.PeriodMonth, ago(48)}}},
		{"starter", "Keel Starter (retired)", keel.KindEdition, "seat", true, []PricePlan{
			{900, "USD", keel.PeriodMonth, ago(48)}}},
	}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5a1e5))
	backdated := false
	for i, t := range Tenants(cfg) {
		c := customerPlan(rng, i, t, today)
		// One customer's extra seats, approved back-dated to a start
		// months ago and then voided: the customer never signed for them,
		// and every month since is restated.
		if !backdated && t.Profile == Steady {
			backdated = voidBackdated(&c, t.life, today)
		}
		plan.Customers = append(plan.Customers, c)
	}
	plan.Spend = spendPlan(rand.New(rand.NewPCG(cfg.Seed, 0x5be4d)), today)
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
	if t.Profile == Seasonal {
		c.Industry = "Education"
	}
	domain := strings.ToLower(strings.Fields(t.Name)[0]) + ".example"
	for n := 1 + rng.IntN(3); n > 0; n-- {
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		c.Contacts = append(c.Contacts, keel.Contact{
			Name: first + " " + last, Email: strings.ToLower(first+"."+last) + "@" + domain,
			Title: []string{"CTO", "Head of Operations", "IT Manager", "CFO", "Team Lead"}[rng.IntN(5)],
		})
	}
	if t.life != nil {
		c.Orders = slices.Clone(t.life.orders)
	}
	// Finance is still waiting for part of a few recent payments.
	for k := range c.Orders {
		o := &c.Orders[k]
		if o.Outcome == OutcomeApprove && o.Kind != keel.OrderTrial && today.Sub(o.PaidAt) < 45*24*time.Hour && rng.Float64() < 0.15 {
			o.PaidPart = 0.5
		}
	}
	in, _ := t.life.inService(today)
	// A little of everything else finance sees, for customers in service.
	switch r := rng.Float64(); {
	case !in || t.life.seatsOn(today) == 0:
	case r < 0.03:
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeReject,
			Lines: []LinePlan{{"support-plus", 1, 12, today}}})
	case r < 0.05:
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeDraft,
			Lines: []LinePlan{{"support-plus", 1, 6, today}}})
	case r < 0.07 && t.life.editionOn(today.AddDate(0, 0, -20)) != "":
		at := today.AddDate(0, 0, -20)
		c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeVoid, PaidPart: 1, PaidAt: at,
			Lines: []LinePlan{{"support-plus", 1, 12, at}}})
	}
	return c
}

// voidBackdated adds to c an order of extra seats starting five months ago,
// approved with a payment of that day, then voided, when the customer's
// paid service has run since then; it reports whether it did.
func voidBackdated(c *CustomerPlan, l *life, today time.Time) bool {
	at := startDay(keel.AddMonths(today, -5))
	ed := l.editionOn(at)
	if ed == "" || l.editionOn(today) != ed {
		return false
	}
	// Seats bound to the edition's term, paid for every month of it.
	months, end := 1, l.editionEnd(ed)
	for keel.AddMonths(at, months).Before(end) {
		months++
	}
	c.Orders = append(c.Orders, OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeVoid, PaidPart: 1, PaidAt: at,
		Lines: []LinePlan{{"seats", 10, months, at}}})
	return true
}

// spendPlan is the sales and marketing spend of every month of the
// history, this month's included: it grows with the company, higher in
// the autumn's trade-show season, with a campaign that did not pay off.
func spendPlan(rng *rand.Rand, today time.Time) []keel.Spend {
	first, last := keel.MonthOf(today)-HistoryMonths, keel.MonthOf(today)
	var out []keel.Spend
	for m := first; m <= last; m++ {
		grown := float64(m-first) / float64(last-first)
		amount := 900000 + 3600000*grown // 9,000.00 growing to 45,000.00
		switch m.Mon() {
		case time.September, time.October:
			amount *= 1.25
		case time.December, time.August:
			amount *= 0.8
		}
		if m == last-7 {
			amount *= 1.6 // the campaign
		}
		amount *= 0.9 + 0.2*rng.Float64()
		out = append(out, keel.Spend{Month: m, Currency: "USD", Amount: int64(amount/1000) * 1000})
	}
	return out
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
	return fmt.Sprintf("%d customers, %d orders (%d trial, %d new, %d renewal, %d upgrade, %d addon; %d pending, %d rejected, %d void), spend for %d months",
		len(p.Customers), n, kinds[keel.OrderTrial], kinds[keel.OrderNew], kinds[keel.OrderRenewal], kinds[keel.OrderUpgrade],
		kinds[keel.OrderAddon], outcomes[OutcomePending], outcomes[OutcomeReject], outcomes[OutcomeVoid], len(p.Spend))
}
