package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// runRevenue is `keel revenue`: the month table (the default), `rebuild`
// (every customer's revenue computed again from the facts) and `check`
// (METRICS.md's identity over every stored customer-month).
func runRevenue(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "rebuild":
			return runRevenueRebuild(ctx, args[1:], env, stdout, stderr)
		case "check":
			return runRevenueCheck(ctx, args[1:], env, stdout, stderr)
		}
	}
	var c common
	fs := newFlagSet("revenue", stderr)
	c.register(fs, env)
	tz := fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone, for this month ($"+envTimezone+")")
	from := fs.String("from", "", "first month, YYYY-MM (default: 11 months before --to)")
	to := fs.String("to", "", "last month, YYYY-MM (default: this month)")
	currency := fs.String("currency", "", "currency (default: the main currency setting, else the one with the most MRR)")
	asJSON := fs.Bool("json", false, "print one JSON object, as GET /api/v1/metrics/mrr answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cal, err := keel.LoadCalendar("--tz", *tz)
	if err != nil {
		return cliError("revenue", err)
	}
	toMonth := keel.MonthOf(cal.Day(time.Now()))
	if *to != "" {
		if toMonth, err = keel.ParseMonth("--to", *to); err != nil {
			return cliError("revenue", err)
		}
	}
	fromMonth := toMonth - 11
	if *from != "" {
		if fromMonth, err = keel.ParseMonth("--from", *from); err != nil {
			return cliError("revenue", err)
		}
	}
	if _, _, err := keel.ParseMonthRange(fromMonth.String(), toMonth.String()); err != nil {
		return cliError("revenue", err)
	}
	store, err := openClickHouse(ctx, c.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	cur := *currency
	if cur == "" {
		if cur, err = mainCurrency(ctx, store, toMonth); err != nil {
			return err
		}
	} else if err := keel.ValidCurrency("--currency", cur); err != nil {
		return cliError("revenue", err)
	}
	months, err := store.MonthTable(ctx, cur, fromMonth, toMonth)
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			Currency string          `json:"currency"`
			Months   []keel.MonthRow `json:"months"`
		}{Currency: cur, Months: []keel.MonthRow{}}
		for _, m := range months {
			out.Months = append(out.Months, m.Row())
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "MRR in %s, measured on each month's sample day (METRICS.md)\n\n", cur)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "month\tMRR\tnew\texpansion\treactivation\tcontraction\tchurn\tnet new\tcustomers\t")
	money := func(e keel.Exact) string { return keel.FormatAmount(e.Round(), cur) }
	for _, m := range months {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", m.Month, money(m.MRR), money(m.New), money(m.Expansion),
			money(m.Reactivation), money(m.Contraction), money(m.Churn), money(m.NetNew()), m.Customers)
	}
	return tw.Flush()
}

// mainCurrency is the currency reports default to: the main currency
// setting, else the one with the most MRR in month m, else USD when there
// is no revenue at all.
func mainCurrency(ctx context.Context, store *warehouse.Store, m keel.Month) (string, error) {
	settings, err := store.RevenueSettings(ctx)
	if err != nil {
		return "", err
	}
	if settings.MainCurrency != "" {
		return settings.MainCurrency, nil
	}
	cs, err := store.Currencies(ctx, m)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "USD", nil
	}
	return cs[0].Currency, nil
}

// runRevenueRebuild computes every customer's revenue again from the facts
// in ClickHouse — after a change of the code that computes it, or to check
// that the incremental path agrees (it must give the same rows).
func runRevenueRebuild(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("revenue rebuild", stderr)
	c.register(fs, env)
	tz := fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone, in which a void's day is cut ($"+envTimezone+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cal, err := keel.LoadCalendar("--tz", *tz)
	if err != nil {
		return cliError("revenue", err)
	}
	store, err := openClickHouse(ctx, c.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	ids, err := store.RevenueCustomers(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < len(ids); i += warehouse.RevenueBatch {
		batch := ids[i:min(i+warehouse.RevenueBatch, len(ids))]
		if err := store.RecomputeRevenue(ctx, batch, cal.Location()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "\rrevenue: %d of %d customers", i+len(batch), len(ids))
	}
	if len(ids) > 0 {
		fmt.Fprintln(stderr)
	}
	fmt.Fprintf(stdout, "revenue rebuilt for %d customers in %s\n", len(ids), time.Since(start).Round(time.Millisecond))
	return nil
}

// runRevenueCheck checks end = start + new + expansion + reactivation −
// contraction − churn for every stored customer and month, and fails on
// any difference.
func runRevenueCheck(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("revenue check", stderr)
	c.register(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := openClickHouse(ctx, c.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	bad, n, err := store.CheckRevenue(ctx)
	if err != nil {
		return err
	}
	for i, m := range bad {
		if i == 20 {
			fmt.Fprintf(stdout, "… and %d more\n", len(bad)-20)
			break
		}
		fmt.Fprintf(stdout, "customer %d, %s %s: start %s %s %s ≠ end %s\n", m.CustomerID, m.Currency, m.Month,
			keel.FormatAmount(m.Start.Round(), m.Currency), m.Movement, keel.FormatAmount(m.Change.Round(), m.Currency),
			keel.FormatAmount(m.End.Round(), m.Currency))
	}
	if len(bad) > 0 {
		return fmt.Errorf("revenue check: %d of %d customer-months do not add up", len(bad), n)
	}
	fmt.Fprintf(stdout, "revenue check: all %d customer-months add up (end = start + new + expansion + reactivation − contraction − churn)\n", n)
	return nil
}
