// Package demo makes realistic demo data for Keel: a few hundred customer
// tenants and months of their product usage — a weekday rhythm, seat counts,
// feature use, some customers whose logins decline and some that stop —
// sent through the real collector like any product app would.
//
// Everything is derived from a seed, event ids included, so running the demo
// twice sends the same events and Keel stores them once.
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
)

// Config sizes the demo.
type Config struct {
	Tenants int       // default 200
	Days    int       // days of history up to and including today; default 120
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
		c.Days = 120
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

// Profile is how a tenant's usage develops over the demo's history.
type Profile string

// The profiles, with the share of tenants that get each.
const (
	Steady    Profile = "steady"    // ~78 %
	Growing   Profile = "growing"   // ~8 %: more users month after month
	Declining Profile = "declining" // ~8 %: logins fall over the last 6 weeks
	Stopped   Profile = "stopped"   // ~6 %: stopped using the product 20–60 days ago
)

// Tenant is one demo customer's product tenant.
type Tenant struct {
	ID      string
	Name    string
	Seats   int
	Profile Profile
	// Engagement is the chance that a seat's user works on a weekday.
	Engagement float64
	// StoppedDaysAgo is set for Stopped tenants.
	StoppedDaysAgo int
	// APIClient tenants also call the API from an integration.
	APIClient bool
	features  []string
}

var features = []string{
	"dashboard", "export", "reports", "search", "import", "sharing",
	"alerts", "api_keys", "billing", "integrations", "automation", "audit_log",
}

// Tenants returns the demo tenants.
func Tenants(cfg Config) []Tenant {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7e4a))
	out := make([]Tenant, cfg.Tenants)
	for i := range out {
		t := Tenant{
			ID:   fmt.Sprintf("t-%d", 1001+i),
			Name: companyName(rng, i),
		}
		// Seats follow a long tail: most customers are small, a few large.
		seats := math.Exp(rng.NormFloat64()*0.9 + 3.0)
		t.Seats = max(3, min(400, int(seats*cfg.Scale)))
		t.Engagement = 0.45 + rng.Float64()*0.45
		switch r := rng.Float64(); {
		case r < 0.06:
			t.Profile = Stopped
			t.StoppedDaysAgo = 20 + rng.IntN(41)
		case r < 0.14:
			t.Profile = Declining
		case r < 0.22:
			t.Profile = Growing
		default:
			t.Profile = Steady
		}
		t.APIClient = rng.Float64() < 0.3
		// Each tenant leans on a few features.
		perm := rng.Perm(len(features))
		n := 3 + rng.IntN(6)
		for _, j := range perm[:n] {
			t.features = append(t.features, features[j])
		}
		out[i] = t
	}
	return out
}

// activity is the factor applied to a tenant's engagement daysAgo days
// before now.
func (t Tenant) activity(daysAgo, days int) float64 {
	switch t.Profile {
	case Growing:
		return 0.45 + 0.55*float64(days-daysAgo)/float64(days)
	case Declining:
		if daysAgo > 42 {
			return 1
		}
		return 0.15 + 0.85*float64(daysAgo)/42
	case Stopped:
		if daysAgo < t.StoppedDaysAgo {
			return 0
		}
		if daysAgo < t.StoppedDaysAgo+14 {
			return 0.5
		}
	}
	return 1
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

// Day generates one day of events for every tenant, calling emit for each in
// time order per user. Day 0 is the oldest; day Days-1 is today, whose events
// stop at cfg.Now.
func Day(cfg Config, tenants []Tenant, day int, emit func(client.Event) error) error {
	cfg = cfg.withDefaults()
	today := cfg.Now.Truncate(24 * time.Hour)
	daysAgo := cfg.Days - 1 - day
	date := today.AddDate(0, 0, -daysAgo)
	for ti, t := range tenants {
		// A generator per tenant and day: the same seed always yields the
		// same events, whatever subset of days is generated.
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ti)<<20|uint64(day)))
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
		if err := send(client.Event{Type: ingest.TypeSeatSnapshot, Time: date.Add(5 * time.Minute),
			Props: map[string]any{"seats": t.Seats}}); err != nil {
			return err
		}
		p := t.Engagement * weekday(date.Weekday()) * t.activity(daysAgo, cfg.Days)
		for u := 1; u <= t.Seats; u++ {
			if rng.Float64() >= p {
				continue
			}
			user := fmt.Sprintf("u-%d", u)
			// A working session: start between 07:00 and 11:00 UTC.
			at := date.Add(7*time.Hour + time.Duration(rng.IntN(4*3600))*time.Second)
			logins := 1
			if rng.Float64() < 0.25 {
				logins = 2
			}
			for l := 0; l < logins; l++ {
				if err := send(client.Event{Type: ingest.TypeLogin, User: user, Time: at,
					Props: map[string]any{"method": pick(rng, []string{"password", "sso", "sso", "google"})}}); err != nil {
					return err
				}
				for n := 1 + rng.IntN(4); n > 0; n-- {
					at = at.Add(time.Duration(30+rng.IntN(900)) * time.Second)
					if err := send(client.Event{Type: ingest.TypePageView, User: user, Time: at,
						Props: map[string]any{"path": "/" + pick(rng, t.features)}}); err != nil {
						return err
					}
				}
				for n := 1 + rng.IntN(5); n > 0; n-- {
					at = at.Add(time.Duration(60+rng.IntN(1800)) * time.Second)
					if err := send(client.Event{Type: ingest.TypeFeatureUsed, User: user, Time: at,
						Props: map[string]any{"feature": pick(rng, t.features)}}); err != nil {
						return err
					}
				}
				if rng.Float64() < 0.4 {
					at = at.Add(time.Duration(300+rng.IntN(3600)) * time.Second)
					if err := send(client.Event{Type: ingest.TypeLogout, User: user, Time: at}); err != nil {
						return err
					}
				}
				at = at.Add(time.Duration(2+rng.IntN(4)) * time.Hour)
			}
		}
		if t.APIClient && t.activity(daysAgo, cfg.Days) > 0 {
			for n := 10 + rng.IntN(40); n > 0; n-- {
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

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }
