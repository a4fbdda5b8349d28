package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/scoring"
	"github.com/keelhq/keel/warehouse"
)

// runScore is `keel score [--day D | --from D --to D]`: scores customers'
// health for the days given (default yesterday), replacing what was stored
// for them. Warnings are evaluated only for days after the last evaluated.
func runScore(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("score", stderr)
	c.register(fs, env)
	tz := fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone ($"+envTimezone+")")
	one := fs.String("day", "", "the day to score, YYYY-MM-DD (default: yesterday)")
	from := fs.String("from", "", "first day of a backfill, YYYY-MM-DD")
	to := fs.String("to", "", "last day of a backfill, YYYY-MM-DD (default: yesterday)")
	if err := parseOneShot(fs, args, "score", "keel score [--day D | --from D --to D]"); err != nil {
		return err
	}
	cal, err := keel.LoadCalendar("--tz", *tz)
	if err != nil {
		return cliError("score", err)
	}
	return withScorer(ctx, c, cal, func(s *scoring.Scorer, _ *postgres.DB, _ *warehouse.Store) error {
		first, last := s.Yesterday(), s.Yesterday()
		switch {
		case *one != "" && (*from != "" || *to != ""):
			return fmt.Errorf("score: --day or --from/--to, not both")
		case *one != "":
			if first, err = parseDayFlag("--day", *one); err != nil {
				return err
			}
			last = first
		case *from != "":
			if first, err = parseDayFlag("--from", *from); err != nil {
				return err
			}
			if *to != "" {
				if last, err = parseDayFlag("--to", *to); err != nil {
					return err
				}
			}
		}
		start := time.Now()
		rs, err := s.Score(ctx, first, last)
		if err != nil {
			return cliError("score", err)
		}
		n := 0
		for _, r := range rs {
			n += r.Scored
			warnings := "—"
			if r.AlertsEvaluated {
				warnings = fmt.Sprintf("%d raised, %d reopened, %d resolved by Keel", r.Alerts.Raised, r.Alerts.Reopened, r.Alerts.Cleared)
			}
			fmt.Fprintf(stdout, "%s  %5d customers  %6s  warnings: %s\n", r.Day.Format(time.DateOnly), r.Scored, r.Duration.Round(time.Millisecond), warnings)
		}
		fmt.Fprintf(stdout, "scored %d days (%d customer-days) in %s\n", len(rs), n, time.Since(start).Round(time.Millisecond))
		return nil
	})
}

func parseDayFlag(flag, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not a day (YYYY-MM-DD)", flag, s)
	}
	return d, nil
}

// withScorer opens Postgres and ClickHouse and runs do with a scorer on
// them, days cut in cal.
func withScorer(ctx context.Context, c common, cal keel.Calendar, do func(*scoring.Scorer, *postgres.DB, *warehouse.Store) error) error {
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		db.SetCalendar(cal)
		store, err := openClickHouse(ctx, c.clickhouse)
		if err != nil {
			return err
		}
		defer store.Close()
		s, err := scoring.New(scoring.Config{Calendar: cal}, db, store, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		return do(s, db, store)
	})
}

// runBacktest is `keel backtest health [--from D --to D] [--json]`.
func runBacktest(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "health" {
		return fmt.Errorf("backtest: usage: keel backtest health [--from D] [--to D] [--json]")
	}
	var c common
	fs := newFlagSet("backtest health", stderr)
	c.register(fs, env)
	tz := fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone ($"+envTimezone+")")
	from := fs.String("from", "", "first day, YYYY-MM-DD (default: 180 days before --to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: yesterday)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseOneShot(fs, args[1:], "backtest", "keel backtest health [--from D] [--to D] [--json]"); err != nil {
		return err
	}
	cal, err := keel.LoadCalendar("--tz", *tz)
	if err != nil {
		return cliError("backtest", err)
	}
	return withScorer(ctx, c, cal, func(s *scoring.Scorer, db *postgres.DB, store *warehouse.Store) error {
		last := s.Yesterday()
		if *to != "" {
			if last, err = parseDayFlag("--to", *to); err != nil {
				return err
			}
		}
		first := last.AddDate(0, 0, -180)
		if *from != "" {
			if first, err = parseDayFlag("--from", *from); err != nil {
				return err
			}
		}
		if last.Before(first) {
			return fmt.Errorf("backtest: --from %s is after --to %s", first.Format(time.DateOnly), last.Format(time.DateOnly))
		}
		r, err := scoring.Backtest(ctx, db, store, first, last, s.Yesterday())
		if err != nil {
			return err
		}
		names := map[int64]string{}
		for id := range r.WarningsPerCSMWeek {
			if e, err := db.Employee(ctx, id); err == nil {
				names[id] = e.Email
			}
		}
		return printBacktest(stdout, r, names, *asJSON)
	})
}

