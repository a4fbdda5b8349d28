package warehouse

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/keelhq/keel"
)

// revenueLatest keeps only the rows of each customer's latest computation
// (see 0004_revenue.sql): the version markers sort first in the table, so
// the lookup reads a small range. GLOBAL: on a cluster the latest versions
// are found once, across the shards, on the node asked
// (migrations/cluster.go); on one server it is a plain IN.
const revenueLatest = `(customer_id, version) GLOBAL IN (SELECT customer_id, max(version) FROM revenue
    WHERE currency = '' AND month = toDate('1970-01-01') AND row_kind = 'version' GROUP BY customer_id)`

// revenueStampQuery sums each customer's latest version (see
// RevenueStamp).
func revenueStampQuery() string {
	return `SELECT count(), sum(v), max(v) FROM (SELECT customer_id, max(version) AS v FROM revenue
    WHERE currency = '' AND month = toDate('1970-01-01') AND row_kind = 'version' GROUP BY customer_id)`
}

// RevenueStamp names what the revenue reads answer: every read takes each
// customer's rows of its latest version (revenueLatest), and a version's
// rows never change once inserted, so the reads are a function of the
// latest version of every customer. The stamp sums them. A customer's
// latest version only grows (a later computation replaces it, a merge
// keeps it), so any new computation — a restatement, a rebuild, a new
// customer — changes Sum or Customers, whatever order two writers finish
// in; max(version) alone would miss a writer finishing after a newer one.
// Merges change nothing it counts. (Sum is modulo 2^64: it repeats only if
// the versions of all computations since grew by an exact multiple of it.)
type RevenueStamp struct {
	Customers, Sum, Latest uint64
}

// RevenueStamp reads the revenue table's stamp: one pass over the version
// markers, which sort first in the table.
func (s *Store) RevenueStamp(ctx context.Context) (RevenueStamp, error) {
	var st RevenueStamp
	if err := s.conn.QueryRow(ctx, revenueStampQuery()).Scan(&st.Customers, &st.Sum, &st.Latest); err != nil {
		return RevenueStamp{}, fmt.Errorf("revenue stamp: %w", err)
	}
	return st, nil
}

func monthArg(m keel.Month) string { return m.First().Format(time.DateOnly) }

func monthTableQuery(currency string, from, to keel.Month) (string, []any) {
	return `SELECT month, den, sum(mrr_num), sumIf(change_num, movement = 'new'), sumIf(change_num, movement = 'expansion'),
    sumIf(change_num, movement = 'contraction'), sumIf(change_num, movement = 'churn'), sumIf(change_num, movement = 'reactivation'),
    countIf(mrr_num > 0), countIf(movement = 'new'), countIf(movement = 'churn'), countIf(movement = 'reactivation')
FROM revenue FINAL
WHERE currency = ? AND row_kind = 'month' AND month >= toDate(?) AND month <= toDate(?) AND ` + revenueLatest + `
GROUP BY month, den
ORDER BY month, den`, []any{currency, monthArg(from), monthArg(to)}
}

