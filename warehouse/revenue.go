package warehouse

// # Revenue: computed per customer, stored per month
//
// A customer's revenue is a function of its subscriptions (keel.CustomerSeries
// and keel.CustomerRenewals), and its subscriptions reach the warehouse as
// subscription.changed facts: each one the whole subscription as Postgres
// derives it after the change, with every grant — live and voided — and what
// revenue needs of each (line amount, months, period, approval day, void
// time). The latest fact of each subscription is its state, so the warehouse
// never has to replay history to know it.
//
// Whenever facts of a customer arrive, the facts loader calls
// RecomputeRevenue for that customer: read its latest subscription states
// and the revenue settings from the facts table, compute the whole series
// in Go, insert it as one block with a version marker (migrations
// 0004_revenue.sql explains the table). Computing again is harmless — the
// same inputs give the same rows — so the loader does it for every
// customer of every batch it reads, including facts it has stored before:
// a loader killed after storing facts but before computing revenue
// computes it when the messages are delivered again.
//
// Versions are the time the inputs were read (Unix nanoseconds): a later
// read sees at least the facts an earlier one saw (a fact is stored before
// revenue is computed from it), so the newest version is the one that knew
// the most. Two writers of one customer at once — the loader and a
// `keel revenue rebuild` — can therefore finish in any order.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/keelhq/keel"
)

func revenueSettingsQuery() (string, []any) {
	return `SELECT argMax(payload, fact_id) FROM facts WHERE customer_id = 0 AND kind = ?`, []any{string(keel.FactSettingsChanged)}
}

// RevenueSettings reads the revenue settings of the latest settings.changed
// fact (keel.SettingsFact); METRICS.md's defaults when there is none. The
// location is the caller's to set: it is each process's --tz.
func (s *Store) RevenueSettings(ctx context.Context) (keel.RevenueSettings, error) {
	q, args := revenueSettingsQuery()
	var payload string
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&payload); err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
	}
	if payload == "" {
		return keel.DefaultRevenueSettings, nil
	}
	var f keel.SettingsFact
	if err := json.Unmarshal([]byte(payload), &f); err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
	}
	return f.Revenue.WithDefaults(), nil
}

func subscriptionFactsQuery(customers []uint64) (string, []any) {
	return `SELECT customer_id, fact_id, payload FROM facts WHERE customer_id IN (` + uintList(customers) + `) AND kind = ?
ORDER BY customer_id, fact_id`, []any{string(keel.FactSubscriptionChanged)}
}

// customerSubscriptions reads the latest state of every subscription of
// the given customers.
func (s *Store) customerSubscriptions(ctx context.Context, customers []uint64) (map[uint64][]keel.Subscription, error) {
	q, args := subscriptionFactsQuery(customers)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read subscription facts: %w", err)
	}
	defer rows.Close()
	latest := map[uint64]map[int64]keel.SubscriptionFact{}
	for rows.Next() {
		var customer, id uint64
		var payload string
		if err := rows.Scan(&customer, &id, &payload); err != nil {
			return nil, fmt.Errorf("read subscription facts: %w", err)
		}
		var snap keel.SubscriptionFact
		if err := json.Unmarshal([]byte(payload), &snap); err != nil {
			return nil, fmt.Errorf("subscription fact %d: %w", id, err)
		}
		if latest[customer] == nil {
			latest[customer] = map[int64]keel.SubscriptionFact{}
		}
		latest[customer][snap.ID] = snap // rows come in fact id order: the last one wins
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read subscription facts: %w", err)
	}
	out := make(map[uint64][]keel.Subscription, len(latest))
	for customer, snaps := range latest {
		ids := make([]int64, 0, len(snaps))
		for id := range snaps {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			sub, err := snaps[id].Subscription()
			if err != nil {
				return nil, fmt.Errorf("customer %d subscription %d: %w", customer, id, err)
			}
			out[customer] = append(out[customer], sub)
		}
	}
	return out, nil
}

// RevenueBatch is at most this many customers computed and inserted at
// once: one read of their facts, one insert of their rows.
const RevenueBatch = 500

