package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// sectionHealth is the settings row of the health settings.
const sectionHealth = "health"

// HealthSettings reads the health settings; METRICS.md's defaults when
// none were saved.
func (db *DB) HealthSettings(ctx context.Context) (keel.HealthSettings, error) {
	var raw []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE section = $1`, sectionHealth).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.DefaultHealthSettings.WithDefaults(), nil
	}
	if err != nil {
		return keel.HealthSettings{}, fmt.Errorf("read health settings: %w", err)
	}
	var s keel.HealthSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return keel.HealthSettings{}, fmt.Errorf("read health settings: %w", err)
	}
	return s.WithDefaults(), nil
}

// SetHealthSettings saves the health settings (keel.ActSettingsWrite),
// audited; the next scoring uses them. It returns EINVALID naming the
// field for a bad setting (a negative weight, all weights zero …).
func (db *DB) SetHealthSettings(ctx context.Context, by keel.Employee, s keel.HealthSettings) (keel.HealthSettings, error) {
	if err := s.Validate(); err != nil {
		return keel.HealthSettings{}, err
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.HealthSettings{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActSettingsWrite); err != nil {
		return keel.HealthSettings{}, err
	}
	before := keel.DefaultHealthSettings.WithDefaults()
	var raw []byte
	switch err := c.tx.QueryRow(ctx, `SELECT value FROM settings WHERE section = $1 FOR NO KEY UPDATE`, sectionHealth).Scan(&raw); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return keel.HealthSettings{}, fmt.Errorf("read health settings: %w", err)
	default:
		if err := json.Unmarshal(raw, &before); err != nil {
			return keel.HealthSettings{}, fmt.Errorf("read health settings: %w", err)
		}
	}
	value, err := json.Marshal(s)
	if err != nil {
		return keel.HealthSettings{}, err
	}
	var id int64
	if err := c.tx.QueryRow(ctx, `INSERT INTO settings (section, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (section) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at
		RETURNING id`, sectionHealth, value, nullID(c.by.ID), c.now).Scan(&id); err != nil {
		return keel.HealthSettings{}, fmt.Errorf("save health settings: %w", err)
	}
	if err := c.audit(ctx, "settings.health", "settings", id, before, s); err != nil {
		return keel.HealthSettings{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.HealthSettings{}, fmt.Errorf("save health settings: %w", err)
	}
	return s, nil
}

// HealthCustomer is what scoring reads of one customer's records: its
// product tenant, owners, subscriptions (with every grant, voided ones
// too) and approved or voided orders.
type HealthCustomer struct {
	ID            int64
	Name          string
	TenantID      string
	SalesOwner    *int64
	CSMOwner      *int64
	Subscriptions []keel.Subscription
	Orders        []keel.Order
}

// HealthRecords reads every customer with a subscription, with what
// scoring needs, and every product's unit: one read for a whole run, so a
// backfill of many days reads the records once.
func (db *DB) HealthRecords(ctx context.Context) ([]HealthCustomer, map[int64]string, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, nil, fmt.Errorf("read health records: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT c.id, c.name, coalesce(c.tenant_id, ''), c.sales_owner, c.csm_owner FROM customers c
		WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = c.id) ORDER BY c.id`)
	if err != nil {
		return nil, nil, fmt.Errorf("read health records: %w", err)
	}
	var out []HealthCustomer
	at := map[int64]int{}
	for rows.Next() {
		var c HealthCustomer
		if err := rows.Scan(&c.ID, &c.Name, &c.TenantID, &c.SalesOwner, &c.CSMOwner); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read health records: %w", err)
		}
		at[c.ID] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read health records: %w", err)
	}
	subs, err := loadSubscriptions(ctx, tx, "true")
	if err != nil {
		return nil, nil, err
	}
	for _, s := range subs {
		if i, ok := at[s.CustomerID]; ok {
			out[i].Subscriptions = append(out[i].Subscriptions, s)
		}
	}
	orders, err := loadOrders(ctx, tx, "o.status IN ('approved', 'void') AND o.kind <> 'trial'")
	if err != nil {
		return nil, nil, err
	}
	for _, o := range orders {
		if i, ok := at[o.CustomerID]; ok {
			out[i].Orders = append(out[i].Orders, o)
		}
	}
	units := map[int64]string{}
	urows, err := tx.Query(ctx, `SELECT id, unit FROM products`)
	if err != nil {
		return nil, nil, fmt.Errorf("read product units: %w", err)
	}
	defer urows.Close()
	for urows.Next() {
		var id int64
		var unit string
		if err := urows.Scan(&id, &unit); err != nil {
			return nil, nil, fmt.Errorf("read product units: %w", err)
		}
		units[id] = unit
	}
	return out, units, urows.Err()
}

// LastAlertsDay is the last day whose warnings were evaluated; zero when
// none was.
func (db *DB) LastAlertsDay(ctx context.Context) (time.Time, error) {
	var d *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT max(day) FROM scoring_days WHERE alerts_evaluated`).Scan(&d); err != nil {
		return time.Time{}, fmt.Errorf("read scoring days: %w", err)
	}
	if d == nil {
		return time.Time{}, nil
	}
	return keel.Date(*d), nil
}

// ScoredDays lists the days scored in [from, to].
func (db *DB) ScoredDays(ctx context.Context, from, to time.Time) (map[time.Time]bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT day FROM scoring_days WHERE day BETWEEN $1 AND $2`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read scoring days: %w", err)
	}
	defer rows.Close()
	out := map[time.Time]bool{}
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read scoring days: %w", err)
		}
		out[keel.Date(d)] = true
	}
	return out, rows.Err()
}

// MarkScored records that day was scored, for n customers, and whether
// its warnings were evaluated.
func (db *DB) MarkScored(ctx context.Context, day time.Time, n int, alerts bool) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO scoring_days (day, scored_at, customers, alerts_evaluated) VALUES ($1, $2, $3, $4)
		ON CONFLICT (day) DO UPDATE SET scored_at = excluded.scored_at, customers = excluded.customers,
		alerts_evaluated = scoring_days.alerts_evaluated OR excluded.alerts_evaluated`, day, db.now(), n, alerts)
	if err != nil {
		return fmt.Errorf("mark %s scored: %w", day.Format(time.DateOnly), err)
	}
	return nil
}

// scoringLockKey elects the one scorer at work ("keelsco").
const scoringLockKey int64 = 0x6b65656c73636f

// WithScoringLock runs fn while holding the scoring lock (a Postgres
// advisory lock on a connection of its own), so two scorers — keel dev and
// keel console, or two consoles — never score at once. It reports false,
// without running fn, when another holds it.
func (db *DB) WithScoringLock(ctx context.Context, fn func() error) (bool, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, scoringLockKey).Scan(&got); err != nil {
		return false, fmt.Errorf("scoring lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, scoringLockKey)
	return true, fn()
}