// MonthTable is the company's revenue in currency for every month from..to
// (both included; months without revenue are zero), summed exactly.
func (s *Store) MonthTable(ctx context.Context, currency string, from, to keel.Month) ([]keel.MonthTotal, error) {
	q, args := monthTableQuery(currency, from, to)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue month table: %w", err)
	}
	defer rows.Close()
	type acc struct {
		mrr, new, exp, con, churn, react keel.ExactSum
		t                                keel.MonthTotal
	}
	sums := map[keel.Month]*acc{}
	for rows.Next() {
		var month time.Time
		var den, mrr, nw, exp, con, churn, react int64
		var paying, newC, churnC, reactC uint64
		if err := rows.Scan(&month, &den, &mrr, &nw, &exp, &con, &churn, &react, &paying, &newC, &churnC, &reactC); err != nil {
			return nil, fmt.Errorf("revenue month table: %w", err)
		}
		m := keel.MonthOf(month)
		a := sums[m]
		if a == nil {
			a = &acc{}
			sums[m] = a
		}
		a.mrr.AddFrac(mrr, den)
		a.new.AddFrac(nw, den)
		a.exp.AddFrac(exp, den)
		a.con.AddFrac(con, den)
		a.churn.AddFrac(churn, den)
		a.react.AddFrac(react, den)
		a.t.Customers += int64(paying)
		a.t.NewCustomers += int64(newC)
		a.t.ChurnedCustomers += int64(churnC)
		a.t.ReactivatedCustomers += int64(reactC)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revenue month table: %w", err)
	}
	out := make([]keel.MonthTotal, 0, int(to-from)+1)
	for m := from; m <= to; m++ {
		t := keel.MonthTotal{Month: m, Currency: currency}
		if a := sums[m]; a != nil {
			t = a.t
			t.Month, t.Currency = m, currency
			t.MRR, _ = a.mrr.Exact()
			t.New, _ = a.new.Exact()
			t.Expansion, _ = a.exp.Exact()
			t.Contraction, _ = a.con.Exact()
			t.Churn, _ = a.churn.Exact()
			t.Reactivation, _ = a.react.Exact()
		}
		out = append(out, t)
	}
	return out, nil
}

// RevenueFilter selects customer months.
type RevenueFilter struct {
	Currency string
	Month    keel.Month
	Movement keel.Movement // MoveNone: every customer paying in the month
	Customer int64         // one customer's months in every currency, any month (Currency and Month then ignored)
	Cohort   keel.Month    // 0: any; else customers of that cohort (with Month)
	Limit    int           // 0: all; else the first Limit by MRR, largest first
}

func customerMonthsQuery(f RevenueFilter) (string, []any) {
	where, args := "row_kind = 'month'", []any{}
	switch {
	case f.Customer != 0:
		where += " AND customer_id = ?"
		args = append(args, uint64(f.Customer))
	default:
		where += " AND currency = ? AND month = toDate(?)"
		args = append(args, f.Currency, monthArg(f.Month))
		if f.Movement != keel.MoveNone {
			where += " AND movement = ?"
			args = append(args, string(f.Movement))
		} else {
			where += " AND mrr_num > 0"
		}
		if f.Cohort != 0 {
			where += " AND cohort = toDate(?)"
			args = append(args, monthArg(f.Cohort))
		}
	}
	q := `SELECT customer_id, currency, month, den, mrr_num, prev_num, movement, change_num, cohort, orders
FROM revenue FINAL
WHERE ` + where + ` AND ` + revenueLatest + `
ORDER BY mrr_num / den DESC, customer_id`
	if f.Customer != 0 {
		q = `SELECT customer_id, currency, month, den, mrr_num, prev_num, movement, change_num, cohort, orders
FROM revenue FINAL
WHERE ` + where + ` AND ` + revenueLatest + `
ORDER BY currency, month`
	}
	if f.Limit > 0 {
		q += fmt.Sprintf("\nLIMIT %d", f.Limit)
	}
	return q, args
}

