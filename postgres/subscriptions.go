package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// grantColumns are a grant's own columns and what revenue needs of its
// order line and order: the line's price (its total and months give the
// exact MRR), the payment's day (the day the order counts as approved) and
// when the order was voided.
const grantColumns = `g.id, g.subscription_id, s.product_id, g.order_id, g.line_id, o.kind, g.kind, g.trial, g.quantity,
	g.starts_on, g.ends_on, g.monthly_amount, g.currency, g.void,
	l.unit_amount, l.quantity, l.months, l.period, coalesce(o.paid_at, o.decided_at), o.voided_at`

const grantFrom = ` FROM grants g JOIN subscriptions s ON s.id = g.subscription_id JOIN orders o ON o.id = g.order_id
	JOIN order_lines l ON l.id = g.line_id`

func scanGrant(row pgx.Row) (keel.Grant, error) {
	var g keel.Grant
	var end, approved, voided *time.Time
	var line keel.OrderLine
	if err := row.Scan(&g.ID, &g.SubscriptionID, &g.ProductID, &g.OrderID, &g.LineID, &g.OrderKind, &g.Kind, &g.Trial,
		&g.Quantity, &g.Start, &end, &g.MonthlyAmount, &g.Currency, &g.Void,
		&line.UnitAmount, &line.Quantity, &line.Months, &line.Period, &approved, &voided); err != nil {
		return keel.Grant{}, err
	}
	g.Start = keel.Date(g.Start)
	if end != nil {
		g.End = keel.Date(*end)
	}
	if g.Kind == keel.GrantTerm {
		g.Amount, g.Months, g.Period = line.Total(), line.Months, line.Period
		if g.Trial {
			g.Amount = 0
		}
	}
	if approved != nil {
		g.ApprovedOn = keel.Date(*approved)
	}
	if g.Void && voided != nil {
		t := voided.UTC()
		g.VoidedAt = &t
	}
	return g, nil
}

// loadGrants reads the grants that match where (over grants g,
// subscriptions s and orders o), oldest first.
func loadGrants(ctx context.Context, q querier, where string, args ...any) ([]keel.Grant, error) {
	rows, err := q.Query(ctx, `SELECT `+grantColumns+grantFrom+` WHERE `+where+` ORDER BY g.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	out := []keel.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("read grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return out, nil
}

// loadSubscriptions reads the subscriptions that match where (over
// subscriptions s and products p), by id, each with all its grants — void
// ones too, as keel.Subscription expects.
func loadSubscriptions(ctx context.Context, q querier, where string, args ...any) ([]keel.Subscription, error) {
	rows, err := q.Query(ctx,
		`SELECT s.id, s.customer_id, s.product_id, p.kind FROM subscriptions s JOIN products p ON p.id = s.product_id
		 WHERE `+where+` ORDER BY s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rows.Close()
	var subs []keel.Subscription
	for rows.Next() {
		var s keel.Subscription
		if err := rows.Scan(&s.ID, &s.CustomerID, &s.ProductID, &s.ProductKind); err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		s.Grants = []keel.Grant{}
		subs = append(subs, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	rows.Close()
	if len(subs) == 0 {
		return subs, nil
	}
	ids := make([]int64, len(subs))
	at := map[int64]int{}
	for i, s := range subs {
		ids[i], at[s.ID] = s.ID, i
	}
	grants, err := loadGrants(ctx, q, "g.subscription_id = ANY($1)", ids)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		i := at[g.SubscriptionID]
		subs[i].Grants = append(subs[i].Grants, g)
	}
	return subs, nil
}

// subscriptionStatusSQL is keel.Subscription.Status in SQL over
// live_terms, for filtering a list by status: $today is the day. A
// subscription with no live terms has no row (void). A test checks it
// against the domain.
const subscriptionStatusSQL = `SELECT subscription_id, CASE
	WHEN bool_or(starts_on <= $today AND $today < ends_on) THEN 'active'
	WHEN $today < max(ends_on) THEN 'pending'
	ELSE 'ended' END AS status
	FROM live_terms GROUP BY subscription_id`

// Subscriptions lists subscriptions by id with their grants, and the number
// that match the filter (Status as derived today). It returns EINVALID for a
// bad page or status.
func (db *DB) Subscriptions(ctx context.Context, f keel.SubscriptionFilter) ([]keel.Subscription, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var c conds
	from := ` FROM subscriptions s JOIN products p ON p.id = s.product_id`
	if f.Status != "" {
		if err := keel.OneOf("status", f.Status, keel.SubscriptionStatuses); err != nil {
			return nil, 0, err
		}
		today := c.arg(db.today())
		from += ` LEFT JOIN (` + strings.ReplaceAll(subscriptionStatusSQL, "$today", today+"::date") + `) st ON st.subscription_id = s.id`
		c.add("coalesce(st.status, 'void') = ?", string(f.Status))
	}
	if f.CustomerID != 0 {
		c.add("s.customer_id = ?", f.CustomerID)
	}
	if f.ProductID != 0 {
		c.add("s.product_id = ?", f.ProductID)
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, `SELECT count(*)`+from+c.sql(), c.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count subscriptions: %w", err)
	}
	sql := `SELECT s.id` + from + c.sql() + ` ORDER BY s.id` + c.page(p)
	rows, err := tx.Query(ctx, sql, c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	subs, err := loadSubscriptions(ctx, tx, "s.id = ANY($1)", ids)
	if err != nil {
		return nil, 0, err
	}
	if subs == nil {
		subs = []keel.Subscription{}
	}
	return subs, total, nil
}

func day(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

// subscriptionsChanged sends one subscription.changed fact per subscription
// in ids, read inside the change after its grants were written.
func (c *change) subscriptionsChanged(ctx context.Context, customer keel.Customer, ids []int64) error {
	subs, err := loadSubscriptions(ctx, c.tx, "s.id = ANY($1)", ids)
	if err != nil {
		return err
	}
	type product struct{ code, unit string }
	products := map[int64]product{}
	rows, err := c.tx.Query(ctx, `SELECT p.id, p.code, p.unit FROM products p JOIN subscriptions s ON s.product_id = p.id WHERE s.id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read product codes: %w", err)
	}
	for rows.Next() {
		var id int64
		var p product
		if err := rows.Scan(&id, &p.code, &p.unit); err != nil {
			rows.Close()
			return fmt.Errorf("read product codes: %w", err)
		}
		products[id] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read product codes: %w", err)
	}
	for _, s := range subs {
		p := products[s.ProductID]
		if err := c.fact(ctx, keel.FactSubscriptionChanged, customer.ID, customer.TenantID, keel.SubscriptionFactOf(s, p.code, p.unit, c.today())); err != nil {
			return err
		}
	}
	return nil
}
