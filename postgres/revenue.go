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

// sectionRevenue is the settings row of the revenue settings.
const sectionRevenue = "revenue"

// RevenueSettings reads the revenue settings; METRICS.md's defaults when
// none were saved.
func (db *DB) RevenueSettings(ctx context.Context) (keel.RevenueSettings, error) {
	var raw []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE section = $1`, sectionRevenue).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.DefaultRevenueSettings, nil
	}
	if err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
	}
	var s keel.RevenueSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
	}
	return s.WithDefaults(), nil
}

// SetRevenueSettings saves the revenue settings (keel.ActSettingsWrite),
// audited, and tells the warehouse with a settings.changed fact, which has
// it compute every customer's revenue again. Saving the same settings
// again changes nothing. It returns EINVALID naming the field for a bad
// setting.
func (db *DB) SetRevenueSettings(ctx context.Context, by keel.Employee, s keel.RevenueSettings) (keel.RevenueSettings, error) {
	s.Location = nil
	if err := s.Validate(); err != nil {
		return keel.RevenueSettings{}, err
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.RevenueSettings{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActSettingsWrite); err != nil {
		return keel.RevenueSettings{}, err
	}
	var id int64
	var raw []byte
	err = c.tx.QueryRow(ctx, `SELECT id, value FROM settings WHERE section = $1 FOR NO KEY UPDATE`, sectionRevenue).Scan(&id, &raw)
	before := keel.DefaultRevenueSettings
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
	default:
		if err := json.Unmarshal(raw, &before); err != nil {
			return keel.RevenueSettings{}, fmt.Errorf("read revenue settings: %w", err)
		}
		before = before.WithDefaults()
	}
	if before == s && id != 0 {
		return s, nil
	}
	value, err := json.Marshal(s)
	if err != nil {
		return keel.RevenueSettings{}, err
	}
	if err := c.tx.QueryRow(ctx, `INSERT INTO settings (section, value, updated_by, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (section) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at
		RETURNING id`, sectionRevenue, value, nullID(c.by.ID), c.now).Scan(&id); err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("save revenue settings: %w", err)
	}
	if err := c.audit(ctx, "settings.revenue", "settings", id, before, s); err != nil {
		return keel.RevenueSettings{}, err
	}
	if err := c.fact(ctx, keel.FactSettingsChanged, 0, "", keel.SettingsFact{Revenue: s}); err != nil {
		return keel.RevenueSettings{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.RevenueSettings{}, fmt.Errorf("save revenue settings: %w", err)
	}
	return s, nil
}

// SetSpend enters a month's sales and marketing spend in one currency
// (keel.ActSpendWrite), replacing what was entered before, audited and
// sent to the warehouse as a spend.set fact. It returns EINVALID naming
// the field for a bad month, currency or amount.
func (db *DB) SetSpend(ctx context.Context, by keel.Employee, s keel.Spend) (keel.Spend, error) {
	if err := s.Validate(); err != nil {
		return keel.Spend{}, err
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Spend{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActSpendWrite); err != nil {
		return keel.Spend{}, err
	}
	month := s.Month.First()
	var before *keel.Spend
	var id, old int64
	err = c.tx.QueryRow(ctx, `SELECT id, amount FROM spend WHERE month = $1 AND currency = $2 FOR NO KEY UPDATE`, month, s.Currency).Scan(&id, &old)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return keel.Spend{}, fmt.Errorf("read spend: %w", err)
	default:
		before = &keel.Spend{Month: s.Month, Currency: s.Currency, Amount: old}
		if old == s.Amount {
			return *before, nil
		}
	}
	s.UpdatedBy, s.UpdatedAt = c.by.ID, c.now
	if err := c.tx.QueryRow(ctx, `INSERT INTO spend (month, currency, amount, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (month, currency) DO UPDATE SET amount = excluded.amount, updated_by = excluded.updated_by, updated_at = excluded.updated_at
		RETURNING id`, month, s.Currency, s.Amount, nullID(c.by.ID), c.now).Scan(&id); err != nil {
		return keel.Spend{}, fmt.Errorf("save spend: %w", err)
	}
	type entry struct {
		Month    string `json:"month"`
		Currency string `json:"currency"`
		Amount   int64  `json:"amount"`
	}
	var b any
	if before != nil {
		b = entry{before.Month.String(), before.Currency, before.Amount}
	}
	if err := c.audit(ctx, "spend.set", "spend", id, b, entry{s.Month.String(), s.Currency, s.Amount}); err != nil {
		return keel.Spend{}, err
	}
	if err := c.fact(ctx, keel.FactSpendSet, 0, "", keel.SpendFact{Month: s.Month.String(), Currency: s.Currency, Amount: s.Amount}); err != nil {
		return keel.Spend{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Spend{}, fmt.Errorf("save spend: %w", err)
	}
	return s, nil
}

// Spend lists the spend entered for months from..to, by month then
// currency.
func (db *DB) Spend(ctx context.Context, from, to keel.Month) ([]keel.Spend, error) {
	rows, err := db.pool.Query(ctx, `SELECT month, currency, amount, coalesce(updated_by, 0), updated_at FROM spend
		WHERE month >= $1 AND month <= $2 ORDER BY month, currency`, from.First(), to.First())
	if err != nil {
		return nil, fmt.Errorf("read spend: %w", err)
	}
	defer rows.Close()
	var out []keel.Spend
	for rows.Next() {
		var s keel.Spend
		var month time.Time
		if err := rows.Scan(&month, &s.Currency, &s.Amount, &s.UpdatedBy, &s.UpdatedAt); err != nil {
			return nil, fmt.Errorf("read spend: %w", err)
		}
		s.Month = keel.MonthOf(month)
		out = append(out, s)
	}
	return out, rows.Err()
}

// RepublishSubscriptions writes a subscription.changed fact for every
// subscription, as it is now, to the outbox: what an installation made
// before facts carried what revenue needs (migration 0005) runs once so
// that the warehouse can compute its revenue. Facts are written a customer
// at a time, each customer's row locked (FOR SHARE) so no change to it
// interleaves, and sent like any other; the warehouse's latest fact of a
// subscription is its state, so sending them again is harmless. It returns
// how many facts it wrote.
func (db *DB) RepublishSubscriptions(ctx context.Context) (int, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT customer_id FROM subscriptions ORDER BY customer_id`)
	if err != nil {
		return 0, fmt.Errorf("republish subscriptions: %w", err)
	}
	var customers []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("republish subscriptions: %w", err)
		}
		customers = append(customers, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("republish subscriptions: %w", err)
	}
	n := 0
	for _, id := range customers {
		c, err := db.begin(ctx, keel.System, "SHARE")
		if err != nil {
			return n, err
		}
		cu, err := readCustomer(ctx, c.tx, id, "FOR SHARE")
		if err != nil {
			c.tx.Rollback(ctx)
			return n, err
		}
		var subs []int64
		srows, err := c.tx.Query(ctx, `SELECT id FROM subscriptions WHERE customer_id = $1 ORDER BY id`, id)
		if err == nil {
			for srows.Next() {
				var s int64
				if err = srows.Scan(&s); err != nil {
					break
				}
				subs = append(subs, s)
			}
			srows.Close()
			if err == nil {
				err = srows.Err()
			}
		}
		if err == nil {
			err = c.subscriptionsChanged(ctx, cu, subs)
		}
		if err == nil {
			err = c.commit(ctx)
		}
		c.tx.Rollback(ctx)
		if err != nil {
			return n, fmt.Errorf("republish subscriptions of customer %d: %w", id, err)
		}
		n += len(subs)
	}
	return n, nil
}