// CustomerMonths lists customers' months: who moved in a month (with
// Movement), who paid in it, or one customer's whole history.
func (s *Store) CustomerMonths(ctx context.Context, f RevenueFilter) ([]keel.CustomerMonth, error) {
	if f.Customer == 0 && f.Currency == "" {
		return nil, keel.Errorf(keel.EINVALID, "currency: required")
	}
	q, args := customerMonthsQuery(f)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue customers: %w", err)
	}
	defer rows.Close()
	var out []keel.CustomerMonth
	for rows.Next() {
		var id uint64
		var cur, mv string
		var month, cohort time.Time
		var den, mrr, prev, change int64
		var orders []uint64
		if err := rows.Scan(&id, &cur, &month, &den, &mrr, &prev, &mv, &change, &cohort, &orders); err != nil {
			return nil, fmt.Errorf("revenue customers: %w", err)
		}
		m := keel.CustomerMonth{CustomerID: int64(id), Currency: cur, Month: keel.MonthOf(month), MRR: keel.ExactRatio(mrr, den),
			Previous: keel.ExactRatio(prev, den), Movement: keel.Movement(mv), Change: keel.ExactRatio(change, den), Cohort: keel.MonthOf(cohort)}
		for _, o := range orders {
			m.Orders = append(m.Orders, int64(o))
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func cohortsQuery(currency string, from, to keel.Month) (string, []any) {
	return `SELECT cohort, month, den, sum(mrr_num), countIf(mrr_num > 0)
FROM revenue FINAL
WHERE currency = ? AND row_kind = 'month' AND cohort >= toDate(?) AND month <= toDate(?) AND ` + revenueLatest + `
GROUP BY cohort, month, den
ORDER BY cohort, month`, []any{currency, monthArg(from), monthArg(to)}
}

// Cohorts is the cohort grid of currency: customers by the month of their
// first paid MRR (cohorts from..to), each cohort's MRR and paying
// customers in every month from its own through to.
func (s *Store) Cohorts(ctx context.Context, currency string, from, to keel.Month) ([]keel.Cohort, error) {
	q, args := cohortsQuery(currency, from, to)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue cohorts: %w", err)
	}
	defer rows.Close()
	type key struct{ c, m keel.Month }
	mrr := map[key]*keel.ExactSum{}
	paying := map[key]int64{}
	cohorts := map[keel.Month]bool{}
	for rows.Next() {
		var cohort, month time.Time
		var den, num int64
		var n uint64
		if err := rows.Scan(&cohort, &month, &den, &num, &n); err != nil {
			return nil, fmt.Errorf("revenue cohorts: %w", err)
		}
		k := key{keel.MonthOf(cohort), keel.MonthOf(month)}
		if mrr[k] == nil {
			mrr[k] = &keel.ExactSum{}
		}
		mrr[k].AddFrac(num, den)
		paying[k] += int64(n)
		cohorts[k.c] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revenue cohorts: %w", err)
	}
	var months []keel.Month
	for c := range cohorts {
		months = append(months, c)
	}
	sort.Slice(months, func(i, j int) bool { return months[i] < months[j] })
	var out []keel.Cohort
	for _, c := range months {
		co := keel.Cohort{Cohort: c}
		for m := c; m <= to; m++ {
			cell := keel.CohortCell{Cohort: c, Month: m, Customers: paying[key{c, m}]}
			if sum := mrr[key{c, m}]; sum != nil {
				cell.MRR, _ = sum.Exact()
			}
			co.Cells = append(co.Cells, cell)
		}
		co.StartMRR, co.StartCustomers = co.Cells[0].MRR, co.Cells[0].Customers
		out = append(out, co)
	}
	return out, nil
}

func renewalsQuery(currency string, from, to keel.Month, customer int64) (string, []any) {
	where, args := "currency = ? AND row_kind = 'renewal' AND month >= toDate(?) AND month <= toDate(?)", []any{currency, monthArg(from), monthArg(to)}
	if customer != 0 {
		where += " AND customer_id = ?"
		args = append(args, uint64(customer))
	}
	return `SELECT customer_id, subscription_id, product_id, ends_on, den, mrr_num, movement, change_num, orders, renewal_orders
FROM revenue FINAL
WHERE ` + where + ` AND ` + revenueLatest + `
ORDER BY ends_on, customer_id, subscription_id`, args
}

// Renewals lists the renewals due in currency in months from..to (of one
// customer when customer is not 0), soonest first.
func (s *Store) Renewals(ctx context.Context, currency string, from, to keel.Month, customer int64) ([]keel.Renewal, error) {
	q, args := renewalsQuery(currency, from, to, customer)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue renewals: %w", err)
	}
	defer rows.Close()
	var out []keel.Renewal
	for rows.Next() {
		var cust, sub, product uint64
		var ends time.Time
		var den, due, renewed int64
		var mv string
		var orders, renewals []uint64
		if err := rows.Scan(&cust, &sub, &product, &ends, &den, &due, &mv, &renewed, &orders, &renewals); err != nil {
			return nil, fmt.Errorf("revenue renewals: %w", err)
		}
		r := keel.Renewal{CustomerID: int64(cust), SubscriptionID: int64(sub), ProductID: int64(product), Currency: currency,
			EndsOn: ends.UTC(), Due: keel.MonthOf(ends), DueMRR: keel.ExactRatio(due, den), Renewed: mv == "renewed", RenewedMRR: keel.ExactRatio(renewed, den)}
		for _, o := range orders {
			r.Orders = append(r.Orders, int64(o))
		}
		for _, o := range renewals {
			r.RenewalOrders = append(r.RenewalOrders, int64(o))
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func currenciesQuery(m keel.Month) (string, []any) {
	return `SELECT currency, den, sumIf(mrr_num, month = toDate(?))
FROM revenue FINAL
WHERE currency != '' AND row_kind = 'month' AND month <= toDate(?) AND ` + revenueLatest + `
GROUP BY currency, den`, []any{monthArg(m), monthArg(m)}
}

// CurrencyMRR is a currency the books have, with its MRR in a month.
type CurrencyMRR struct {
	Currency string
	MRR      keel.Exact // in the month asked for
}

// Currencies lists every currency with revenue up to month m, the one
// with the most MRR in m first (the dashboard's default when no main
// currency is set).
func (s *Store) Currencies(ctx context.Context, m keel.Month) ([]CurrencyMRR, error) {
	q, args := currenciesQuery(m)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue currencies: %w", err)
	}
	defer rows.Close()
	sums := map[string]*keel.ExactSum{}
	for rows.Next() {
		var cur string
		var den, num int64
		if err := rows.Scan(&cur, &den, &num); err != nil {
			return nil, fmt.Errorf("revenue currencies: %w", err)
		}
		if sums[cur] == nil {
			sums[cur] = &keel.ExactSum{}
		}
		sums[cur].AddFrac(num, den)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revenue currencies: %w", err)
	}
	out := make([]CurrencyMRR, 0, len(sums))
	for c, sum := range sums {
		e, _ := sum.Exact()
		out = append(out, CurrencyMRR{Currency: c, MRR: e})
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].MRR.Float(), out[j].MRR.Float(); a != b {
			return a > b
		}
		return out[i].Currency < out[j].Currency
	})
	return out, nil
}

