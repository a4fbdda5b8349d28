package console

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The revenue area reads every number from the warehouse's revenue table
// (warehouse/revenue_queries.go), which sums exact fractions; an amount
// becomes a number people read only here, rounded half up once
// (keel.Exact.Round). What the area keeps in Postgres — the revenue
// settings and the spend finance enters — is read and written through
// RevenueStore, which checks the role and writes the audit log itself.

// RevenueReader is what the revenue pages and API read from ClickHouse.
type RevenueReader interface {
	MonthTable(ctx context.Context, currency string, from, to keel.Month) ([]keel.MonthTotal, error)
	CustomerMonths(ctx context.Context, f warehouse.RevenueFilter) ([]keel.CustomerMonth, error)
	Cohorts(ctx context.Context, currency string, from, to keel.Month) ([]keel.Cohort, error)
	Renewals(ctx context.Context, currency string, from, to keel.Month, customer int64) ([]keel.Renewal, error)
	Currencies(ctx context.Context, m keel.Month) ([]warehouse.CurrencyMRR, error)
	Spend(ctx context.Context, currency string, from, to keel.Month) (map[keel.Month]int64, error)
	// RevenueStamp names what the reads above (all but Spend) answer, for
	// the console's cache (revenue_cache.go).
	RevenueStamp(ctx context.Context) (warehouse.RevenueStamp, error)
}

var _ RevenueReader = (*warehouse.Store)(nil)

// RevenueStore is the revenue area's records in Postgres: the settings
// (admin writes them) and the monthly spend (finance and admin).
type RevenueStore interface {
	RevenueSettings(ctx context.Context) (keel.RevenueSettings, error)
	SetRevenueSettings(ctx context.Context, by keel.Employee, s keel.RevenueSettings) (keel.RevenueSettings, error)
	SetSpend(ctx context.Context, by keel.Employee, s keel.Spend) (keel.Spend, error)
	Spend(ctx context.Context, from, to keel.Month) ([]keel.Spend, error)
}

// fallbackCurrency is the currency of a company with no revenue and no
// price yet: the one a trial order, which costs nothing, is kept in.
const fallbackCurrency = "USD"

// revenueReady refuses when the console runs without the warehouse's
// revenue or without Postgres.
func (s *server) revenueReady() error {
	if s.Revenue == nil || s.revenueRecords == nil {
		return keel.Errorf(keel.EUNAVAILABLE, "revenue is not available: this console runs without the warehouse")
	}
	return nil
}

// thisMonth is the month of today, the reporting day.
func (s *server) thisMonth() keel.Month { return keel.MonthOf(s.day()) }

// revenueCurrency is the currency a revenue request reads: the one asked
// for (a currency Keel knows, else EINVALID naming currency); else the
// main currency of the settings; else the one with the most MRR this
// month (or, before any, in month m); else the currency of the first
// price in the catalogue; else fallbackCurrency.
func (s *server) revenueCurrency(ctx context.Context, asked string, settings keel.RevenueSettings, m keel.Month) (string, error) {
	if asked != "" {
		return asked, keel.ValidCurrency("currency", asked)
	}
	if settings.MainCurrency != "" {
		return settings.MainCurrency, nil
	}
	cs, err := s.Revenue.Currencies(ctx, s.thisMonth())
	if err == nil && len(cs) == 0 && m > s.thisMonth() {
		cs, err = s.Revenue.Currencies(ctx, m)
	}
	if err != nil {
		return "", err
	}
	if len(cs) > 0 {
		return cs[0].Currency, nil
	}
	entries, err := s.catalogue.Products(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		for _, v := range e.Versions {
			if v.Currency != "" {
				return v.Currency, nil
			}
		}
	}
	return fallbackCurrency, nil
}

// revenueCurrencies are the currencies a picker offers: those with revenue
// (most MRR first), then the main currency and the one shown if neither
// has revenue yet.
func (s *server) revenueCurrencies(ctx context.Context, settings keel.RevenueSettings, shown string) ([]string, error) {
	cs, err := s.Revenue.Currencies(ctx, s.thisMonth())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Currency)
	}
	for _, c := range []string{settings.MainCurrency, shown} {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// saasAt computes month m's SaaS metrics in currency cur from the month
// table of the seven months before it and the spend the warehouse holds,
// with the settings of the request (keel.SaaSMetrics). The settings it
// uses — NRR with reactivation, the CAC window, the gross margin — apply
// when the metrics are read, so the saved ones count at once.
func (s *server) saasAt(ctx context.Context, cur string, m keel.Month, settings keel.RevenueSettings) (keel.SaaS, error) {
	var totals []keel.MonthTotal
	var spend map[keel.Month]int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		totals, err = s.Revenue.MonthTable(gctx, cur, m-7, m)
		return err
	})
	g.Go(func() (err error) {
		spend, err = s.Revenue.Spend(gctx, cur, m-3, m)
		return err
	})
	if err := g.Wait(); err != nil {
		return keel.SaaS{}, err
	}
	return saasOf(totals, spend, cur, m, settings), nil
}

