// Package demo makes realistic demo data for Keel, written through the real
// paths: 200 customers with three years of sales history through the JSON
// API (Sales, LoadSales), a year of their product usage through the
// collector (Tenants, Day), and the company's monthly sales and marketing
// spend. Everything is derived from a seed, event ids included: the same
// seed gives the same history, and sending it twice stores it once.
//
// Sales and usage tell one story. Each tenant is dealt a Profile in fixed
// shares and lives it (life.go): the orders it places, the service they
// grant and how many of its people use the product are planned together,
// so a tenant sends events only while it has a trial or a paid edition, as
// many users as its seats and its story allow, and seat snapshots that
// follow what it bought.
//
// The revenue story (HistoryMonths = 38 months of sales): a company
// growing from one customer to about 145 paying ones and 100,000 USD of
// MRR — up three quarters in the year before last, a quarter in the last
// — with a few bad months. Monthly plans (about one customer
// in eight, small teams), annual ones and two-year enterprise terms; 70 %
// of first purchases after a trial; upgrades mid-term; seat, storage,
// single sign-on and premium support add-ons; renewals with more seats or
// fewer, add-ons dropped, and moves to a lower edition when a term ends;
// churn, and customers who come back (after a lapse, or each September
// for schools); one-off onboarding and training; payments back-dated to
// the day they were made, so renewals count as approved on time, a few
// recent ones paid in part; renewals waiting for finance, rejected and
// draft orders; and one order of extra seats approved back-dated five
// months and then voided, which restates the months since. Every movement
// of the MRR bridge appears in most of the last 24 months (reactivation in
// about a third of them).
//
// The churn story, for the health backtest (WindowDays = 365 days of
// events): of 200 customers 28 (14 %) churn inside the window — 22
// Churned, whose usage falls months before the end of a term they cannot
// cancel (from 130 to 240 days before for most: users leave, the rest log
// in less and use fewer features, seats are removed; one in nine, and
// month-to-month customers, only 35 to 90 days before), 3 Silent ones that
// leave without warning (a budget cut), the summer pauses of 2 schools and
// a returning customer's lapse. As noise, 18 customers dip for weeks and
// recover, and 9 paying customers are declining or have stopped now, with
// their renewal a few months off. Estimated with the domain's own scoring
// and warning rules at their defaults (backtest_test.go), a backtest from
// day 120 of the window finds about 25 churns, recall 68–77 % at a 90-day
// lead, AUC about 0.93 over the days in paid service (0.89 counting the 90
// days scored after a churn), and about 4 new warnings per CSM per week.
//
// A year of events would take three times as long to load as 120 days, so
// days further back than 90 carry fewer page views, feature uses and
// integration calls (30 % a year back, see detailOn); logins and users are
// never thinned, so every activity figure stays true to the story.
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
)

// Config sizes the demo.
type Config struct {
	Tenants int       // default 200
	Days    int       // days of events up to and including today; default WindowDays
	Seed    uint64    // default 1
	Now     time.Time // the end of history; default time.Now()
	// Scale multiplies the number of seats (and so events); default 1.
	Scale float64
}

