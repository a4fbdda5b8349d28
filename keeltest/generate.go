package keeltest

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/keelhq/keel"
)

// Products adds the products Generate sells, in currency: three editions
// (two monthly, one yearly), a seat add-on bound to the edition's term, a
// monthly support add-on and a one-off setup fee.
func (b *Book) Products(currency string) {
	from := Day(b.t, "2020-01-01")
	price := func(amount int64, p keel.Period) keel.PriceVersion {
		return keel.PriceVersion{Amount: amount, Currency: currency, Period: p, EffectiveFrom: from}
	}
	b.Product("basic", keel.KindEdition, price(10000, keel.PeriodMonth))
	b.Product("pro", keel.KindEdition, price(30000, keel.PeriodMonth))
	b.Product("ent", keel.KindEdition, price(1000, keel.PeriodYear))
	b.Product("seats", keel.KindAddonTerm, price(1000, keel.PeriodMonth))
	b.Product("support", keel.KindAddonStandalone, price(5000, keel.PeriodMonth))
	b.Product("setup", keel.KindAddonStandalone, price(50000, keel.PeriodOnce))
}

// Generate gives a book with Products' products n customers with a
// random history from start (seeded, so the same seed gives the same
// history): trials, first purchases with seats and one-off items, renewals
// on time and after a lapse, upgrades mid-term, add-ons, and orders voided
// after the fact — every movement of METRICS.md, through the order rules.
func (b *Book) Generate(n int, seed int64, start time.Time) {
	b.t.Helper()
	rng := rand.New(rand.NewSource(seed))
	for i := range n {
		key := fmt.Sprintf("g%d-%d", seed, i)
		on := start.AddDate(0, 0, rng.Intn(700))
		ed := []string{"basic", "pro", "ent"}[rng.Intn(3)]
		months := []int{1, 3, 12, 24}[rng.Intn(4)]
		if ed == "ent" {
			months = 12 * (1 + rng.Intn(2))
		}
		if rng.Intn(5) == 0 {
			b.Order(key, keel.OrderTrial, on.Format(time.DateOnly), L(ed, 1, 1, ""))
			on = on.AddDate(0, 1, 0)
		}
		lines := []Line{L(ed, 1, months, "")}
		if rng.Intn(3) == 0 {
			lines = append(lines, L("seats", int64(1+rng.Intn(20)), months, ""))
		}
		if rng.Intn(4) == 0 {
			lines = append(lines, L("setup", 1, 1, ""))
		}
		first := b.Order(key, keel.OrderNew, on.Format(time.DateOnly), lines...)
		end := keel.AddMonths(on, months)
		switch rng.Intn(6) {
		case 0: // renewed on time
			b.Order(key, keel.OrderRenewal, end.AddDate(0, 0, -5).Format(time.DateOnly), L(ed, 1, months, ""))
		case 1: // lapsed, then back
			b.Order(key, keel.OrderRenewal, end.AddDate(0, 0, 20+rng.Intn(60)).Format(time.DateOnly), L(ed, 1, months, ""))
		case 2: // upgraded mid-term
			if ed == "basic" && months > 1 {
				b.Order(key, keel.OrderUpgrade, on.AddDate(0, 0, 15).Format(time.DateOnly), L("pro", 1, months, ""))
			}
		case 3: // voided after the fact
			b.Void(key, first.ID, on.AddDate(0, 0, rng.Intn(90)))
		case 4: // support for a while
			if months > 1 {
				b.Order(key, keel.OrderAddon, on.AddDate(0, 0, 10).Format(time.DateOnly), L("support", 1, 1+rng.Intn(months-1), ""))
			}
		}
	}
}
