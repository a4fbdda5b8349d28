package scoring

import (
	"context"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// Backtest reads the stored history of [from, to] — the daily scores
// (from 90 days before, for the leads), the warnings, each customer's
// churn days from its subscriptions, those up to known (the last day of
// known history) — and runs keel.RunBacktest on it.
func Backtest(ctx context.Context, db *postgres.DB, store *warehouse.Store, from, to, known time.Time) (keel.Backtest, error) {
	in := keel.BacktestInput{From: from, To: to, Known: known, Churns: map[int64][]time.Time{}}
	if err := store.Health(ctx, warehouse.HealthFilter{From: from.AddDate(0, 0, -90), To: to}, func(r warehouse.HealthRow) error {
		in.Scores = append(in.Scores, keel.DayScore{CustomerID: r.CustomerID, Day: r.Day, Score: r.Score, Band: r.Band, Paying: r.MRR > 0})
		return nil
	}); err != nil {
		return keel.Backtest{}, err
	}
	customers, _, err := db.HealthRecords(ctx)
	if err != nil {
		return keel.Backtest{}, err
	}
	for _, c := range customers {
		in.Churns[c.ID] = keel.ChurnDays(c.Subscriptions)
	}
	for page := 0; ; page++ {
		as, _, err := db.Alerts(ctx, keel.AlertFilter{Page: keel.Page{Limit: keel.MaxPageSize, Offset: page * keel.MaxPageSize}})
		if err != nil {
			return keel.Backtest{}, err
		}
		for _, a := range as {
			if !a.RaisedOn.After(to) {
				in.Alerts = append(in.Alerts, a)
			}
		}
		if len(as) < keel.MaxPageSize {
			break
		}
	}
	return keel.RunBacktest(in), nil
}
