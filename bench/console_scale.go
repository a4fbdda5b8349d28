package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/warehouse"
)

// ScaleConfig turns `keel bench console` from measuring a running console
// into measuring consoles of its own: for each scale a sandbox (its own
// Postgres and ClickHouse databases on keel dev's servers) filled with the
// demo at that many customers, a `keel console` process started on it,
// and the same crawl and timing as against --console.
type ScaleConfig struct {
	// Scales are the numbers of demo customers, measured in order.
	Scales []int
	// Days of demo product events up to today, at every scale.
	Days int
	// PG, ClickHouse and Brokers are the running stack's servers; the
	// run writes only to databases and a topic of its own on them.
	PG, ClickHouse string
	Brokers        []string
	// Keel is the keel binary the console (and the health scoring) runs
	// from.
	Keel string
	// Keep keeps each scale's sandbox (keel_bench_<run>_<N>) after the run;
	// Reuse names such a run to measure again without rebuilding its data.
	Keep  bool
	Reuse string
}

// MaxScale is the most customers one scale may have: the demo's tenant
// names and the sandbox's size are planned for tens of thousands.
const MaxScale = 100_000

// sandboxRun is what --reuse accepts: a run name as --keep prints it,
// safe inside a database name.
var sandboxRun = regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`)

// ParseScales reads --scale: customer counts separated by commas, e.g.
// "200,10000" (an underscore may group digits: 10_000).
func ParseScales(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(part, "_", ""))
		if err != nil || n <= 0 || n > MaxScale {
			return nil, fmt.Errorf("bench console: --scale: %q is not a number of customers from 1 to %d", part, MaxScale)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("bench console: --scale: %d is given twice", n)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("bench console: --scale names no number of customers")
	}
	return out, nil
}

// Validate reports the first setting that cannot work, by its flag.
func (c ScaleConfig) Validate() error {
	switch {
	case len(c.Scales) == 0:
		return errors.New("bench console: --scale names no number of customers")
	case c.Days <= 0 || c.Days > 400:
		return fmt.Errorf("bench console: --days %d: must be from 1 to 400", c.Days)
	case c.PG == "" || c.ClickHouse == "" || len(c.Brokers) == 0:
		return errors.New("bench console: --scale needs --pg, --clickhouse and --brokers (a running keel dev)")
	case c.Keel == "":
		return errors.New("bench console: --scale needs the keel binary to start the console from")
	case c.Reuse != "" && !sandboxRun.MatchString(c.Reuse):
		return fmt.Errorf("bench console: --reuse %q is not a run name (letters, digits and _, as --keep printed it)", c.Reuse)
	}
	for _, n := range c.Scales {
		if n <= 0 || n > MaxScale {
			return fmt.Errorf("bench console: --scale: %d is not a number of customers from 1 to %d", n, MaxScale)
		}
	}
	return nil
}

// ConsoleScales is `keel bench console --scale N,M…`: issue 13's table of
// every page's p95 at each number of customers. The measuring settings
// (roles, requests, concurrency, target …) are cfg's, its URL is each
// scale's own console.
func ConsoleScales(ctx context.Context, cfg ConsoleConfig, sc ScaleConfig, stdout, stderr io.Writer) error {
	cfg.URL = "http://127.0.0.1:1" // each scale's, set below; checked here for the rest
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	run := sc.Reuse
	if run == "" {
		run = fmt.Sprintf("console_%d", time.Now().UnixMilli())
	}
	dir, err := os.MkdirTemp("", "keel-bench-console-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var reps []scaleReport
	for _, n := range sc.Scales {
		rep, err := measureScale(ctx, cfg, sc, run, n, dir, stderr)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	if cfg.JSON {
		if err := writeJSON(stdout, reps); err != nil {
			return err
		}
	} else {
		printScales(stdout, reps, cfg.Target)
	}
	if sc.Keep || sc.Reuse != "" {
		fmt.Fprintf(stderr, "bench: kept the sandboxes keel_bench_%s_<N>; measure them again with --scale %s --reuse %s\n",
			run, joinInts(sc.Scales), run)
	}
	for _, r := range reps {
		if r.Report.BadStatus > 0 {
			return fmt.Errorf("bench console: at %d customers %d of %d pages answered with an unexpected status", r.Customers, r.Report.BadStatus, len(r.Report.Pages))
		}
	}
	return nil
}

// scaleReport is one scale's measurement and the data it was made on.
type scaleReport struct {
	Customers int           `json:"customers"`
	Data      scaleData     `json:"data"`
	Report    consoleReport `json:"report"`
}

// measureScale makes (or reopens) the scale's sandbox, starts a console
// on it and measures it.
func measureScale(ctx context.Context, cfg ConsoleConfig, sc ScaleConfig, run string, n int, dir string, stderr io.Writer) (scaleReport, error) {
	id := fmt.Sprintf("%s_%d", run, n)
	var box *sandbox
	var err error
	if sc.Reuse != "" {
		box, err = openSandbox(ctx, sc.PG, sc.ClickHouse, id)
	} else {
		box, err = newSandbox(ctx, sc.PG, sc.ClickHouse, id)
	}
	if err != nil {
		return scaleReport{}, err
	}
	keep := sc.Keep || sc.Reuse != ""
	defer func() { box.close(context.WithoutCancel(ctx), keep) }()
	rep := scaleReport{Customers: n}
	topic := "keel.bench." + id
	if sc.Reuse == "" {
		fmt.Fprintf(stderr, "bench: %d customers: filling %s with the demo's data …\n", n, box.name)
		if rep.Data, err = fillScale(ctx, box, sc, n, topic, dir, stderr); err != nil {
			keep = false // half filled: nothing to measure again
			return rep, fmt.Errorf("bench console: fill %d customers: %w", n, err)
		}
	} else if rep.Data, err = countScale(ctx, box); err != nil {
		return rep, err
	}
	url, stop, err := startConsole(ctx, box, sc, topic, filepath.Join(dir, fmt.Sprintf("console-%d.log", n)))
	if err != nil {
		return rep, err
	}
	defer stop()
	fmt.Fprintf(stderr, "bench: %d customers: measuring the console at %s …\n", n, url)
	cfg.URL = url
	rep.Report, err = measureConsole(ctx, cfg, stderr)
	if err != nil {
		return rep, fmt.Errorf("at %d customers: %w (console log: %s)", n, err, filepath.Join(dir, fmt.Sprintf("console-%d.log", n)))
	}
	return rep, nil
}

// startConsole starts `keel console` on the sandbox, as its own process
// (what a user runs), and returns its URL and how to stop it. Its daily
// scoring is off: the scores were made when the sandbox was filled, and a
// scoring run would compete with the pages measured.
func startConsole(ctx context.Context, box *sandbox, sc ScaleConfig, topic, logPath string) (string, func(), error) {
	port, err := devstack.FreePort()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := spawnKeel(sc.Keel, logPath, "console", "--addr", addr, "--pg", box.PG, "--clickhouse", box.ClickHouse,
		"--brokers", strings.Join(sc.Brokers, ","), "--topic", topic, "--tz", "UTC", "--score=false", "--secure-cookies=false", "--log-level", "warn")
	if err != nil {
		return "", nil, err
	}
	stop := c.stop
	if err := devstack.WaitHTTP(ctx, "http://"+addr+"/healthz", time.Minute); err != nil {
		stop()
		return "", nil, fmt.Errorf("bench console: keel console on the sandbox did not start (log: %s): %w", logPath, err)
	}
	return "http://" + addr, stop, nil
}

// keelProcess is a keel command the run started; done closes when it
// exits, err then says how.
type keelProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawnKeel starts `keel args…` with its output in logPath; it dies with
// the bench.
func spawnKeel(keel, logPath string, args ...string) (*keelProcess, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := exec.Command(keel, args...)
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start keel %s: %w", args[0], err)
	}
	p := &keelProcess{cmd: c, done: make(chan struct{})}
	go func() { p.err = c.Wait(); log.Close(); close(p.done) }()
	return p, nil
}

// wait returns how the process ended.
func (p *keelProcess) wait() error { <-p.done; return p.err }

// stop asks the process to stop and kills it after 15 s.
func (p *keelProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// openSandbox reopens a sandbox kept by an earlier run (--reuse).
func openSandbox(ctx context.Context, pgURL, chURL, runID string) (*sandbox, error) {
	s := &sandbox{name: "keel_bench_" + runID, pgAdmin: pgURL}
	var err error
	if s.PG, err = withDatabase(pgURL, s.name); err != nil {
		return nil, fmt.Errorf("--pg: %w", err)
	}
	if s.ClickHouse, err = withDatabase(chURL, s.name); err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	conn, err := pgx.Connect(ctx, s.PG)
	if err != nil {
		return nil, fmt.Errorf("bench: --reuse: no kept sandbox %s (make one with --keep): %w", s.name, err)
	}
	conn.Close(ctx)
	if s.store, err = warehouse.Open(ctx, s.ClickHouse); err != nil {
		return nil, fmt.Errorf("bench: --reuse: sandbox %s in ClickHouse: %w", s.name, err)
	}
	return s, nil
}

// printScales writes the table of issue 13: one row per route pattern,
// its p95 at each scale, marked when at or over the target, then the
// patterns over the target at the largest scale.
func printScales(w io.Writer, reps []scaleReport, target time.Duration) {
	if len(reps) == 0 {
		return
	}
	r0 := reps[0].Report
	fmt.Fprintf(w, "keel bench console --scale %s  p95 of %d requests per pattern, %d in flight, target p95 < %.0f ms\n\n",
		joinInts(customersOf(reps)), r0.Requests, r0.Concurrency, ms(target))
	for _, r := range reps {
		fmt.Fprintf(w, "  %6d customers: %s\n", r.Customers, r.Data)
	}
	fmt.Fprintln(w)
	type key struct{ pattern, role string }
	p95 := make([]map[key]consoleResult, len(reps))
	var rows []key
	seen := map[key]bool{}
	for i, r := range reps {
		p95[i] = map[key]consoleResult{}
		for _, p := range r.Report.Pages {
			k := key{p.Pattern, p.Role}
			p95[i][k] = p
			if !seen[k] {
				seen[k] = true
				rows = append(rows, k)
			}
		}
	}
	tw := newTable(w)
	head := "PATTERN\tROLE\t"
	for _, r := range reps {
		head += fmt.Sprintf("%d\t", r.Customers)
	}
	fmt.Fprintln(tw, head)
	for _, k := range rows {
		line := k.pattern + "\t" + k.role + "\t"
		for i := range reps {
			p, ok := p95[i][k]
			switch {
			case !ok:
				line += "—\t"
			case p.Bad:
				line += fmt.Sprintf("%.0f ms ! not %d\t", p.P95, p.Want)
			case p.Slow:
				line += fmt.Sprintf("%.0f ms SLOW\t", p.P95)
			default:
				line += fmt.Sprintf("%.0f ms\t", p.P95)
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, r := range reps {
		var slow []string
		for _, p := range r.Report.Pages {
			if p.Slow {
				slow = append(slow, fmt.Sprintf("%s %.0f ms", p.Pattern, p.P95))
			}
		}
		if len(slow) == 0 {
			fmt.Fprintf(w, "\n%d customers: every page met the target p95 < %.0f ms\n", r.Customers, ms(target))
			continue
		}
		fmt.Fprintf(w, "\n%d customers: %d of %d pages over the target p95 < %.0f ms: %s\n",
			r.Customers, len(slow), len(r.Report.Pages), ms(target), strings.Join(slow, ", "))
	}
}

func customersOf(reps []scaleReport) []int {
	out := make([]int, len(reps))
	for i, r := range reps {
		out[i] = r.Customers
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