func (c Config) withDefaults() Config {
	if c.Tenants == 0 {
		c.Tenants = 200
	}
	if c.Days == 0 {
		c.Days = WindowDays
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	c.Now = c.Now.UTC()
	return c
}

// Profile is a tenant's story over the demo's history: what it buys and
// how its people use the product.
type Profile string

// The profiles. Tenants deals them out in these shares (of 200 tenants,
// the counts in brackets), the rest Steady.
const (
	Steady    Profile = "steady"     // uses the product evenly, renews (40 %, 80)
	Growing   Profile = "growing"    // more users every year: seats, add-ons, upgrades (15 %, 30)
	Dip       Profile = "dip"        // usage fell for weeks and recovered; some cut seats at renewal (9 %, 18)
	Declining Profile = "declining"  // usage falling now, still paying, renewal in 1–5 months (3 %, 6)
	Stopped   Profile = "stopped"    // stopped using it 20–60 days ago, still paying (1.5 %, 3)
	Churned   Profile = "churned"    // usage fell in the months before its service ended in the window, and it left (11 %, 22)
	Silent    Profile = "silent"     // left in the window without warning: usage normal to the end (1.5 %, 3)
	Lapsed    Profile = "lapsed"     // left before the window: revenue history only (6 %, 12)
	Returned  Profile = "returned"   // left, and came back months later (4 %, 8)
	Seasonal  Profile = "seasonal"   // a school on a monthly plan, paused each summer (1 %, 2)
	Trialing  Profile = "trialing"   // on a trial now (5 %, 10)
	TrialOnly Profile = "trial_only" // tried the product once and did not buy (3 %, 6)
)

var profileShares = []struct {
	p     Profile
	share float64
}{
	{Growing, 0.15}, {Dip, 0.09}, {Declining, 0.03}, {Stopped, 0.015}, {Churned, 0.11}, {Silent, 0.015},
	{Lapsed, 0.06}, {Returned, 0.04}, {Seasonal, 0.01}, {Trialing, 0.05}, {TrialOnly, 0.03},
}

// Tenant is one demo customer's product tenant.
type Tenant struct {
	ID   string
	Name string
	// Seats is the customer's size: the seats it buys (a growing customer
	// starts with half and grows into them).
	Seats   int
	Profile Profile
	// Engagement is the share of its users who work in the product every
	// weekday; the others come now and then.
	Engagement float64
	// StoppedDaysAgo is set for Stopped tenants.
	StoppedDaysAgo int
	// APIClient tenants also call the API from an integration.
	APIClient bool
	features  []string
	life      *life
}

var features = []string{
	"dashboard", "export", "reports", "search", "import", "sharing",
	"alerts", "api_keys", "billing", "integrations", "automation", "audit_log",
}

// Tenants returns the demo tenants, each with its life: the orders Sales
// writes and the usage Day sends follow the same story.
func Tenants(cfg Config) []Tenant {
	cfg = cfg.withDefaults()
	today := keel.Date(cfg.Now)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7e4a))
	// The profiles are dealt, not drawn, so that every demo has its
	// shares whatever the seed.
	deck := make([]Profile, cfg.Tenants)
	n := 0
	for _, ps := range profileShares {
		for k := int(math.Round(ps.share * float64(cfg.Tenants))); k > 0 && n < len(deck); k-- {
			deck[n] = ps.p
			n++
		}
	}
	for ; n < len(deck); n++ {
		deck[n] = Steady
	}
	rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	out := make([]Tenant, cfg.Tenants)
	for i := range out {
		t := Tenant{
			ID:      fmt.Sprintf("t-%d", 1001+i),
			Name:    companyName(rng, i),
			Profile: deck[i],
		}
		// Seats follow a long tail: most customers are small, a few large.
		seats := math.Exp(rng.NormFloat64()*0.9 + 3.0)
		t.Seats = max(3, min(400, int(seats*cfg.Scale)))
		t.Engagement = 0.55 + rng.Float64()*0.4
		if t.Seats < 12 {
			// A small team that pays for a tool works in it every day.
			t.Engagement = 0.85 + rng.Float64()*0.15
		}
		if t.Profile == Stopped {
			t.StoppedDaysAgo = 20 + rng.IntN(41)
		}
		t.APIClient = rng.Float64() < 0.3
		// Each tenant leans on a few features.
		perm := rng.Perm(len(features))
		for _, j := range perm[:5+rng.IntN(6)] {
			t.features = append(t.features, features[j])
		}
		// A generator of its own per tenant: one tenant's story does not
		// shift when another's changes.
		t.life = planLife(rand.New(rand.NewPCG(cfg.Seed, 0x11fe<<32|uint64(i))), &t, today)
		out[i] = t
	}
	return out
}

// weekday is the rhythm of a working week.
func weekday(d time.Weekday) float64 {
	switch d {
	case time.Saturday:
		return 0.12
	case time.Sunday:
		return 0.08
	case time.Monday:
		return 0.95
	case time.Friday:
		return 0.85
	}
	return 1
}

