package keel_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
)

// revenueBook is a small catalogue in USD: monthly editions, a yearly
// edition, a seat add-on, a one-off item and a free edition.
func revenueBook(t *testing.T) *keeltest.Book {
	b := keeltest.NewBook(t)
	from := keeltest.Day(t, "2020-01-01")
	b.Product("basic", keel.KindEdition, keel.PriceVersion{Amount: 10000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: from})
	b.Product("pro", keel.KindEdition, keel.PriceVersion{Amount: 30000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: from})
	b.Product("ent", keel.KindEdition, keel.PriceVersion{Amount: 1000, Currency: "USD", Period: keel.PeriodYear, EffectiveFrom: from})
	b.Product("free", keel.KindEdition, keel.PriceVersion{Amount: 0, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: from})
	b.Product("seats", keel.KindAddonTerm, keel.PriceVersion{Amount: 1000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: from})
	b.Product("setup", keel.KindAddonStandalone, keel.PriceVersion{Amount: 50000, Currency: "USD", Period: keel.PeriodOnce, EffectiveFrom: from})
	b.Product("support", keel.KindAddonStandalone, keel.PriceVersion{Amount: 5000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: from})
	return b
}

// table is the month table of a book, rounded as shown.
func table(rows []keel.CustomerMonth, from, to keel.Month) map[string][7]int64 {
	out := map[string][7]int64{}
	for _, t := range keel.MonthTotals(rows, from, to) {
		out[t.Month.String()] = [7]int64{t.MRR.Round(), t.New.Round(), t.Expansion.Round(), t.Contraction.Round(), t.Churn.Round(), t.Reactivation.Round(), t.Customers}
	}
	return out
}

func wantMonths(t *testing.T, got map[string][7]int64, want map[string][7]int64) {
	t.Helper()
	for m, w := range want {
		if g := got[m]; g != w {
			t.Errorf("%s: got [mrr new exp con churn react customers] %v, want %v", m, g, w)
		}
	}
}

