package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/demo"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
	"github.com/keelhq/keel/postgres"
)

type demoFlags struct {
	common
	collector string
	console   string
	events    bool
	sales     bool
	key       string
	tenants   int
	days      int
	seed      uint64
	scale     float64
}

func (f *demoFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.collector, "collector", env.Get(envCollector, "http://127.0.0.1:8081"), "collector URL ($"+envCollector+")")
	fs.StringVar(&f.console, "console", env.Get(envConsoleURL, "http://127.0.0.1:8080"), "console URL, for the JSON API ($"+envConsoleURL+")")
	fs.BoolVar(&f.events, "events", true, "send the product events through the collector")
	fs.BoolVar(&f.sales, "sales", true, "write the catalogue, customers and order history through the JSON API")
	fs.StringVar(&f.key, "key", "", "ingest key to send with (default: create one named demo that may import the whole history)")
	fs.IntVar(&f.tenants, "tenants", 200, "demo customer tenants")
	fs.IntVar(&f.days, "days", demo.WindowDays, "days of events up to today")
	fs.Uint64Var(&f.seed, "seed", 1, "seed: the same seed sends the same events, which Keel stores once")
	fs.Float64Var(&f.scale, "scale", 1, "multiplies seats and so events")
	return fs.Parse(args)
}

func runDemo(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f demoFlags
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	if f.sales {
		if err := f.runSales(ctx, stdout, stderr); err != nil {
			return err
		}
	}
	if f.events {
		return f.run(ctx, stdout, stderr)
	}
	return nil
}

// runSales writes the demo's sales history through the JSON API, as the
// demo staff: it adds them (with the CLI's rights) when they are missing and
// gives each a fresh API token for the run. Then finance enters the
// monthly sales and marketing spend through the same API.
func (f *demoFlags) runSales(ctx context.Context, stdout, stderr io.Writer) error {
	db, err := openPostgres(ctx, f.pg)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens, err := demoTokens(ctx, db)
	if err != nil {
		return err
	}
	plan := demo.Sales(demo.Config{Tenants: f.tenants, Seed: f.seed, Now: time.Now()})
	fmt.Fprintf(stdout, "Writing the sales history through %s/api/v1: %s\n", f.console, plan.Summary())
	bar := newProgress(stderr, "sales", len(plan.Customers))
	start := time.Now()
	res, err := demo.LoadSales(ctx, demo.API{URL: f.console, HTTP: &http.Client{Timeout: time.Minute}}, tokens, plan,
		func(done, total int) { bar.update(done, fmt.Sprintf("%d customers", done)) })
	bar.finish()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "demo: %d products, %d customers with %d orders written (%d customers were there already) in %s\n",
		res.Products, res.Customers, res.Orders, res.Skipped, time.Since(start).Round(time.Millisecond))
	changed, err := demo.LoadSpend(ctx, demo.API{URL: f.console, HTTP: &http.Client{Timeout: time.Minute}}, tokens, plan.Spend)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(stdout, "demo: sales and marketing spend for %d months (%d entered now)\n", len(plan.Spend), changed)
	return nil
}

// demoTokens makes sure every demo employee exists and returns a new API
// token for each, by email.
func demoTokens(ctx context.Context, db *postgres.DB) (map[string]string, error) {
	tokens := map[string]string{}
	for _, s := range demo.Staff {
		e, err := db.EmployeeByEmail(ctx, s.Email)
		if keel.ErrorCode(err) == keel.ENOTFOUND {
			e, _, err = db.AddEmployee(ctx, keel.System, keel.Employee{Email: s.Email, Name: s.Name, Roles: s.Roles, Status: keel.EmployeeActive, Locale: "en"})
			if err == nil {
				err = db.SetPassword(ctx, keel.System, e.ID, demo.StaffPassword)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo employee %s: %w", s.Email, err)
		}
		tok, err := db.CreateToken(ctx, keel.System, e.ID, "demo")
		if err != nil {
			return nil, fmt.Errorf("demo token for %s: %w", s.Email, err)
		}
		tokens[s.Email] = tok
	}
	return tokens, nil
}

// run names the demo tenants in Postgres and sends their history through the
// collector, like a product app importing its past would.
func (f *demoFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	log := f.logger(stderr)
	cfg := demo.Config{Tenants: f.tenants, Days: f.days, Seed: f.seed, Scale: f.scale, Now: time.Now()}
	tenants := demo.Tenants(cfg)

	db, err := openPostgres(ctx, f.pg)
	if err != nil {
		return err
	}
	defer db.Close()
	named := make([]postgres.Tenant, len(tenants))
	for i, t := range tenants {
		named[i] = postgres.Tenant{ID: t.ID, Name: t.Name}
	}
	if err := db.UpsertTenants(ctx, named); err != nil {
		return err
	}
	key := f.key
	if key == "" {
		// The history reaches back further than the collector's late-arrival
		// window, so the demo's key gets a window of its own.
		_, key, err = db.CreateIngestKey(ctx, keel.System, keel.IngestKey{
			Name: "demo", MaxAge: time.Duration(f.days+2) * 24 * time.Hour, Rate: -1,
		})
		if err != nil {
			return err
		}
	}

	var rejected atomic.Int64
	sender, err := client.New(client.Config{
		URL: f.collector, Key: key, BatchSize: ingest.MaxBatchEvents, Concurrency: 4,
		FlushInterval: 200 * time.Millisecond, MaxBuffered: 20000, Logger: log,
		OnRejected: func(ev client.Event, reason string) {
			if rejected.Add(1) <= 5 {
				log.Warn("demo event rejected", "id", ev.ID, "reason", reason)
			}
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sending %d days of product events for %d tenants to %s\n", f.days, len(tenants), f.collector)
	bar := newProgress(stderr, "demo", f.days)
	start := time.Now()
	sent := 0
	for day := 0; day < f.days; day++ {
		err := demo.Day(cfg, tenants, day, func(ev client.Event) error {
			sent++
			return sender.Send(ctx, ev)
		})
		if err != nil {
			sender.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("demo: %w", err)
		}
		el := time.Since(start).Seconds()
		bar.update(day+1, fmt.Sprintf("%d events, %.0f/s", sent, float64(sent)/max(el, 0.001)))
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	err = sender.Close(closeCtx)
	bar.finish()
	st := sender.Stats()
	el := time.Since(start)
	fmt.Fprintf(stdout, "demo: %d events sent, %d accepted, %d rejected in %s (%.0f events/s)\n",
		st.Sent, st.Accepted, st.Rejected, el.Round(time.Millisecond), float64(st.Accepted)/el.Seconds())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if st.Rejected > 0 {
		return fmt.Errorf("demo: %d events were rejected", st.Rejected)
	}
	return nil
}
