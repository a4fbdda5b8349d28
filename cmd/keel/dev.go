package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/demo"
	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/scoring"
	"github.com/keelhq/keel/warehouse"
)

type devFlags struct {
	dir         string
	demo        bool
	kafka       string
	listen      string
	consoleAddr string
	collectAddr string
	loadAddr    string
	logLevel    string
	demoDays    int
	demoTenants int
	proxies     string
}

// parseDevFlags parses keel dev's flags. The console, the collector and the
// loader's metrics listen on --listen (loopback unless opened) when their
// address names no host, as the standalone commands' defaults (":8080")
// do: keel dev serves plain HTTP, and the demo staff's password is
// published.
func parseDevFlags(args []string, env *Env, stderr io.Writer) (devFlags, error) {
	var f devFlags
	fs := newFlagSet("dev", stderr)
	fs.StringVar(&f.dir, "dir", ".keel", "where the local servers keep their data")
	fs.BoolVar(&f.demo, "demo", true, "load demo data on first start")
	fs.StringVar(&f.kafka, "kafka", "kfake", "local Kafka: kfake (in-process) or apache (a real broker from Maven Central jars)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1", "host the console, collector and loader listen on when their address names none; 0.0.0.0 opens them to the network (plain HTTP, and the demo's password is published)")
	fs.StringVar(&f.consoleAddr, "addr", env.Get(envHTTPAddr, defaultHTTPAddr), "console address ($"+envHTTPAddr+")")
	fs.StringVar(&f.collectAddr, "collect-addr", env.Get(envCollect, defaultCollect), "collector address ($"+envCollect+")")
	fs.StringVar(&f.loadAddr, "load-addr", env.Get(envLoadAddr, defaultLoadAddr), "loader metrics address ($"+envLoadAddr+")")
	fs.StringVar(&f.logLevel, "log-level", env.Get(envLogLevel, "info"), "log level")
	fs.IntVar(&f.demoDays, "demo-days", demo.WindowDays, "days of demo product events")
	fs.IntVar(&f.demoTenants, "demo-tenants", 200, "demo tenants")
	fs.StringVar(&f.proxies, "trusted-proxy", env.Get(envProxies, ""), trustedProxyUsage)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.listen == "" {
		return f, errors.New("dev: --listen: a host is required, e.g. 127.0.0.1 or 0.0.0.0")
	}
	if _, err := parseProxies(f.proxies); err != nil {
		return f, fmt.Errorf("dev: %w", err)
	}
	for _, a := range []*string{&f.consoleAddr, &f.collectAddr, &f.loadAddr} {
		*a = hostOr(*a, f.listen)
	}
	return f, nil
}

// hostOr is addr with host when addr names none (":8080" → host:8080).
func hostOr(addr, host string) string {
	h, port, err := net.SplitHostPort(addr)
	if err != nil || h != "" {
		return addr
	}
	return net.JoinHostPort(host, port)
}