func TestCustomerSeries(t *testing.T) {
	t.Run("trial, 0-priced and one-off lines are not MRR", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderTrial, "2025-01-05", keeltest.L("pro", 1, 1, ""))
		b.Order("b", keel.OrderNew, "2025-01-05", keeltest.L("free", 1, 12, ""))
		b.Order("c", keel.OrderNew, "2025-01-05", keeltest.L("basic", 1, 3, ""), keeltest.L("setup", 1, 1, ""))
		got := table(b.Series(keel.RevenueSettings{}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-04"))
		wantMonths(t, got, map[string][7]int64{
			"2025-01": {10000, 10000, 0, 0, 0, 0, 1},
			"2025-02": {10000, 0, 0, 0, 0, 0, 1},
			"2025-04": {0, 0, 0, 0, 10000, 0, 0},
		})
	})
	t.Run("a yearly price is exact per month and rounded once per total", func(t *testing.T) {
		b := revenueBook(t)
		// 1,000 cents a year is 83.33… a month; three such customers are
		// exactly 250 cents, where rounding each line would give 249.
		for _, k := range []string{"a", "b", "c"} {
			b.Order(k, keel.OrderNew, "2025-03-01", keeltest.L("ent", 1, 12, ""))
		}
		rows := b.Series(keel.RevenueSettings{})
		if r := rows[0]; r.MRR != keel.ExactRatio(1000, 12) {
			t.Errorf("one customer's MRR = %v, want 1000/12", r.MRR)
		}
		got := table(rows, keeltest.Month(t, "2025-03"), keeltest.Month(t, "2026-03"))
		wantMonths(t, got, map[string][7]int64{
			"2025-03": {250, 250, 0, 0, 0, 0, 3},
			"2026-02": {250, 0, 0, 0, 0, 0, 3},
			"2026-03": {0, 0, 0, 0, 250, 0, 0},
		})
	})
	t.Run("upgrade mid-term: expansion, and the old line ends on the upgrade day", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderNew, "2025-01-10", keeltest.L("basic", 1, 12, ""))
		o := b.Order("a", keel.OrderUpgrade, "2025-04-15", keeltest.L("pro", 1, 9, ""))
		rows := b.Series(keel.RevenueSettings{})
		got := table(rows, keeltest.Month(t, "2025-01"), keeltest.Month(t, "2026-02"))
		wantMonths(t, got, map[string][7]int64{
			"2025-03": {10000, 0, 0, 0, 0, 0, 1},
			"2025-04": {30000, 0, 20000, 0, 0, 0, 1},
			"2025-12": {30000, 0, 0, 0, 0, 0, 1},
			"2026-01": {0, 0, 0, 0, 30000, 0, 0}, // 9 months from 15 Apr end on 15 Jan
		})
		for _, r := range rows {
			if r.Month == keeltest.Month(t, "2025-04") && (len(r.Orders) != 2 || r.Orders[1] != o.ID) {
				t.Errorf("April's orders = %v, want the new order and the upgrade %d", r.Orders, o.ID)
			}
		}
	})
	t.Run("seats and a support add-on: expansion, then contraction", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("pro", 1, 12, ""), keeltest.L("seats", 10, 12, ""))
		// Seats run with the edition's term, the support add-on for its own month.
		b.Order("a", keel.OrderAddon, "2025-03-05", keeltest.L("seats", 5, 1, ""), keeltest.L("support", 1, 1, ""))
		got := table(b.Series(keel.RevenueSettings{}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-12"))
		wantMonths(t, got, map[string][7]int64{
			"2025-01": {40000, 40000, 0, 0, 0, 0, 1},
			"2025-03": {50000, 0, 10000, 0, 0, 0, 1},
			"2025-04": {45000, 0, 0, 5000, 0, 0, 1},
			"2025-12": {45000, 0, 0, 0, 0, 0, 1},
		})
	})
	t.Run("churn then reactivation, and the cohort stays the first month", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("basic", 1, 2, ""))
		b.Order("a", keel.OrderNew, "2025-06-01", keeltest.L("pro", 1, 2, ""))
		rows := b.Series(keel.RevenueSettings{})
		got := table(rows, keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-08"))
		wantMonths(t, got, map[string][7]int64{
			"2025-03": {0, 0, 0, 0, 10000, 0, 0},
			"2025-06": {30000, 0, 0, 0, 0, 30000, 1},
			"2025-08": {0, 0, 0, 0, 30000, 0, 0},
		})
		for _, r := range rows {
			if r.Cohort != keeltest.Month(t, "2025-01") {
				t.Errorf("%s cohort = %s, want 2025-01", r.Month, r.Cohort)
			}
		}
	})
	t.Run("void before start takes nothing back that was in service", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("basic", 1, 3, ""))
		r := b.Order("a", keel.OrderRenewal, "2025-03-20", keeltest.L("basic", 1, 3, ""))
		b.Void("a", r.ID, keeltest.Day(t, "2025-03-25"))
		for _, timing := range []keel.ChurnTiming{keel.ChurnAtPeriodEnd, keel.ChurnOnVoidDay} {
			got := table(b.Series(keel.RevenueSettings{ChurnTiming: timing}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-05"))
			wantMonths(t, got, map[string][7]int64{
				"2025-03": {10000, 0, 0, 0, 0, 0, 1},
				"2025-04": {0, 0, 0, 0, 10000, 0, 0},
			})
		}
	})
	t.Run("void after approval, back-dated: restated, or until the void day", func(t *testing.T) {
		b := revenueBook(t)
		o := b.Order("a", keel.OrderNew, "2025-06-01", keeltest.L("pro", 1, 12, "2025-01-01"))
		b.Void("a", o.ID, keeltest.Day(t, "2025-06-10").Add(15*time.Hour))
		// keel.Period end (default): as if never sold.
		if got := table(b.Series(keel.RevenueSettings{}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-12")); got["2025-01"] != [7]int64{} || got["2025-06"] != [7]int64{} {
			t.Errorf("restated: %v, want nothing in any month", got)
		}
		// Void day: in service until 10 June, churned in June.
		got := table(b.Series(keel.RevenueSettings{ChurnTiming: keel.ChurnOnVoidDay}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-12"))
		wantMonths(t, got, map[string][7]int64{
			"2025-01": {30000, 30000, 0, 0, 0, 0, 1},
			"2025-05": {30000, 0, 0, 0, 0, 0, 1},
			"2025-06": {0, 0, 0, 0, 30000, 0, 0},
			"2025-07": {0, 0, 0, 0, 0, 0, 0},
		})
	})
	t.Run("the void day is cut in the reporting timezone", func(t *testing.T) {
		b := revenueBook(t)
		o := b.Order("a", keel.OrderNew, "2025-06-01", keeltest.L("pro", 1, 12, "2025-01-01"))
		// 30 June 20:00 UTC is already 1 July in Shanghai: in service on
		// 30 June there, so June keeps its MRR and July churns.
		b.Void("a", o.ID, time.Date(2025, 6, 30, 20, 0, 0, 0, time.UTC))
		sh, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		utc := table(b.Series(keel.RevenueSettings{ChurnTiming: keel.ChurnOnVoidDay}), keeltest.Month(t, "2025-06"), keeltest.Month(t, "2025-07"))
		local := table(b.Series(keel.RevenueSettings{ChurnTiming: keel.ChurnOnVoidDay, Location: sh}), keeltest.Month(t, "2025-06"), keeltest.Month(t, "2025-07"))
		if utc["2025-06"][4] != 30000 || local["2025-06"][0] != 30000 || local["2025-07"][4] != 30000 {
			t.Errorf("UTC June %v; Shanghai June %v, July %v; want churn in June in UTC, in July in Shanghai", utc["2025-06"], local["2025-06"], local["2025-07"])
		}
	})
	t.Run("MRR on the first day of the month", func(t *testing.T) {
		b := revenueBook(t)
		b.Order("a", keel.OrderNew, "2025-01-10", keeltest.L("basic", 1, 3, ""))
		got := table(b.Series(keel.RevenueSettings{MRRDay: keel.MRRFirstDay}), keeltest.Month(t, "2025-01"), keeltest.Month(t, "2025-05"))
		wantMonths(t, got, map[string][7]int64{
			"2025-01": {0, 0, 0, 0, 0, 0, 0},
			"2025-02": {10000, 10000, 0, 0, 0, 0, 1},
			"2025-04": {10000, 0, 0, 0, 0, 0, 1}, // in service on 1 April, ends on the 10th
			"2025-05": {0, 0, 0, 0, 10000, 0, 0},
		})
	})
	t.Run("currencies are separate books", func(t *testing.T) {
		b := revenueBook(t)
		b.Product("cny", keel.KindAddonStandalone, keel.PriceVersion{Amount: 700, Currency: "CNY", Period: keel.PeriodMonth, EffectiveFrom: keeltest.Day(t, "2020-01-01")})
		b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("basic", 1, 6, ""))
		b.Order("a", keel.OrderNew, "2025-03-01", keeltest.L("cny", 1, 1, ""))
		rows := b.Series(keel.RevenueSettings{})
		var cny []keel.CustomerMonth
		for _, r := range rows {
			if r.Currency == "CNY" {
				cny = append(cny, r)
			}
		}
		if len(cny) != 2 || cny[0].Movement != keel.MoveNew || cny[1].Movement != keel.MoveChurn {
			t.Errorf("CNY rows = %+v, want new in March and churn in April", cny)
		}
	})
}

// TestRevenueIdentity checks, over a generated history of 2,000 customers
// made through the order rules (new, renewals on time and late, upgrades,
// add-ons, trials, one-offs, voids), that every customer's every month
// satisfies end = start + new + expansion + reactivation − contraction −
// churn exactly, and so does every month's total.
func TestRevenueIdentity(t *testing.T) {
	b := revenueBook(t)
	rng := rand.New(rand.NewSource(7))
	start := keeltest.Day(t, "2023-01-01")
	for i := range 2000 {
		key := fmt.Sprintf("c%d", i)
		on := start.AddDate(0, 0, rng.Intn(700))
		ed := []string{"basic", "pro", "ent"}[rng.Intn(3)]
		months := []int{1, 3, 12, 24}[rng.Intn(4)]
		if ed == "ent" {
			months = 12 * (1 + rng.Intn(2))
		}
		if rng.Intn(5) == 0 {
			b.Order(key, keel.OrderTrial, on.Format(time.DateOnly), keeltest.L(ed, 1, 1, ""))
			on = on.AddDate(0, 1, 0)
		}
		lines := []keeltest.Line{keeltest.L(ed, 1, months, "")}
		if rng.Intn(3) == 0 {
			lines = append(lines, keeltest.L("seats", int64(1+rng.Intn(20)), months, ""))
		}
		if rng.Intn(4) == 0 {
			lines = append(lines, keeltest.L("setup", 1, 1, ""))
		}
		first := b.Order(key, keel.OrderNew, on.Format(time.DateOnly), lines...)
		end := keel.AddMonths(on, months)
		switch rng.Intn(5) {
		case 0: // renew on time with other seats
			b.Order(key, keel.OrderRenewal, end.AddDate(0, 0, -5).Format(time.DateOnly), keeltest.L(ed, 1, months, ""))
		case 1: // lapse, then back
			b.Order(key, keel.OrderRenewal, end.AddDate(0, 0, 20+rng.Intn(60)).Format(time.DateOnly), keeltest.L(ed, 1, months, ""))
		case 2: // upgrade mid-term
			if ed == "basic" && months > 1 {
				b.Order(key, keel.OrderUpgrade, on.AddDate(0, 0, 15).Format(time.DateOnly), keeltest.L("pro", 1, months, ""))
			}
		case 3: // voided back-dated after the fact
			b.Void(key, first.ID, on.AddDate(0, 0, rng.Intn(90)))
		}
	}
	for _, timing := range []keel.ChurnTiming{keel.ChurnAtPeriodEnd, keel.ChurnOnVoidDay} {
		rows := b.Series(keel.RevenueSettings{ChurnTiming: timing})
		if len(rows) < 20000 {
			t.Fatalf("%d rows from 2,000 customers: the history is too thin to mean anything", len(rows))
		}
		moves := map[keel.Movement]int{}
		type key struct {
			id  int64
			cur string
			m   keel.Month
		}
		mrr := map[key]keel.Exact{}
		for _, r := range rows {
			mrr[key{r.CustomerID, r.Currency, r.Month}] = r.MRR
		}
		for _, r := range rows {
			// Each row's start is the month before's end (0 when no row).
			if prev := mrr[key{r.CustomerID, r.Currency, r.Month - 1}]; prev != r.Previous {
				t.Fatalf("customer %d %s: start %v, but the month before ended at %v", r.CustomerID, r.Month, r.Previous, prev)
			}
			moves[r.Movement]++
			var s keel.ExactSum
			s.Add(r.Previous)
			s.Add(r.Amount(keel.MoveNew))
			s.Add(r.Amount(keel.MoveExpansion))
			s.Add(r.Amount(keel.MoveReactivation))
			s.Sub(r.Amount(keel.MoveContraction))
			s.Sub(r.Amount(keel.MoveChurn))
			if got, _ := s.Exact(); got != r.MRR {
				t.Fatalf("customer %d %s: start %v + movements = %v, end %v", r.CustomerID, r.Month, r.Previous, got, r.MRR)
			}
		}
		for _, m := range keel.Movements {
			if moves[m] == 0 {
				t.Errorf("%s: no %s movement in the generated history", timing, m)
			}
		}
		totals := keel.MonthTotals(rows, keel.MonthOf(start)-1, keel.MonthOf(start)+60)
		for i := 1; i < len(totals); i++ {
			var s keel.ExactSum
			s.Add(totals[i-1].MRR)
			s.Add(totals[i].NetNew())
			if got, _ := s.Exact(); got != totals[i].MRR {
				t.Fatalf("%s: %v + net new %v ≠ %v", totals[i].Month, totals[i-1].MRR, totals[i].NetNew(), totals[i].MRR)
			}
		}
	}
}

func near(t *testing.T, name string, got keel.Ratio, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", name, show(got), want)
	}
}

func show(r keel.Ratio) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprint(*r)
}

func TestSaaSMetrics(t *testing.T) {
	m := keel.MonthAt(2025, 7)
	t.Run("METRICS.md: start 100, churn 10, contraction 10, expansion 10", func(t *testing.T) {
		totals := []keel.MonthTotal{
			{Month: m - 1, MRR: keel.ExactOf(100), Customers: 10},
			{Month: m, MRR: keel.ExactOf(90), Churn: keel.ExactOf(10), Contraction: keel.ExactOf(10), Expansion: keel.ExactOf(10), Customers: 9, ChurnedCustomers: 1},
		}
		s := keel.SaaSMetrics(totals, nil, keel.RevenueSettings{})
		near(t, "gross MRR churn", s.GrossMRRChurn, 0.20)
		near(t, "net MRR churn", s.NetMRRChurn, 0.10)
		near(t, "NRR", s.NRR, 0.90)
		near(t, "GRR", s.GRR, 0.80)
		near(t, "customer churn", s.CustomerChurn, 0.10)
		near(t, "quick ratio", s.QuickRatio, 0.5)
		near(t, "ARPA", s.ARPA, 10)
	})
	t.Run("NRR and GRR leave reactivation out by default", func(t *testing.T) {
		totals := []keel.MonthTotal{
			{Month: m - 1, MRR: keel.ExactOf(1000), Customers: 10},
			{Month: m, MRR: keel.ExactOf(1150), Expansion: keel.ExactOf(100), Reactivation: keel.ExactOf(50), Customers: 11, ReactivatedCustomers: 1},
		}
		near(t, "NRR", keel.SaaSMetrics(totals, nil, keel.RevenueSettings{}).NRR, 1.10)
		near(t, "NRR with reactivation", keel.SaaSMetrics(totals, nil, keel.RevenueSettings{NRRWithReactivation: true}).NRR, 1.15)
		near(t, "GRR", keel.SaaSMetrics(totals, nil, keel.RevenueSettings{}).GRR, 1.0)
	})
	t.Run("METRICS.md: ARPA 100, churn 5 % → LTV 2,000", func(t *testing.T) {
		var totals []keel.MonthTotal
		for i := 7; i >= 1; i-- { // six months of 5 % churn before m
			totals = append(totals, keel.MonthTotal{Month: m - keel.Month(i), MRR: keel.ExactOf(2000), Customers: 20, ChurnedCustomers: 1})
		}
		totals = append(totals, keel.MonthTotal{Month: m, MRR: keel.ExactOf(2000), Customers: 20})
		s := keel.SaaSMetrics(totals, map[keel.Month]int64{m: 1000}, keel.RevenueSettings{})
		near(t, "ARPA", s.ARPA, 100)
		near(t, "LTV", s.LTV, 2000)
		if s.CAC != nil {
			t.Errorf("CAC = %v with no new customers, want n/a", show(s.CAC))
		}
	})
	t.Run("LTV is n/a when there was no churn", func(t *testing.T) {
		totals := []keel.MonthTotal{{Month: m - 2, MRR: keel.ExactOf(500), Customers: 5}, {Month: m - 1, MRR: keel.ExactOf(500), Customers: 5}, {Month: m, MRR: keel.ExactOf(500), Customers: 5}}
		s := keel.SaaSMetrics(totals, nil, keel.RevenueSettings{})
		if s.LTV != nil || s.QuickRatio != nil || s.LTVToCAC != nil {
			t.Errorf("LTV %s, quick ratio %s, LTV/CAC %s; want n/a", show(s.LTV), show(s.QuickRatio), show(s.LTVToCAC))
		}
	})
	t.Run("CAC, payback and LTV/CAC, over one month and a trailing three", func(t *testing.T) {
		var totals []keel.MonthTotal
		for i := 7; i >= 1; i-- {
			totals = append(totals, keel.MonthTotal{Month: m - keel.Month(i), MRR: keel.ExactOf(10000), Customers: 100, ChurnedCustomers: 2, New: keel.ExactOf(200), NewCustomers: 2})
		}
		totals = append(totals, keel.MonthTotal{Month: m, MRR: keel.ExactOf(10000), Customers: 100, New: keel.ExactOf(400), NewCustomers: 4, ChurnedCustomers: 4})
		spend := map[keel.Month]int64{m: 2000, m - 1: 1000, m - 2: 1000}
		s := keel.SaaSMetrics(totals, spend, keel.RevenueSettings{GrossMarginPct: 80})
		near(t, "CAC", s.CAC, 500)
		near(t, "payback", s.CACPayback, 500/(100*0.8))
		near(t, "LTV", s.LTV, 100/0.02)
		near(t, "LTV/CAC", s.LTVToCAC, 5000.0/500)
		s3 := keel.SaaSMetrics(totals, spend, keel.RevenueSettings{CACMonths: 3})
		near(t, "CAC over 3 months", s3.CAC, 4000.0/8)
	})
}

func TestRenewals(t *testing.T) {
	b := revenueBook(t)
	b.Order("on-time", keel.OrderNew, "2025-01-10", keeltest.L("pro", 1, 6, ""), keeltest.L("seats", 10, 6, ""))
	b.Order("on-time", keel.OrderRenewal, "2025-07-01", keeltest.L("pro", 1, 6, ""), keeltest.L("seats", 4, 6, ""))
	b.Order("late", keel.OrderNew, "2025-01-20", keeltest.L("basic", 1, 6, ""))
	b.Order("late", keel.OrderRenewal, "2025-08-05", keeltest.L("basic", 1, 6, "")) // 16 days after the end
	b.Order("too-late", keel.OrderNew, "2025-01-05", keeltest.L("basic", 1, 6, ""))
	b.Order("too-late", keel.OrderRenewal, "2025-08-20", keeltest.L("basic", 1, 6, "")) // 46 days after
	b.Order("gone", keel.OrderNew, "2025-01-15", keeltest.L("basic", 1, 6, ""))
	var rs []keel.Renewal
	for _, k := range b.Keys() {
		c := b.Customer(k)
		rs = append(rs, keel.CustomerRenewals(c.Customer.ID, c.Subscriptions, keel.RevenueSettings{})...)
	}
	july := keel.SummarizeRenewals(rs, keeltest.Month(t, "2025-07"), "USD")
	// Due in July: on-time's pro and seats, late, too-late, gone (5);
	// renewed: pro, seats (fewer), late.
	if july.Due != 5 || july.Renewed != 3 {
		t.Fatalf("July: due %d, renewed %d; want 5 and 3 (%+v)", july.Due, july.Renewed, rs)
	}
	if got, want := july.DueMRR.Round(), int64(30000+10000+10000+10000+10000); got != want {
		t.Errorf("due MRR = %d, want %d", got, want)
	}
	if got, want := july.RenewedMRR.Round(), int64(30000+4000+10000); got != want {
		t.Errorf("renewed MRR = %d, want %d", got, want)
	}
	near(t, "count rate", july.CountRate, 3.0/5)
	near(t, "amount rate", july.AmountRate, 44000.0/70000)
	// A renewal that ends again is due again, in January.
	// A renewal that ends again is due again: on-time's two in January,
	// late's and too-late's (which restarted in August) in February.
	if jan := keel.SummarizeRenewals(rs, keeltest.Month(t, "2026-01"), "USD"); jan.Due != 2 || jan.Renewed != 0 {
		t.Errorf("January 2026: due %d, renewed %d; want on-time's two renewals, not renewed", jan.Due, jan.Renewed)
	}
	if feb := keel.SummarizeRenewals(rs, keeltest.Month(t, "2026-02"), "USD"); feb.Due != 2 {
		t.Errorf("February 2026: due %d, want late's and too-late's renewals", feb.Due)
	}
}

func TestCohorts(t *testing.T) {
	b := revenueBook(t)
	b.Order("a", keel.OrderNew, "2025-01-01", keeltest.L("basic", 1, 12, ""))
	b.Order("b", keel.OrderNew, "2025-01-05", keeltest.L("pro", 1, 2, ""))
	b.Order("a", keel.OrderAddon, "2025-02-01", keeltest.L("seats", 10, 1, ""))
	b.Order("c", keel.OrderNew, "2025-02-10", keeltest.L("basic", 1, 1, ""))
	cs := keel.CohortsOf(b.Series(keel.RevenueSettings{}), "USD", keeltest.Month(t, "2025-04"))
	if len(cs) != 2 {
		t.Fatalf("%d cohorts, want January and February", len(cs))
	}
	jan := cs[0]
	if jan.StartMRR.Round() != 40000 || jan.StartCustomers != 2 {
		t.Errorf("January cohort starts at %v with %d customers, want 40000 and 2", jan.StartMRR, jan.StartCustomers)
	}
	near(t, "January in February (MRR)", jan.MRRRetention(1), 50000.0/40000)
	near(t, "January in March (MRR)", jan.MRRRetention(2), 20000.0/40000) // a with its seats; b has gone
	near(t, "January in March (customers)", jan.CustomerRetention(2), 0.5)
	if feb := cs[1]; feb.StartCustomers != 1 || feb.CustomerRetention(1) == nil || *feb.CustomerRetention(1) != 0 {
		t.Errorf("February cohort = %+v, want one customer, gone in March", feb)
	}
}
