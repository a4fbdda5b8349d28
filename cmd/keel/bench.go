package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keelhq/keel/bench"
	"github.com/keelhq/keel/ingest"
)

// benchmark is one `keel bench NAME`: its flags turned into its bench
// package Config, which runs it. A new benchmark is a function in package
// bench and an entry in benchmarks.
type benchmark struct {
	name, flags string
	run         func(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error
}

func benchmarks() []benchmark {
	return []benchmark{
		{"ingest", "[--events N] [--backlog] [--no-peer] [--rate R --duration D]", runBenchIngest},
		{"console", "[--console URL | --scale N,M… [--days D] [--keep | --reuse RUN]] [--requests N] [--per-pattern K] [--concurrency C] [--target D] [--json]", runBenchConsole},
		{"revenue", "[--customers N] [--months M] [--requests N] [--concurrency C] [--changes K]", runBenchRevenue},
		{"health", "[--customers N] [--days D] [--backfill B] [--declining S] [--requests N] [--concurrency C] [--keep | --reuse RUN]", runBenchHealth},
	}
}

// benchNames lists the benchmarks for keel help: "keel bench ingest | …".
func benchNames() string {
	var names []string
	for _, b := range benchmarks() {
		names = append(names, "keel bench "+b.name)
	}
	return strings.Join(names, " | ")
}

func runBench(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	all := benchmarks()
	if len(args) > 0 {
		for _, b := range all {
			if b.name == args[0] {
				return b.run(ctx, args[1:], env, stdout, stderr)
			}
		}
	}
	lines := make([]string, len(all))
	for i, b := range all {
		lines[i] = fmt.Sprintf("keel bench %s %s (beside a running keel dev)", b.name, b.flags)
	}
	return errors.New("usage: " + strings.Join(lines, "\n   or: "))
}

func runBenchIngest(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var cfg bench.IngestConfig
	fs := newFlagSet("bench ingest", stderr)
	c.register(fs, env)
	fs.IntVar(&cfg.Events, "events", 1_000_000, "events to send in the throughput run")
	fs.IntVar(&cfg.Batch, "batch", ingest.MaxBatchEvents, "events per POST")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "POSTs in flight")
	fs.Float64Var(&cfg.Rate, "rate", 10000, "events/s of the freshness run (0 skips it)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the freshness run")
	fs.BoolVar(&cfg.Backlog, "backlog", false, "instead: send all events with the loader stopped, then measure the loader draining the backlog")
	fs.BoolVar(&cfg.NoPeer, "no-peer", false, "skip the peer: ClickHouse's own Kafka engine reading the same events from a topic through a materialized view")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the bench events in ClickHouse (they are deleted by default)")
	fs.StringVar(&cfg.ClickHouseClient, "clickhouse-client", "clickhouse-client", "clickhouse-client binary for the baseline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: the keel binary to run collect and load from: %w", err)
	}
	cfg.Keel, cfg.PG, cfg.ClickHouse, cfg.Brokers, cfg.Pprof = exe, c.pg, c.clickhouse, c.brokerList(), c.pprof
	return bench.Ingest(ctx, cfg, stdout, stderr)
}