// listenNote says who can reach keel dev's addresses, and how to change it.
func listenNote(addrs ...string) string {
	for _, a := range addrs {
		if !isLoopback(a) {
			return fmt.Sprintf("  network    listening on %s: other machines can reach it, over plain HTTP, and the demo's password is published (keel dev without --listen stays on this machine)", strings.Join(addrs, ", "))
		}
	}
	return "  network    listening on loopback only: other machines cannot reach it (keel dev --listen 0.0.0.0 opens it to the network)"
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runDev(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	f, err := parseDevFlags(args, env, stderr)
	if err != nil {
		return err
	}
	return f.run(ctx, env, stdout, stderr)
}

func (f *devFlags) run(ctx context.Context, env *Env, stdout, stderr io.Writer) error {
	log := newLogger(stderr, f.logLevel)
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// A stale dev.env from a killed run would point other commands at dead
	// servers; it is rewritten once everything is up.
	os.Remove(filepath.Join(dir, "dev.env"))

	fmt.Fprintf(stdout, "Starting local Postgres, ClickHouse and Kafka (%s) under %s …\n", f.kafka, dir)
	stack, err := devstack.StartStack(ctx, devstack.StackConfig{Dir: dir, Kafka: f.kafka, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil {
			log.Warn("stop local servers", "err", err)
		}
		os.Remove(filepath.Join(dir, "dev.env"))
	}()

	shared := common{
		pg:         stack.Postgres.URL(),
		clickhouse: stack.ClickHouse.URL(),
		brokers:    strings.Join(stack.Kafka.Brokers(), ","),
		topic:      env.Get(envTopic, defaultTopic),
		logLevel:   f.logLevel,
		lateWindow: durationEnv(env, envLateWindow, 30*24*time.Hour),
	}
	mf := migrateFlags{common: shared, partitions: 8, tz: env.Get(envTimezone, "UTC")}
	if err := mf.migrate(ctx, io.Discard); err != nil {
		return err
	}

	collectorURL := "http://" + dialable(f.collectAddr)
	consoleURL := "http://" + dialable(f.consoleAddr)
	loaderURL := "http://" + dialable(f.loadAddr)
	if err := writeDevEnv(dir, [][2]string{
		{envPG, shared.pg},
		{envClickHouse, shared.clickhouse},
		{"KEEL_CLICKHOUSE_HTTP_URL", stack.ClickHouse.HTTPURL()},
		{envBrokers, shared.brokers},
		{envCollector, collectorURL},
		{"KEEL_CONSOLE_URL", consoleURL},
		{"KEEL_LOADER_URL", loaderURL},
	}); err != nil {
		return err
	}

	// The same parts as keel collect, load, console and relay, in one
	// service; the standalone commands' GC and memory settings are left
	// out, as they would cover every part and the in-process broker.
	cf := collectFlags{common: shared, addr: f.collectAddr, rate: 50000}
	lf := loadFlags{common: shared, addr: f.loadAddr, group: "keel-loader", batchRows: 25000, flush: 200 * time.Millisecond, dedupWindow: 100000, tz: env.Get(envTimezone, "UTC")}
	// Plain HTTP on this machine: the session cookie cannot be Secure.
	vf := consoleFlags{common: shared, addr: f.consoleAddr, tz: env.Get(envTimezone, "UTC"), sessionTTL: console.DefaultSessionTTL, trustedProxies: f.proxies, score: true}
	// One process, one metrics listener: the console's scoring and digest
	// metrics are served on the loader's.
	consoleMetrics := prometheus.NewRegistry()
	vf.metrics, lf.extraMetrics = consoleMetrics, []prometheus.Gatherer{consoleMetrics}
	// On a first start the demo's days are scored, warnings and all, once
	// its events are in (loadDemo); the daily scoring waits for that, so
	// that it does not score yesterday alone and leave the year unwarned.
	var demoScored chan struct{}
	if f.demo && !exists(filepath.Join(dir, demoScoredMarker)) {
		demoScored = make(chan struct{})
		vf.scoreAfter = demoScored
	}
	rf := relayFlags{common: shared, batch: 500, poll: time.Second} // no metrics address of its own
	welcome := func(ctx context.Context, s *service) error {
		s.add("dev", func(ctx context.Context) error {
			if err := devstack.WaitHTTP(ctx, collectorURL+"/readyz", time.Minute); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nKeel is running.\n  console    %s\n  collector  %s/v1/events\n  loader     %s/metrics\n  settings   %s (read by every keel command run here)\n%s\n\n",
				consoleURL, collectorURL, loaderURL, filepath.Join(f.dir, "dev.env"), listenNote(f.consoleAddr, f.collectAddr, f.loadAddr))
			return f.welcome(ctx, dir, shared, vf.tz, collectorURL, consoleURL, demoScored, stdout, stderr)
		})
		return nil
	}
	err = startService(ctx, log, cf.build, lf.build, vf.build, rf.build, welcome)
	if err != nil && ctx.Err() == nil {
		return err
	}
	fmt.Fprintln(stdout, "\nStopping …")
	return nil
}

// welcome loads the demo data on first start and says how to sign in.
func (f *devFlags) welcome(ctx context.Context, dir string, shared common, tz, collectorURL, consoleURL string, demoScored chan struct{}, stdout, stderr io.Writer) error {
	if !f.demo {
		fmt.Fprintf(stdout, "Ready. Add an employee with ./keel user add --email you@example.com --name You --role admin and sign in at %s.   ·   Ctrl-C stops everything.\n", consoleURL)
		return nil
	}
	if err := devstack.WaitHTTP(ctx, consoleURL+"/healthz", time.Minute); err != nil {
		return err
	}
	if demoScored != nil {
		defer close(demoScored) // the daily scoring runs whatever happens here
	}
	if err := f.loadDemo(ctx, dir, shared, collectorURL, consoleURL, stdout, stderr); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if demoScored != nil {
		if err := f.scoreDemo(ctx, dir, shared, tz, stdout); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	fmt.Fprintf(stdout, "Ready. Open %s and sign in as %s (or sales1@, csm1@, finance@, ceo@ …) with the password %s.\n  The JSON API takes a token from ./keel token create --email %s   ·   Ctrl-C stops everything.\n",
		consoleURL, demo.Staff[demo.StaffAdmin].Email, demo.StaffPassword, demo.Staff[demo.StaffAdmin].Email)
	return nil
}

// loadDemo loads the demo data on first start: the sales history through
// the JSON API, then the product events through the collector. Each part
// leaves a marker file when it is complete, so a restart after an
// interrupted load finishes the job (both parts skip what is already there).
func (f *devFlags) loadDemo(ctx context.Context, dir string, shared common, collectorURL, consoleURL string, stdout, stderr io.Writer) error {
	parts := []struct {
		marker, what string
		events       bool
	}{
		{"demo-sales-loaded", "customers, catalogue and orders through the JSON API", false},
		{"demo-loaded", "product events through the collector", true},
	}
	for _, p := range parts {
		marker := filepath.Join(dir, p.marker)
		if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		fmt.Fprintf(stdout, "First start: loading demo %s (keel dev --demo=false skips this).\n", p.what)
		df := demoFlags{common: shared, collector: collectorURL, console: consoleURL, tenants: f.demoTenants, days: f.demoDays, seed: 1, scale: 1}
		var err error
		if p.events {
			err = df.run(ctx, stdout, stderr)
		} else {
			err = df.runSales(ctx, stdout, stderr)
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dialable turns a listen address (":8081") into one a client can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// demoScoredMarker is the file keel dev leaves once the demo's days are
// scored.
const demoScoredMarker = "demo-scored"

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// scoreDemo scores every day of the demo's events, oldest first, once the
// loader has stored them: a backfill from a day no warning was evaluated
// before evaluates the warnings too, each day from what was known by its
// end, so the CSMs' queue opens with the warnings still open today and
// `keel backtest health` has a year of history to read.
func (f *devFlags) scoreDemo(ctx context.Context, dir string, shared common, tz string, stdout io.Writer) error {
	cal, err := keel.LoadCalendar("--tz", tz)
	if err != nil {
		return err
	}
	return withScorer(ctx, shared, cal, func(s *scoring.Scorer, _ *postgres.DB, store *warehouse.Store) error {
		fmt.Fprintln(stdout, "First start: waiting for the loader to store the demo's events, then scoring the demo's days (health and churn warnings).")
		if err := waitLoaded(ctx, store); err != nil {
			return err
		}
		last := s.Yesterday()
		first := last.AddDate(0, 0, 1-f.demoDays)
		start := time.Now()
		rs, err := s.Score(ctx, first, last)
		if err != nil {
			return fmt.Errorf("score the demo: %w", err)
		}
		raised, open := 0, 0
		for _, r := range rs {
			raised += r.Alerts.Raised + r.Alerts.Reopened
		}
		if n := len(rs); n > 0 {
			open = rs[n-1].Scored
		}
		fmt.Fprintf(stdout, "demo: %d days scored (%d customers on the last), %d churn warnings raised over them, in %s\n",
			len(rs), open, raised, time.Since(start).Round(time.Millisecond))
		return os.WriteFile(filepath.Join(dir, demoScoredMarker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
	})
}

// waitLoaded returns once the events table has stopped growing for three
// seconds (the loader flushes every 200 ms while there is anything to
// store), or when ctx ends.
func waitLoaded(ctx context.Context, store *warehouse.Store) error {
	var last uint64
	stable := 0
	for stable < 3 {
		n, err := store.EventCount(ctx)
		if err != nil {
			return err
		}
		if n == last && n > 0 {
			stable++
		} else {
			stable, last = 0, n
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}
