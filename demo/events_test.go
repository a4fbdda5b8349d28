package demo

import (
	"math"
	"math/bits"
	"slices"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest/client"
)

func TestTenantsAreDeterministicAndVaried(t *testing.T) {
	cfg := Config{Tenants: 200, Seed: 7, Now: testNow}
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
	// The shares the package documents, dealt exactly.
	want := map[Profile]int{Steady: 80, Growing: 30, Dip: 18, Declining: 6, Stopped: 3, Churned: 22, Silent: 3,
		Lapsed: 12, Returned: 8, Seasonal: 2, Trialing: 10, TrialOnly: 6}
	for p, n := range want {
		if profiles[p] != n {
			t.Errorf("%d %s tenants among 200, want %d", profiles[p], p, n)
		}
	}
	if len(names) < 150 {
		t.Errorf("only %d distinct names among 200 tenants", len(names))
	}
}

// service is what a customer's replayed subscriptions say of day d: in
// service (a trial or a paid edition), paid, and the seats bought.
func service(r replayed, ci int, d time.Time) (in, paid bool, seats int64) {
	for _, s := range r.subs[ci] {
		if s.ProductKind == keel.KindEdition && s.QuantityAt(d) > 0 {
			in = true
		}
		if !s.PaidAt(d) {
			continue
		}
		if s.ProductKind == keel.KindEdition {
			paid = true
		}
		if r.plan.Products[s.ProductID-1].Unit == "seat" {
			seats += s.QuantityAt(d)
		}
	}
	return in, paid, seats
}

// TestEventsFollowTheOrders checks the events against the orders, replayed
// through the domain's rules: a tenant sends events exactly on the days
// its customer is in service (a trial or a paid edition), never before its
// first trial nor after it left, and its seat snapshots never show more
// seats than were bought.
func TestEventsFollowTheOrders(t *testing.T) {
	u := demoUsage()
	r := replay(t, Sales(Config{Now: testNow}), testNow)
	for ti, tn := range u.tenants {
		for d := 0; d < u.cfg.Days-1; d++ {
			in, paid, seats := service(r, ti, u.date(d))
			td := u.days[ti][d]
			switch {
			case td.events > 0 && !in:
				t.Fatalf("%s (%s) sent %d events on %s, out of service", tn.ID, tn.Profile, td.events, u.date(d).Format(time.DateOnly))
			case td.events == 0 && in:
				t.Fatalf("%s (%s) sent nothing on %s, in service (want at least its seat snapshot)", tn.ID, tn.Profile, u.date(d).Format(time.DateOnly))
			case paid && td.snapshot > seats:
				t.Fatalf("%s (%s) on %s: a snapshot of %d seats, %d bought", tn.ID, tn.Profile, u.date(d).Format(time.DateOnly), td.snapshot, seats)
			}
		}
	}
	t.Logf("%d events over %d days", u.total, u.cfg.Days)
}

// window is a tenant's activity over days [from, to) of the usage window:
// logins per day in service, distinct users and features, the lowest seat
// snapshot against the seats bought.
type window struct {
	days           int
	logins         float64
	users, feats   int
	snapshot, paid int64
}

func (u *usage) window(r replayed, ti, from, to int) window {
	var w window
	var users []uint64
	var feats uint16
	w.snapshot = math.MaxInt64
	for d := max(from, 0); d < min(to, u.cfg.Days-1); d++ {
		if in, _, seats := service(r, ti, u.date(d)); in {
			x := u.days[ti][d]
			w.days++
			w.logins += float64(x.logins)
			for len(users) < len(x.users) {
				users = append(users, 0)
			}
			for i, b := range x.users {
				users[i] |= b
			}
			feats |= x.features
			w.snapshot, w.paid = min(w.snapshot, x.snapshot), max(w.paid, seats)
		}
	}
	if w.days > 0 {
		w.logins /= float64(w.days)
	}
	for _, b := range users {
		w.users += bits.OnesCount64(b)
	}
	w.feats = bits.OnesCount16(feats)
	return w
}

// TestChurnersDeclineFirst checks the churn story the health backtest
// reads: customers whose paid service ended in the window had, in the 30
// to 90 days before, far fewer logins, users and features than in their
// best month before, and fewer seats set up; those that left without warning did
// not; declines that were noise recovered; and 10–15 % of the customers
// churned inside the window.
func TestChurnersDeclineFirst(t *testing.T) {
	u := demoUsage()
	r := replay(t, Sales(Config{Now: testNow}), testNow)
	today := keel.Date(testNow)
	churners, declined, measured := 0, 0, 0
	for ti, tn := range u.tenants {
		churns := slices.DeleteFunc(tn.Churns(), func(d time.Time) bool { return today.Sub(d) >= WindowDays*24*time.Hour })
		if len(churns) > 0 {
			churners++
		}
		for _, ch := range churns {
			cd := int(ch.Sub(u.date(0)).Hours() / 24)
			// Against its best month from the window's start to five
			// months before the churn.
			var before window
			for d := 0; d+30 <= cd-150; d += 10 {
				if w := u.window(r, ti, d, d+30); w.days == 30 && w.logins > before.logins {
					before = w
				}
			}
			late := u.window(r, ti, cd-90, cd-30)
			if before.days < 30 || late.days < 30 {
				continue // not enough of its history in the window
			}
			down := late.logins < 0.5*before.logins && float64(late.users) < 0.6*float64(before.users) && late.feats < before.feats && late.snapshot < late.paid
			switch tn.Profile {
			case Churned:
				measured++
				if down {
					declined++
				}
				t.Logf("%s churned %s: logins/day %.1f → %.1f, users %d → %d, features %d → %d, seats set up %d of %d",
					tn.ID, ch.Format(time.DateOnly), before.logins, late.logins, before.users, late.users, before.feats, late.feats, late.snapshot, late.paid)
			case Silent:
				if late.logins < 0.7*before.logins {
					t.Errorf("%s left without warning, but its logins fell from %.1f to %.1f a day", tn.ID, before.logins, late.logins)
				}
			}
		}
	}
	if measured < 12 || float64(declined) < 0.75*float64(measured) {
		t.Errorf("%d of %d churners declined in the 30–90 days before; want three quarters of at least 12", declined, measured)
	}
	t.Logf("%d of %d customers churned in the window; %d of the %d churners measured declined first", churners, len(u.tenants), declined, measured)
	if share := float64(churners) / float64(len(u.tenants)); share < 0.10 || share > 0.15 {
		t.Errorf("%d of %d customers churned in the window (%.0f %%), want 10–15 %%", churners, len(u.tenants), 100*share)
	}

	// Noise: most dips fell by a third or more for weeks, then came back.
	// Logins are counted per seat bought, as some dips end in fewer seats.
	dips, recovered := 0, 0
	for ti, tn := range u.tenants {
		if tn.Profile != Dip || len(tn.life.curves) < 2 {
			continue
		}
		dips++
		perSeat := func(from, to int) float64 {
			w := u.window(r, ti, from, to)
			return w.logins / float64(max(w.paid, 1))
		}
		last := u.cfg.Days - 1
		lowest := math.Inf(1)
		for d := 0; d+28 <= last-14; d += 7 {
			if w := u.window(r, ti, d, d+28); w.days == 28 {
				lowest = min(lowest, perSeat(d, d+28))
			}
		}
		usual, now := perSeat(0, last), perSeat(last-14, last)
		if lowest < 0.7*usual && now > 0.85*usual {
			recovered++
		}
	}
	if dips < 10 || float64(recovered) < 0.7*float64(dips) {
		t.Errorf("%d of %d dips fell and recovered; want most of at least 10", recovered, dips)
	}
}

func TestDayIsDeterministic(t *testing.T) {
	cfg := Config{Tenants: 5, Days: 10, Seed: 9, Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	tenants := Tenants(cfg)
	collect := func() []client.Event {
		var out []client.Event
		for d := range cfg.Days {
			Day(cfg, tenants, d, func(ev client.Event) error { out = append(out, ev); return nil })
		}
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

// TestDayKeepsTheWeekAndTheFuture checks the working week's rhythm, that
// no event is in the future, that ids never repeat, and that the window's
// length does not change a day's events.
func TestDayKeepsTheWeekAndTheFuture(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	short := Config{Tenants: 40, Days: 30, Seed: 3, Now: now}.withDefaults()
	long := short
	long.Days = 60
	tenants := Tenants(short)
	ids := map[string]bool{}
	var weekday, weekend, nWeekday, nWeekend int
	for d := 0; d < short.Days; d++ {
		date := now.Truncate(24*time.Hour).AddDate(0, 0, d-(short.Days-1))
		n := 0
		var a []client.Event
		err := Day(short, tenants, d, func(ev client.Event) error {
			if ids[ev.Tenant+"/"+ev.ID] {
				t.Fatalf("id %s repeats", ev.ID)
			}
			ids[ev.Tenant+"/"+ev.ID] = true
			if ev.Time.After(now) {
				t.Fatalf("event in the future: %v > %v", ev.Time, now)
			}
			if ev.Type == "login" {
				n++
			}
			a = append(a, ev)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var b []client.Event
		Day(long, tenants, d+long.Days-short.Days, func(ev client.Event) error { b = append(b, ev); return nil })
		if len(a) != len(b) || (len(a) > 0 && a[len(a)-1].ID != b[len(b)-1].ID) {
			t.Fatalf("%s: %d events in a %d-day window, %d in a %d-day one", date.Format(time.DateOnly), len(a), short.Days, len(b), long.Days)
		}
		if date.Weekday() == time.Saturday || date.Weekday() == time.Sunday {
			weekend, nWeekend = weekend+n, nWeekend+1
		} else {
			weekday, nWeekday = weekday+n, nWeekday+1
		}
	}
	if avgWd, avgWe := float64(weekday)/float64(nWeekday), float64(weekend)/float64(nWeekend); avgWe*3 > avgWd {
		t.Errorf("weekend logins %.1f/day are not well below weekday %.1f/day", avgWe, avgWd)
	}
}