func runBenchConsole(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var cfg bench.ConsoleConfig
	var roles string
	fs := newFlagSet("bench console", stderr)
	fs.StringVar(&cfg.URL, "console", env.Get(envConsoleURL, "http://127.0.0.1:8080"), "console URL ($"+envConsoleURL+")")
	fs.StringVar(&roles, "roles", "admin,sales1,csm1,finance,ceo", "demo employees to sign in as (the part of their email before @), in order: a page is measured as the first that reaches it")
	fs.IntVar(&cfg.PerPattern, "per-pattern", 5, "distinct URLs kept per route pattern")
	fs.IntVar(&cfg.Requests, "requests", 40, "timed requests per pattern, spread over its URLs")
	fs.IntVar(&cfg.Concurrency, "concurrency", 1, "requests in flight")
	fs.IntVar(&cfg.MaxPages, "max-pages", 1000, "pages crawled at most per role")
	fs.DurationVar(&cfg.Target, "target", 300*time.Millisecond, "p95 every page must stay under")
	fs.BoolVar(&cfg.EveryRole, "every-role", false, "measure each pattern as every role that reaches it, not only the first")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON")
	var c common
	var sc bench.ScaleConfig
	var scales string
	c.register(fs, env)
	fs.StringVar(&scales, "scale", "", "instead of --console: numbers of demo customers, e.g. 200,10000; for each, a sandbox of its own on keel dev's servers is filled with the demo's data and a keel console started on it")
	fs.IntVar(&sc.Days, "days", 30, "with --scale: days of demo product events up to today")
	fs.BoolVar(&sc.Keep, "keep", false, "with --scale: keep each scale's databases (keel_bench_<run>_<N>) to measure again with --reuse")
	fs.StringVar(&sc.Reuse, "reuse", "", "with --scale: measure the databases an earlier --keep run left (its run name, as it printed) instead of filling new ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Roles = strings.Split(roles, ",")
	if scales != "" {
		var err error
		if sc.Scales, err = bench.ParseScales(scales); err != nil {
			return err
		}
		if sc.Keel, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: the keel binary to run the console from: %w", err)
		}
		sc.PG, sc.ClickHouse, sc.Brokers = c.pg, c.clickhouse, c.brokerList()
	} else if sc.Reuse != "" || sc.Keep {
		return errors.New("bench console: --keep and --reuse go with --scale")
	}
	// The bar ends its line when the last pattern is measured, before the
	// report is printed, or when the run fails half-way.
	var bar *progress
	cfg.Progress = func(done, total int) {
		if bar == nil {
			bar = newProgress(stderr, "bench: measuring", total)
		}
		bar.update(done, fmt.Sprintf("%d of %d patterns", done, total))
		if done == total {
			bar.finish()
			bar = nil
		}
	}
	var err error
	if sc.Scales != nil {
		err = bench.ConsoleScales(ctx, cfg, sc, stdout, stderr)
	} else {
		err = bench.Console(ctx, cfg, stdout, stderr)
	}
	if bar != nil {
		bar.finish()
	}
	return err
}

func runBenchRevenue(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var cfg bench.RevenueConfig
	fs := newFlagSet("bench revenue", stderr)
	c.register(fs, env)
	fs.IntVar(&cfg.Customers, "customers", 10_000, "customers of the generated history")
	fs.IntVar(&cfg.Months, "months", 36, "months of history, up to this month")
	fs.IntVar(&cfg.Requests, "requests", 100, "timed requests of each measured route")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "requests in flight for the API and the dashboard")
	fs.IntVar(&cfg.Changes, "changes", 20, "back-dated changes whose restatement is timed")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated history")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the run's databases (keel_bench_<run>) for a look afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.PG, cfg.ClickHouse, cfg.Brokers = c.pg, c.clickhouse, c.brokerList()
	return bench.Revenue(ctx, cfg, stdout, stderr)
}

func runBenchHealth(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var cfg bench.HealthConfig
	fs := newFlagSet("bench health", stderr)
	c.register(fs, env)
	fs.IntVar(&cfg.Customers, "customers", 10_000, "customers, each with a seat subscription")
	fs.IntVar(&cfg.Days, "days", 400, "days of their activity, up to yesterday")
	fs.IntVar(&cfg.Backfill, "backfill", 90, "days scored as a backfill before the daily run (yesterday) is timed")
	fs.Float64Var(&cfg.Declining, "declining", 0.085, "share of customers whose usage falls away in the last weeks")
	fs.IntVar(&cfg.CSMs, "csms", 20, "CSMs owning the customers in turn")
	fs.IntVar(&cfg.Requests, "requests", 100, "timed requests of each page")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "requests in flight")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated customers and activity")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the run's databases (keel_bench_<run>) for a look afterwards")
	fs.StringVar(&cfg.Reuse, "reuse", "", "time the pages again of a run kept by --keep (its run name), building and scoring nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: the keel binary to run the console from: %w", err)
	}
	cfg.Keel, cfg.PG, cfg.ClickHouse = exe, c.pg, c.clickhouse
	return bench.Health(ctx, cfg, stdout, stderr)
}