func printBacktest(w io.Writer, r keel.Backtest, names map[int64]string, asJSON bool) error {
	owners := make([]int64, 0, len(r.WarningsPerCSMWeek))
	for o := range r.WarningsPerCSMWeek {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i] < owners[j] })
	if asJSON {
		type owner struct {
			EmployeeID int64   `json:"employee_id"` // 0: unassigned
			PerWeek    float64 `json:"warnings_per_week"`
		}
		out := struct {
			From      string             `json:"from"`
			To        string             `json:"to"`
			Churned   int                `json:"churned"`
			Recall    map[string]float64 `json:"recall"`
			Warned    int                `json:"warned"`
			Precision *float64           `json:"precision"`
			AUC       *float64           `json:"auc"`
			Days      int                `json:"customer_days"`
			PayingAUC *float64           `json:"paying_auc"`
			Paying    int                `json:"paying_customer_days"`
			Owners    []owner            `json:"warnings_per_owner"`
		}{From: r.From.Format(time.DateOnly), To: r.To.Format(time.DateOnly), Churned: r.Churned, Recall: map[string]float64{},
			Warned: r.Warned, Precision: r.Precision, AUC: r.AUC, Days: r.Days,
			PayingAUC: r.PayingAUC, Paying: r.PayingDays}
		for lead, v := range r.Recall {
			out.Recall[fmt.Sprintf("%dd", lead)] = v
		}
		for _, o := range owners {
			out.Owners = append(out.Owners, owner{o, r.WarningsPerCSMWeek[o]})
		}
		return json.NewEncoder(w).Encode(out)
	}
	pct := func(p *float64) string {
		if p == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f %%", *p*100)
	}
	fmt.Fprintf(w, "health backtest %s to %s: %d customer-days scored, %d customers churned, %d warned\n\n",
		r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), r.Days, r.Churned, r.Warned)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	leads := make([]int, 0, len(r.Recall))
	for l := range r.Recall {
		leads = append(leads, l)
	}
	sort.Ints(leads)
	for _, l := range leads {
		v := r.Recall[l]
		fmt.Fprintf(tw, "recall, %d days before churn\t%s\t(red or warned)\n", l, pct(&v))
	}
	fmt.Fprintf(tw, "precision\t%s\t(warned customers who churned within 90 days)\n", pct(r.Precision))
	if r.AUC != nil {
		fmt.Fprintf(tw, "AUC\t%.3f\t(100 − score predicting churn within 90 days)\n", *r.AUC)
	} else {
		fmt.Fprintf(tw, "AUC\tn/a\t\n")
	}
	if r.PayingAUC != nil {
		fmt.Fprintf(tw, "AUC, paying days only\t%.3f\t(%d customer-days with MRR: those a churn can still follow)\n", *r.PayingAUC, r.PayingDays)
	}
	for _, o := range owners {
		who := fmt.Sprintf("employee %d", o)
		if names[o] != "" {
			who = names[o]
		}
		if o == 0 {
			who = "unassigned"
		}
		fmt.Fprintf(tw, "new warnings per week, %s\t%.1f\t\n", who, r.WarningsPerCSMWeek[o])
	}
	return tw.Flush()
}