// RecomputeRevenue computes the revenue of customers again from their
// facts and stores it, in batches of RevenueBatch. Customers with no
// subscription facts get an empty series (a customer whose only order was
// voided keeps no months).
func (s *Store) RecomputeRevenue(ctx context.Context, customers []uint64, loc *time.Location) error {
	if len(customers) == 0 {
		return nil
	}
	settings, err := s.RevenueSettings(ctx)
	if err != nil {
		return err
	}
	settings.Location = loc
	ids := append([]uint64(nil), customers...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for len(ids) > 0 {
		n := min(len(ids), RevenueBatch)
		if err := s.recomputeBatch(ctx, ids[:n], settings); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (s *Store) recomputeBatch(ctx context.Context, customers []uint64, settings keel.RevenueSettings) error {
	version := uint64(time.Now().UnixNano())
	subs, err := s.customerSubscriptions(ctx, customers)
	if err != nil {
		return err
	}
	var rows revenueRows
	now := time.Now().UTC()
	for _, c := range customers {
		id := int64(c)
		rows.addVersion(c, version, now)
		for _, m := range keel.CustomerSeries(id, subs[c], settings) {
			rows.addMonth(m, version, now)
		}
		for _, r := range keel.CustomerRenewals(id, subs[c], settings) {
			rows.addRenewal(r, version, now)
		}
	}
	if err := s.send(ctx, insertRevenue, rows.columns()...); err != nil {
		return fmt.Errorf("insert revenue of %d customers: %w", len(customers), err)
	}
	return nil
}

func revenueCustomersQuery() string {
	return `SELECT DISTINCT customer_id FROM facts WHERE kind = '` + string(keel.FactSubscriptionChanged) + `' ORDER BY customer_id`
}

// RevenueCustomers lists every customer with a subscription fact: whom
// `keel revenue rebuild` computes.
func (s *Store) RevenueCustomers(ctx context.Context) ([]uint64, error) {
	rows, err := s.conn.Query(ctx, revenueCustomersQuery())
	if err != nil {
		return nil, fmt.Errorf("list revenue customers: %w", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list revenue customers: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

const insertRevenue = "INSERT INTO revenue (currency, month, customer_id, row_kind, subscription_id, ends_on, version, den, mrr_num, prev_num, movement, change_num, cohort, product_id, orders, renewal_orders, computed_at)"

// The row kinds of the revenue table.
const (
	rowMonth   = "month"
	rowRenewal = "renewal"
	rowVersion = "version"
)

// versionMonth is where version markers live (currency "", this month).
var versionMonth = time.Unix(0, 0).UTC()

// revenueRows are the columns of one insert into revenue.
type revenueRows struct {
	currency, kind, movement []string
	month, endsOn, cohort    []time.Time
	customer, sub, product   []uint64
	version                  []uint64
	den, mrr, prev, change   []int64
	orders, renewalOrders    [][]uint64
	computedAt               []time.Time
}

func (r *revenueRows) add(cur string, month time.Time, customer uint64, kind string, sub uint64, ends time.Time, version uint64,
	den, mrr, prev int64, movement string, change int64, cohort time.Time, product uint64, orders, renewal []uint64, at time.Time) {
	r.currency = append(r.currency, cur)
	r.month = append(r.month, month)
	r.customer = append(r.customer, customer)
	r.kind = append(r.kind, kind)
	r.sub = append(r.sub, sub)
	r.endsOn = append(r.endsOn, ends)
	r.version = append(r.version, version)
	r.den = append(r.den, den)
	r.mrr = append(r.mrr, mrr)
	r.prev = append(r.prev, prev)
	r.movement = append(r.movement, movement)
	r.change = append(r.change, change)
	r.cohort = append(r.cohort, cohort)
	r.product = append(r.product, product)
	if orders == nil {
		orders = []uint64{}
	}
	if renewal == nil {
		renewal = []uint64{}
	}
	r.orders = append(r.orders, orders)
	r.renewalOrders = append(r.renewalOrders, renewal)
	r.computedAt = append(r.computedAt, at)
}

func (r *revenueRows) addVersion(customer, version uint64, at time.Time) {
	r.add("", versionMonth, customer, rowVersion, 0, versionMonth, version, 1, 0, 0, "", 0, versionMonth, 0, nil, nil, at)
}

// exactOver writes amounts over their least common denominator. Should
// that not fit 64 bits (amounts in the billions with month counts whose
// common multiple is in the millions — no real book), each is rounded to
// whole minor units instead: within half a unit per customer.
func exactOver(amounts ...keel.Exact) (den int64, nums []int64) {
	if d, ok := keel.CommonDen(amounts...); ok {
		nums = make([]int64, len(amounts))
		fits := true
		for i, a := range amounts {
			if nums[i], ok = a.Over(d); !ok {
				fits = false
				break
			}
		}
		if fits {
			return d, nums
		}
	}
	nums = make([]int64, len(amounts))
	for i, a := range amounts {
		nums[i] = a.Round()
	}
	return 1, nums
}

func (r *revenueRows) addMonth(m keel.CustomerMonth, version uint64, at time.Time) {
	den, n := exactOver(m.MRR, m.Previous, m.Change)
	r.add(m.Currency, m.Month.First(), uint64(m.CustomerID), rowMonth, 0, versionMonth, version, den, n[0], n[1],
		string(m.Movement), n[2], m.Cohort.First(), 0, ids(m.Orders), nil, at)
}

func (r *revenueRows) addRenewal(x keel.Renewal, version uint64, at time.Time) {
	den, n := exactOver(x.DueMRR, x.RenewedMRR)
	mv := ""
	if x.Renewed {
		mv = "renewed"
	}
	r.add(x.Currency, x.Due.First(), uint64(x.CustomerID), rowRenewal, uint64(x.SubscriptionID), x.EndsOn, version, den, n[0], 0,
		mv, n[1], versionMonth, uint64(x.ProductID), ids(x.Orders), ids(x.RenewalOrders), at)
}

func ids(xs []int64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = uint64(x)
	}
	return out
}

func (r *revenueRows) columns() []any {
	return []any{r.currency, r.month, r.customer, r.kind, r.sub, r.endsOn, r.version, r.den, r.mrr, r.prev, r.movement, r.change,
		r.cohort, r.product, r.orders, r.renewalOrders, r.computedAt}
}

const insertSpend = "INSERT INTO revenue_spend (currency, month, amount, fact_id)"

// InsertSpend stores spend.set facts in revenue_spend; a fact stored twice
// is one row in effect (queries take the amount of the latest fact id).
// The facts loader parks spend facts whose data does not decode
// (checkRevenueFact), so an error here is ClickHouse's.
func (s *Store) InsertSpend(ctx context.Context, facts []keel.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	var cur []string
	var month []time.Time
	var amount []int64
	var id []uint64
	for _, f := range facts {
		sp, m, err := spendOf(f)
		if err != nil {
			return fmt.Errorf("spend fact %d: %w", f.ID, err)
		}
		cur, month, amount, id = append(cur, sp.Currency), append(month, m.First()), append(amount, sp.Amount), append(id, uint64(f.ID))
	}
	if err := s.send(ctx, insertSpend, cur, month, amount, id); err != nil {
		return fmt.Errorf("insert %d spend facts: %w", len(facts), err)
	}
	return nil
}

func spendOf(f keel.Fact) (keel.SpendFact, keel.Month, error) {
	var sp keel.SpendFact
	if err := json.Unmarshal(f.Data, &sp); err != nil {
		return sp, 0, fmt.Errorf("data: %v", err)
	}
	m, err := keel.ParseMonth("data.month", sp.Month)
	if err != nil {
		return sp, 0, errors.New(keel.ErrorMessage(err))
	}
	if err := keel.ValidCurrency("data.currency", sp.Currency); err != nil {
		return sp, 0, errors.New(keel.ErrorMessage(err))
	}
	if sp.Amount < 0 || sp.Amount > keel.MaxAmount {
		return sp, 0, fmt.Errorf("data.amount: %d is out of range", sp.Amount)
	}
	return sp, m, nil
}

// checkRevenueFact returns an error naming the field when a fact revenue
// reads has data revenue could not use; the facts loader parks such a
// message instead of storing it, so a bad fact can never stop the
// computation of anyone's revenue.
func checkRevenueFact(f keel.Fact) error {
	switch f.Kind {
	case keel.FactSubscriptionChanged:
		var sf keel.SubscriptionFact
		if err := json.Unmarshal(f.Data, &sf); err != nil {
			return fmt.Errorf("data: %v", err)
		}
		if _, err := sf.Subscription(); err != nil {
			return fmt.Errorf("data.%v", err)
		}
	case keel.FactSettingsChanged:
		var sf keel.SettingsFact
		if err := json.Unmarshal(f.Data, &sf); err != nil {
			return fmt.Errorf("data: %v", err)
		}
		if err := sf.Revenue.WithDefaults().Validate(); err != nil {
			return fmt.Errorf("data.revenue.%s", keel.ErrorMessage(err))
		}
	case keel.FactSpendSet:
		_, _, err := spendOf(f)
		return err
	}
	return nil
}