// saasOf is month m's SaaS metrics in currency cur from a month table
// that holds m and the seven months before it (and maybe more).
func saasOf(totals []keel.MonthTotal, spend map[keel.Month]int64, cur string, m keel.Month, settings keel.RevenueSettings) keel.SaaS {
	var window []keel.MonthTotal
	for _, t := range totals {
		if t.Month >= m-7 && t.Month <= m {
			window = append(window, t)
		}
	}
	out := keel.SaaSMetrics(window, spend, settings)
	out.Month, out.Currency = m, cur
	return out
}

// customersBehind lists the customers behind a month's number: those who
// moved by kind (every movement when kind is ""), of one cohort unless
// cohort is 0, in the order the MRR bridge stacks the movements, largest
// change first within each.
func (s *server) customersBehind(ctx context.Context, cur string, m keel.Month, kind keel.Movement, cohort keel.Month) ([]keel.CustomerMonth, error) {
	kinds := []keel.Movement{kind}
	if kind == keel.MoveNone {
		kinds = keel.Movements
	}
	found := make([][]keel.CustomerMonth, len(kinds))
	g, gctx := errgroup.WithContext(ctx)
	for i, k := range kinds {
		g.Go(func() (err error) {
			found[i], err = s.Revenue.CustomerMonths(gctx, warehouse.RevenueFilter{Currency: cur, Month: m, Movement: k, Cohort: cohort})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []keel.CustomerMonth
	for _, rows := range found {
		slices.SortStableFunc(rows, func(a, b keel.CustomerMonth) int {
			return cmpExact(b.Change, a.Change)
		})
		out = append(out, rows...)
	}
	return out, nil
}

// cmpExact compares two exact amounts.
func cmpExact(a, b keel.Exact) int {
	var d keel.ExactSum
	d.Add(a)
	d.Sub(b)
	e, _ := d.Exact()
	return e.Sign()
}

// exactDiff is a − b, exactly.
func exactDiff(a, b keel.Exact) keel.Exact {
	var d keel.ExactSum
	d.Add(a)
	d.Sub(b)
	e, _ := d.Exact()
	return e
}

// roundHalfUp rounds a metric computed in floating point (ARPA, LTV, CAC
// in minor units) the way exact amounts are rounded.
func roundHalfUp(f float64) int64 { return int64(math.Floor(f + 0.5)) }

// minorUnits is a ratio of minor units rounded to whole ones; nil stays
// nil ("n/a").
func minorUnits(r keel.Ratio) *int64 {
	if r == nil {
		return nil
	}
	n := roundHalfUp(*r)
	return &n
}

// revenueLink is the page of the customers behind a number.
func revenueLink(path, cur string, m keel.Month, more ...string) string {
	q := url.Values{"currency": {cur}, "month": {m.String()}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return path + "?" + q.Encode()
}

// orderRefs are an order list's ids with where to follow them.
type orderRef struct {
	ID   int64  `json:"id"`
	URL  string `json:"url"`  // the order in the API
	Page string `json:"page"` // the order's page in the console
}

func orderRefsOf(ids []int64) []orderRef {
	out := make([]orderRef, len(ids))
	for i, id := range ids {
		out[i] = orderRef{ID: id, URL: location("orders", id), Page: "/orders/" + strconv.FormatInt(id, 10)}
	}
	return out
}

// customerIDs are the distinct customers of rows, for their names.
func customerIDs(rows []keel.CustomerMonth) []int64 {
	seen := make(map[int64]bool, len(rows))
	var ids []int64
	for _, r := range rows {
		if !seen[r.CustomerID] {
			seen[r.CustomerID] = true
			ids = append(ids, r.CustomerID)
		}
	}
	return ids
}

// monthRenewals are a month's renewals in a currency with what the API
// and the page show beside them: the products' and customers' names.
type monthRenewals struct {
	renewals []keel.Renewal
	products products
	names    map[int64]string
}

// readMonthRenewals reads the terms due to end in month m and whether they
// were renewed, with the names to show them by.
func (s *server) readMonthRenewals(ctx context.Context, cur string, m keel.Month) (monthRenewals, error) {
	var out monthRenewals
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		out.renewals, err = s.Revenue.Renewals(gctx, cur, m, m, 0)
		return err
	})
	g.Go(func() (err error) {
		out.products, err = s.productNames(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return out, err
	}
	ids := make([]int64, len(out.renewals))
	for i, x := range out.renewals {
		ids[i] = x.CustomerID
	}
	var err error
	out.names, err = s.customers.CustomerNames(ctx, ids)
	return out, err
}