func spendQuery(currency string, from, to keel.Month) (string, []any) {
	return `SELECT month, argMax(amount, fact_id) FROM revenue_spend
WHERE currency = ? AND month >= toDate(?) AND month <= toDate(?)
GROUP BY month`, []any{currency, monthArg(from), monthArg(to)}
}

// Spend is the sales and marketing spend of currency per month, from..to.
func (s *Store) Spend(ctx context.Context, currency string, from, to keel.Month) (map[keel.Month]int64, error) {
	q, args := spendQuery(currency, from, to)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("revenue spend: %w", err)
	}
	defer rows.Close()
	out := map[keel.Month]int64{}
	for rows.Next() {
		var month time.Time
		var amount int64
		if err := rows.Scan(&month, &amount); err != nil {
			return nil, fmt.Errorf("revenue spend: %w", err)
		}
		out[keel.MonthOf(month)] = amount
	}
	return out, rows.Err()
}

// SaaS computes month m's SaaS metrics in currency (keel.SaaSMetrics) from
// the month table of the seven months up to m and the spend, with the
// revenue settings of the facts.
func (s *Store) SaaS(ctx context.Context, currency string, m keel.Month) (keel.SaaS, error) {
	settings, err := s.RevenueSettings(ctx)
	if err != nil {
		return keel.SaaS{}, err
	}
	totals, err := s.MonthTable(ctx, currency, m-7, m)
	if err != nil {
		return keel.SaaS{}, err
	}
	spend, err := s.Spend(ctx, currency, m-3, m)
	if err != nil {
		return keel.SaaS{}, err
	}
	return keel.SaaSMetrics(totals, spend, settings), nil
}