// Day generates one day of events for every tenant in service that day,
// calling emit for each in time order per user. Day 0 is the oldest; day
// Days-1 is today, whose events stop at cfg.Now. A tenant sends nothing
// before its first trial, between a churn and its return, or after it
// left; while in service it sends a seat snapshot, its users' sessions —
// as many users as its life's usage level allows — and, for API clients,
// integration calls.
func Day(cfg Config, tenants []Tenant, day int, emit func(client.Event) error) error {
	cfg = cfg.withDefaults()
	today := cfg.Now.Truncate(24 * time.Hour)
	daysAgo := cfg.Days - 1 - day
	date := today.AddDate(0, 0, -daysAgo)
	for ti, t := range tenants {
		seats, level, use := int64(t.Seats), 1.0, 1.0
		if l := t.life; l != nil {
			in, trial := l.inService(date)
			if !in {
				continue
			}
			seats, level, use = l.seatsOn(date), l.level(date), l.use
			if trial {
				level *= 0.7 // evaluating, not yet working in it
			}
		}
		// A generator per tenant and date: the same seed always yields the
		// same events, whatever window of days is generated.
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ti)<<20|uint64(date.Unix()/86400)))
		seq := 0
		id := func() string {
			seq++
			return fmt.Sprintf("demo-%d-%s-%s-%d", cfg.Seed, t.ID, date.Format("20060102"), seq)
		}
		send := func(ev client.Event) error {
			if ev.Time.After(cfg.Now) {
				return nil
			}
			ev.ID, ev.Tenant = id(), t.ID
			return emit(ev)
		}
		lv := min(level, 1)
		// The seats the product has set up: when people stop using it, an
		// admin removes some of them.
		snapshot := seats
		if lv < 1 {
			snapshot = max(1, int64(math.Round(float64(seats)*(0.5+0.5*lv))))
		}
		if err := send(client.Event{Type: ingest.TypeSeatSnapshot, Time: date.Add(5 * time.Minute),
			Props: map[string]any{"seats": snapshot}}); err != nil {
			return err
		}
		// A decline loses users first (they stop coming at all), then
		// frequency and breadth among those who stay.
		// The last few people of a fading customer may be gone too.
		users := int(math.Round(float64(seats) * use * lv))
		if users == 0 && lv >= 0.25 && seats > 0 {
			users = 1
		}
		rhythm := weekday(date.Weekday()) * (0.75 + 0.25*lv)
		detail := detailOn(daysAgo)
		feats := t.features[:max(1, int(math.Ceil(float64(len(t.features))*(0.35+0.65*lv))))]
		for u := 1; u <= users; u++ {
			// Each user keeps their habits: most work in it daily, some
			// now and then; a few sign in twice a day. The first users —
			// the team that chose the product — are daily, and the last to
			// go.
			daily, twice := userHabits(cfg.Seed, ti, u)
			p := 0.3
			if daily < t.Engagement || u <= max(1, int(seats)/10) {
				p = 0.92
			}
			if rng.Float64() >= p*rhythm {
				continue
			}
			user := fmt.Sprintf("u-%d", u)
			// A working session: start between 07:00 and 11:00 UTC.
			at := date.Add(7*time.Hour + time.Duration(rng.IntN(4*3600))*time.Second)
			logins := 1
			if twice < 0.2 {
				logins = 2
			}
			for l := 0; l < logins; l++ {
				if err := send(client.Event{Type: ingest.TypeLogin, User: user, Time: at,
					Props: map[string]any{"method": pick(rng, []string{"password", "sso", "sso", "google"})}}); err != nil {
					return err
				}
				for n := thin(1+rng.IntN(4), detail, 0); n > 0; n-- {
					at = at.Add(time.Duration(30+rng.IntN(900)) * time.Second)
					if err := send(client.Event{Type: ingest.TypePageView, User: user, Time: at,
						Props: map[string]any{"path": "/" + pick(rng, feats)}}); err != nil {
						return err
					}
				}
				for n := thin(1+rng.IntN(5), detail, 1); n > 0; n-- {
					at = at.Add(time.Duration(60+rng.IntN(1800)) * time.Second)
					if err := send(client.Event{Type: ingest.TypeFeatureUsed, User: user, Time: at,
						Props: map[string]any{"feature": pick(rng, feats)}}); err != nil {
						return err
					}
				}
				if rng.Float64() < 0.4*detail {
					at = at.Add(time.Duration(300+rng.IntN(3600)) * time.Second)
					if err := send(client.Event{Type: ingest.TypeLogout, User: user, Time: at}); err != nil {
						return err
					}
				}
				at = at.Add(time.Duration(2+rng.IntN(4)) * time.Hour)
			}
		}
		if t.APIClient && lv > 0 {
			for n := int(float64(5+rng.IntN(20)) * lv * detail); n > 0; n-- {
				at := date.Add(time.Duration(rng.IntN(86400)) * time.Second)
				if err := send(client.Event{Type: ingest.TypeAPICall, Time: at,
					Props: map[string]any{"endpoint": pick(rng, []string{"/v2/records", "/v2/search", "/v2/export"})}}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// detailOn is the share of a session's page views, feature uses and
// logouts (and of integration calls) sent daysAgo days back: all of them
// in the last 90 days, thinning to 30 % a year back, so that a year of
// history loads in about the time of a few months. Logins and users are
// never thinned: logins, active users, features used and trends stay true
// to the customer's story however far back.
func detailOn(daysAgo int) float64 {
	const recent, floor = 90, 0.3
	if daysAgo <= recent {
		return 1
	}
	return max(floor, 1-(1-floor)*float64(daysAgo-recent)/float64(WindowDays-recent))
}

// thin scales n events by share, keeping at least least.
func thin(n int, share float64, least int) int {
	return max(least, int(math.Round(float64(n)*share)))
}

// userHabits are two numbers in [0, 1) fixed for user u of tenant ti: a
// hash, not a generator, as it is asked for every user every day.
func userHabits(seed uint64, ti, u int) (a, b float64) {
	x := seed*0x9e3779b97f4a7c15 ^ uint64(ti)<<32 ^ uint64(u)
	next := func() float64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return float64((z^z>>31)>>11) / (1 << 53)
	}
	return next(), next()
}

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }
