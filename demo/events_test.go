package demo

import (
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
)

func TestTenantsAreDeterministicAndVaried(t *testing.T) {
	cfg := Config{Tenants: 200, Seed: 7}
	a, b := Tenants(cfg), Tenants(cfg)
	profiles := map[Profile]int{}
	names := map[string]bool{}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Name != b[i].Name || a[i].Seats != b[i].Seats || a[i].Profile != b[i].Profile {
			t.Fatalf("tenant %d differs between runs: %+v vs %+v", i, a[i], b[i])
		}
		profiles[a[i].Profile]++
		names[a[i].Name] = true
	}
	for _, p := range []Profile{Steady, Growing, Declining, Stopped} {
		if profiles[p] == 0 {
			t.Errorf("no %s tenants among 200", p)
		}
	}
	if len(names) < 150 {
		t.Errorf("only %d distinct names among 200 tenants", len(names))
	}
}

// count returns, per tenant, the logins on weekdays and weekends of the
// generated history, checking every event against the real parser.
func generate(t *testing.T, cfg Config, tenants []Tenant) map[string][]int {
	t.Helper()
	logins := map[string][]int{}
	ids := map[string]bool{}
	for d := 0; d < cfg.Days; d++ {
		err := Day(cfg, tenants, d, func(ev client.Event) error {
			if ids[ev.Tenant+"/"+ev.ID] {
				t.Fatalf("id %s repeats", ev.ID)
			}
			ids[ev.Tenant+"/"+ev.ID] = true
			if ev.Time.After(cfg.Now) {
				t.Fatalf("event in the future: %v > %v", ev.Time, cfg.Now)
			}
			if ev.Type == ingest.TypeLogin {
				if logins[ev.Tenant] == nil {
					logins[ev.Tenant] = make([]int, cfg.Days)
				}
				logins[ev.Tenant][d]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return logins
}

func TestDayShapesUsage(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	cfg := Config{Tenants: 60, Days: 120, Seed: 3, Now: now}.withDefaults()
	tenants := Tenants(cfg)
	logins := generate(t, cfg, tenants)

	var weekday, weekend, nWeekday, nWeekend int
	for d := 0; d < cfg.Days; d++ {
		date := now.Truncate(24*time.Hour).AddDate(0, 0, d-(cfg.Days-1))
		for _, tn := range tenants {
			if tn.Profile != Steady {
				continue
			}
			n := 0
			if l := logins[tn.ID]; l != nil {
				n = l[d]
			}
			if date.Weekday() == time.Saturday || date.Weekday() == time.Sunday {
				weekend, nWeekend = weekend+n, nWeekend+1
			} else {
				weekday, nWeekday = weekday+n, nWeekday+1
			}
		}
	}
	if avgWd, avgWe := float64(weekday)/float64(nWeekday), float64(weekend)/float64(nWeekend); avgWe*3 > avgWd {
		t.Errorf("weekend logins %.1f/day are not well below weekday %.1f/day", avgWe, avgWd)
	}

	sum := func(l []int, from, to int) int {
		s := 0
		for _, v := range l[from:to] {
			s += v
		}
		return s
	}
	for _, tn := range tenants {
		l := logins[tn.ID]
		if l == nil {
			l = make([]int, cfg.Days)
		}
		last14, prev := sum(l, cfg.Days-14, cfg.Days), sum(l, cfg.Days-70, cfg.Days-42)/2
		switch tn.Profile {
		case Stopped:
			if got := sum(l, cfg.Days-tn.StoppedDaysAgo+1, cfg.Days); got != 0 {
				t.Errorf("%s stopped %d days ago but has %d logins since", tn.ID, tn.StoppedDaysAgo, got)
			}
		case Declining:
			if prev > 0 && float64(last14) > 0.6*float64(prev) {
				t.Errorf("%s is declining but logged in %d times in the last 14 days vs %d before", tn.ID, last14, prev)
			}
		}
	}
}

func TestDayIsDeterministic(t *testing.T) {
	cfg := Config{Tenants: 5, Days: 10, Seed: 9, Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	tenants := Tenants(cfg)
	collect := func() []client.Event {
		var out []client.Event
		Day(cfg, tenants, 4, func(ev client.Event) error { out = append(out, ev); return nil })
		return out
	}
	a, b := collect(), collect()
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("runs differ in size: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].Time.Equal(b[i].Time) || a[i].Type != b[i].Type {
			t.Fatalf("event %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
}
