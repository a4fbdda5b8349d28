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

func runActivity(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("activity", stderr)
	c.register(fs, env)
	tenant := fs.String("tenant", "", "tenant id (required)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (default: 29 days before --to)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: today)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	tz := fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone in which days are cut ($"+envTimezone+")")
	loginsOnly := fs.Bool("logins-only", false, "count a user as active only on days they logged in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" {
		return keel.Errorf(keel.EINVALID, "--tenant: required")
	}
	cal, err := keel.LoadCalendar("--tz", *tz)
	if err != nil {
		return err
	}
	loc := cal.Location()
	toDay := warehouse.DayOf(cal.Day(time.Now()), time.UTC)
	if *to != "" {
		if toDay, err = warehouse.ParseDay(*to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	fromDay := toDay.AddDays(-29)
	if *from != "" {
		if fromDay, err = warehouse.ParseDay(*from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	store, err := openClickHouse(ctx, c.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.CheckZone(ctx, loc); err != nil {
		return fmt.Errorf("--tz: %w", err)
	}
	a, err := store.Activity(ctx, *tenant, fromDay, toDay, warehouse.ActivitySettings{Location: loc, LoginsOnly: *loginsOnly})
	if err != nil {
		if keel.ErrorCode(err) == keel.EINVALID {
			return fmt.Errorf("%s", keel.ErrorMessage(err))
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(a)
	}
	fmt.Fprintf(stdout, "tenant %s — login trend: %s\n\n", a.Tenant, a.Trend)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tactive users\tlogins\tWAU\tMAU\t")
	for _, d := range a.Days {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", d.Day, d.ActiveUsers, d.Logins, d.WAU, d.MAU)
	}
	tw.Flush()
	return nil
}
