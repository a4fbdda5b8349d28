package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/scoring"
	"github.com/keelhq/keel/warehouse"
)

// HealthConfig configures Health; `keel bench health` fills it from its
// flags.
type HealthConfig struct {
	// Keel is the keel binary whose `console` serves the timed pages.
	Keel string
	// PG and ClickHouse are the servers of the running stack (keel dev's);
	// the bench writes only to databases of its own on them.
	PG, ClickHouse string
	// Customers, each with a seat subscription approved through the store,
	// and Days of their activity as events, ending yesterday.
	Customers, Days int
	// Backfill days are scored before the daily run (yesterday) is timed.
	Backfill int
	// Declining is the share of customers whose usage falls away in the
	// last weeks, which the warning rules are to find.
	Declining float64
	// CSMs own the customers in turn.
	CSMs int
	// Requests per timed page, Concurrency of them in flight.
	Requests, Concurrency int
	// Keep keeps the run's sandbox (keel_bench_<run>); Reuse names such a
	// run to time its pages again, on its data as scored, without
	// rebuilding or rescoring it (to compare two builds of the console).
	Keep  bool
	Reuse string
	Seed  int64
}

// Validate reports the first setting that cannot work, by its flag.
func (c HealthConfig) Validate() error {
	switch {
	case c.Customers <= 0:
		return errors.New("bench: --customers must be positive")
	case c.Backfill <= 0:
		return errors.New("bench: --backfill must be positive")
	case c.Days < c.Backfill+1:
		return fmt.Errorf("bench: --days must cover the backfill and the day after it (at least %d)", c.Backfill+1)
	case c.Declining < 0 || c.Declining > 1:
		return errors.New("bench: --declining is a share, 0 to 1")
	case c.CSMs <= 0:
		return errors.New("bench: --csms must be positive")
	case c.Requests <= 0 || c.Concurrency <= 0:
		return errors.New("bench: --requests and --concurrency must be positive")
	case c.PG == "" || c.ClickHouse == "":
		return errors.New("bench: --pg and --clickhouse are required")
	case c.Keel == "":
		return errors.New("bench: HealthConfig.Keel: the keel binary is required")
	case c.Reuse != "" && !sandboxRun.MatchString(c.Reuse):
		return fmt.Errorf("bench: --reuse %q is not a run name (letters, digits and _, as --keep printed it)", c.Reuse)
	}
	return nil
}

// healthPlan is one generated customer: what it bought and how its usage
// goes. Usage is a share of the seats active each day (70–90 %, varying
// day by day); a declining customer's falls linearly from its start day
// to its floor over declineDays, and stays there.
type healthPlan struct {
	seats        int
	months       int       // the term bought
	start        time.Time // the term's first day, also the order's approval day
	declining    bool
	declineStart int // day index of the activity (0 = the first day)
	declineDays  int
	floor        float64 // share of the usage left at the end of the decline
}

// makePlans draws the customers: seats 3–12; half on a year that renews
// in the next 5–65 days, half on two years; declining ones start falling
// between 45 days before the backfill and 5 days before the end.
func makePlans(cfg HealthConfig, today time.Time) []healthPlan {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 12))
	out := make([]healthPlan, cfg.Customers)
	for i := range out {
		p := healthPlan{seats: 3 + r.IntN(10), months: 12}
		if r.IntN(2) == 0 {
			p.start = today.AddDate(0, 0, -300-r.IntN(61))
		} else {
			p.months, p.start = 24, today.AddDate(0, 0, -361-r.IntN(70))
		}
		if r.Float64() < cfg.Declining {
			p.declining = true
			first := max(0, cfg.Days-cfg.Backfill-45)
			p.declineStart = first + r.IntN(max(1, cfg.Days-5-first))
			p.declineDays = 14 + r.IntN(28)
			if r.IntN(3) == 0 {
				p.floor = 0.15
			}
		}
		out[i] = p
	}
	return out
}

// healthTenant is the tenant id of generated customer i, as the events
// generator writes it.
func healthTenant(i int) string { return fmt.Sprintf("bench-%d", i) }

// healthPassword signs the bench's staff in to the console it starts.
const healthPassword = "bench-health-password-7"

// healthWorld is what seeding made: the staff the pages are read as and
// the customers' ids by plan index.
type healthWorld struct {
	admin, csm keel.Employee
	customers  []int64
}

// seedRecords writes the staff, a seat-priced edition and every customer
// with an approved order of its term through the store's own functions,
// each order approved on its start day (the store's clock set to it), so
// that scoring knows the subscriptions from then on as it would have.
func seedRecords(ctx context.Context, pgURL string, cfg HealthConfig, plans []healthPlan, stderr io.Writer) (healthWorld, error) {
	db, err := postgres.Open(ctx, pgURL)
	if err != nil {
		return healthWorld{}, err
	}
	defer db.Close()
	var at atomic.Int64 // the store's clock; 0 = the real one
	db.SetClock(func() time.Time {
		if ns := at.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Now()
	})
	var w healthWorld
	add := func(email, name string, role keel.Role) (keel.Employee, error) {
		return db.AddEmployeeWithPassword(ctx, keel.System, keel.Employee{Email: email, Name: name, Roles: []keel.Role{role}, Locale: "en"}, healthPassword)
	}
	if w.admin, err = add("admin@bench.example", "Bench admin", keel.RoleAdmin); err != nil {
		return w, err
	}
	finance, err := add("finance@bench.example", "Bench finance", keel.RoleFinance)
	if err != nil {
		return w, err
	}
	sales, err := add("sales@bench.example", "Bench sales", keel.RoleSales)
	if err != nil {
		return w, err
	}
	csms := make([]keel.Employee, cfg.CSMs)
	for i := range csms {
		if csms[i], err = add(fmt.Sprintf("csm%d@bench.example", i+1), fmt.Sprintf("Bench CSM %d", i+1), keel.RoleCSM); err != nil {
			return w, err
		}
	}
	w.csm = csms[0]
	first := plans[0].start
	for _, p := range plans {
		if p.start.Before(first) {
			first = p.start
		}
	}
	at.Store(first.AddDate(0, 0, -1).UnixNano())
	pro, err := db.CreateProduct(ctx, w.admin, keel.Product{Code: "bench-pro", Name: "Bench Pro", Kind: keel.KindEdition, Unit: "seat"})
	if err != nil {
		return w, err
	}
	if _, err := db.AddPrice(ctx, w.admin, keel.PriceVersion{ProductID: pro.ID, Amount: 3000, Currency: "USD", Period: keel.PeriodMonth,
		EffectiveFrom: first.AddDate(0, 0, -1)}); err != nil {
		return w, err
	}
	byDay := map[time.Time][]int{}
	var days []time.Time
	for i, p := range plans {
		if byDay[p.start] == nil {
			days = append(days, p.start)
		}
		byDay[p.start] = append(byDay[p.start], i)
	}
	slices.SortFunc(days, time.Time.Compare)
	w.customers = make([]int64, len(plans))
	one := func(i int) error {
		p := plans[i]
		c := keel.Customer{Name: fmt.Sprintf("Bench customer %05d", i), TenantID: healthTenant(i), SalesOwner: &sales.ID, CSMOwner: &csms[i%len(csms)].ID}
		cv, err := db.CreateCustomer(ctx, sales, c)
		if err != nil {
			return fmt.Errorf("customer %d: %w", i, err)
		}
		start := p.start
		o, err := db.CreateOrder(ctx, sales, cv.ID, keel.OrderNew, []keel.LineRequest{{ProductID: pro.ID, Quantity: int64(p.seats), Months: p.months, Start: &start}})
		if err != nil {
			return fmt.Errorf("customer %d's order: %w", i, err)
		}
		if o, err = db.SubmitOrder(ctx, sales, o.ID); err != nil {
			return fmt.Errorf("customer %d's order: %w", i, err)
		}
		if _, err := db.ApproveOrder(ctx, finance, o.ID, keel.Payment{Amount: o.Total(), PaidAt: time.Unix(0, at.Load()), Reference: fmt.Sprintf("BENCH-%d", i)}); err != nil {
			return fmt.Errorf("customer %d's order: %w", i, err)
		}
		w.customers[i] = cv.ID
		return nil
	}
	t0 := time.Now()
	done := 0
	for _, day := range days {
		at.Store(day.Add(10 * time.Hour).UnixNano())
		if err := parallel(ctx, byDay[day], 8, one); err != nil {
			return w, err
		}
		done += len(byDay[day])
		if done%2000 < len(byDay[day]) {
			fmt.Fprintf(stderr, "bench: %d of %d customers with their orders (%s)\n", done, len(plans), time.Since(t0).Round(time.Second))
		}
	}
	return w, nil
}

// parallel runs fn on every item, n at a time, and returns the first
// error.
func parallel(ctx context.Context, items []int, n int, fn func(int) error) error {
	next := make(chan int)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range items {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// healthPlanTable holds the plans in the sandbox's ClickHouse, for the
// generator to join: the sandbox's own table, dropped with it.
const healthPlanTable = "bench_health_plan"

// healthEventsSQL generates the events of the activity days [d0, d1)
// (day 0 is first, a Unix time of midnight UTC) for every planned
// customer: each active user logs in once (08:00 on, five minutes apart),
// the first three of them use a feature (twelve features in turn), and
// the product sends the day's seat snapshot at 00:05. The active users
// of a day are the seats × a share of 70–90 % drawn from the day, × the
// decline's factor. Event ids are the day and the event's place in it, so
// the generator is repeatable.
func healthEventsSQL(n, d0, d1 int, first int64, seed int64) string {
	return fmt.Sprintf(`INSERT INTO events (tenant_id, event_id, event_type, user_id, event_time, props, ingested_at, kafka_topic, kafka_partition, kafka_offset)
SELECT concat('bench-', toString(t)) AS tenant_id,
    concat(toString(d), '.', toString(x)) AS event_id,
    multiIf(x < a, 'login', x < a + nf, 'feature_used', 'seat_snapshot') AS event_type,
    if(x < a + nf, concat('u', toString(if(x < a, toInt64(x), toInt64(x) - a))), '') AS user_id,
    toDateTime(%d + d * 86400 + if(x < a + nf, 28800 + x * 300 + t %% 240, 300), 'UTC') AS event_time,
    multiIf(x < a, '{}', x < a + nf, concat('{"feature":"f', toString((t + d + x) %% 12), '"}'), concat('{"seats":', toString(seats), '}')) AS props,
    now() AS ingested_at, 'keel.bench.health' AS kafka_topic, toUInt32(0) AS kafka_partition, toUInt64(0) AS kafka_offset
FROM (
    SELECT t, d, seats,
        toUInt32(round(seats * (0.7 + 0.2 * (cityHash64(%d, t, d) %% 1000) / 1000) *
            if(declining AND d >= decline_start, greatest(floor, 1 - (d - decline_start) / decline_days), 1))) AS a,
        least(a, 3) AS nf
    FROM (SELECT toUInt32(number %% %d) AS t, toInt32(%d + intDiv(number, %d)) AS d FROM numbers(%d))
    ANY INNER JOIN %s USING t
)
ARRAY JOIN range(a + nf + 1) AS x`, first, seed, n, d0, n, n*(d1-d0), healthPlanTable)
}

// seedActivity writes the plans' events into the sandbox's events table
// (its materialized views fill the daily rollups, as the loader's inserts
// do), twenty days at a time, and merges the rollups, as the days of a
// running warehouse would be by the time they are scored. It returns the
// events written.
func seedActivity(ctx context.Context, store *warehouse.Store, cfg HealthConfig, plans []healthPlan, first time.Time) (uint64, error) {
	conn := store.Conn()
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+healthPlanTable+` (t UInt32, seats UInt32, declining UInt8,
		decline_start Int32, decline_days UInt32, floor Float64) ENGINE = TinyLog`); err != nil {
		return 0, fmt.Errorf("bench: plan table: %w", err)
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+healthPlanTable+" (t, seats, declining, decline_start, decline_days, floor)")
	if err != nil {
		return 0, fmt.Errorf("bench: plan table: %w", err)
	}
	for i, p := range plans {
		var dec uint8
		if p.declining {
			dec = 1
		}
		if err := b.Append(uint32(i), uint32(p.seats), dec, int32(p.declineStart), uint32(max(p.declineDays, 1)), p.floor); err != nil {
			return 0, fmt.Errorf("bench: plan table: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("bench: plan table: %w", err)
	}
	for d0 := 0; d0 < cfg.Days; d0 += 20 {
		if err := conn.Exec(ctx, healthEventsSQL(len(plans), d0, min(d0+20, cfg.Days), first.Unix(), cfg.Seed)); err != nil {
			return 0, fmt.Errorf("bench: generate events: %w", err)
		}
	}
	for _, sql := range []string{"OPTIMIZE TABLE activity_daily FINAL", "OPTIMIZE TABLE activity_totals_daily FINAL"} {
		if err := conn.Exec(ctx, sql); err != nil {
			return 0, fmt.Errorf("bench: %s: %w", sql, err)
		}
	}
	var n uint64
	err = conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n)
	return n, err
}

// healthResult is what one run measured.
type healthResult struct {
	Customers, Days, Declining int
	Events                     uint64
	Records, Activity          time.Duration
	BackfillFrom, BackfillTo   time.Time
	Backfill                   time.Duration
	SlowestDay                 time.Duration
	Daily                      time.Duration // yesterday, warnings evaluated
	Scored                     int           // customers scored yesterday
	Open                       int           // open warnings after the daily run
	OpenByRule                 map[string]int
	Warned, WarnedHealthy      int // customers with an open warning; of them, not planned to decline
	Bands                      map[string]int
	Pages                      []pageTiming
	// Reused is the sandbox whose pages were timed again (--reuse), Day
	// its last day scored; nothing was built or scored then.
	Reused string
	Day    time.Time
}

type pageTiming struct {
	Name string
	L    latency
}

// Health is `keel bench health`: issue 12's targets. In a sandbox of its
// own it writes Customers customers with their orders through the store
// and Days of their activity as events, scores a backfill of Backfill
// days and then the daily run (yesterday) with the product's scorer, and
// times /alerts, /health and customer pages on a `keel console` process
// of its own, Concurrency requests in flight. The warnings are the rules'
// own, raised by the scoring over the generated activity.
func Health(ctx context.Context, cfg HealthConfig, stdout, stderr io.Writer) error {
	run := runHealth
	if cfg.Reuse != "" {
		run = rerunHealth
	}
	res, err := run(ctx, cfg, stderr, func(*sandbox, []healthPlan, healthWorld) error { return nil })
	if err != nil {
		return err
	}
	res.print(stdout, cfg)
	return nil
}

// runHealth runs the benchmark; inspect, when set, looks at the sandbox
// before it is dropped (the tests).
func runHealth(ctx context.Context, cfg HealthConfig, stderr io.Writer, inspect func(*sandbox, []healthPlan, healthWorld) error) (healthResult, error) {
	if err := cfg.Validate(); err != nil {
		return healthResult{}, err
	}
	if _, err := openWarehouse(ctx, cfg.ClickHouse); err != nil {
		return healthResult{}, fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	id := fmt.Sprintf("%d", time.Now().UnixNano()/1e6)
	box, err := newSandbox(ctx, cfg.PG, cfg.ClickHouse, id)
	if err != nil {
		return healthResult{}, err
	}
	defer box.close(context.WithoutCancel(ctx), cfg.Keep)
	if cfg.Keep {
		fmt.Fprintf(stderr, "bench: the run's databases are %s (kept; time its pages again with --reuse %s)\n", box.name, id)
	}
	today := keel.Date(time.Now().UTC())
	plans := makePlans(cfg, today)
	res := healthResult{Customers: cfg.Customers, Days: cfg.Days, OpenByRule: map[string]int{}, Bands: map[string]int{}}
	for _, p := range plans {
		if p.declining {
			res.Declining++
		}
	}

	fmt.Fprintf(stderr, "bench: %d customers, their staff and orders through the store …\n", cfg.Customers)
	t0 := time.Now()
	world, err := seedRecords(ctx, box.PG, cfg, plans, stderr)
	if err != nil {
		return res, err
	}
	res.Records = time.Since(t0)
	fmt.Fprintf(stderr, "bench: %d days of their activity as events …\n", cfg.Days)
	t0 = time.Now()
	if res.Events, err = seedActivity(ctx, box.store, cfg, plans, today.AddDate(0, 0, -cfg.Days)); err != nil {
		return res, err
	}
	res.Activity = time.Since(t0)

	db, err := postgres.Open(ctx, box.PG)
	if err != nil {
		return res, err
	}
	defer db.Close()
	scorer, err := scoring.New(scoring.Config{Calendar: keel.UTC}, db, box.store, slog.New(slog.DiscardHandler))
	if err != nil {
		return res, err
	}
	yesterday := today.AddDate(0, 0, -1)
	res.BackfillFrom, res.BackfillTo = yesterday.AddDate(0, 0, -cfg.Backfill), yesterday.AddDate(0, 0, -1)
	fmt.Fprintf(stderr, "bench: scoring %d days, %s to %s …\n", cfg.Backfill, res.BackfillFrom.Format(time.DateOnly), res.BackfillTo.Format(time.DateOnly))
	t0 = time.Now()
	days, err := scorer.Score(ctx, res.BackfillFrom, res.BackfillTo)
	if err != nil {
		return res, fmt.Errorf("bench: backfill: %w", err)
	}
	res.Backfill = time.Since(t0)
	for _, d := range days {
		res.SlowestDay = max(res.SlowestDay, d.Duration)
	}
	fmt.Fprintf(stderr, "bench: scoring yesterday, %s …\n", yesterday.Format(time.DateOnly))
	t0 = time.Now()
	daily, err := scorer.Score(ctx, yesterday, yesterday)
	if err != nil {
		return res, fmt.Errorf("bench: daily scoring: %w", err)
	}
	res.Daily = time.Since(t0)
	if len(daily) != 1 || !daily[0].AlertsEvaluated {
		return res, fmt.Errorf("bench: the daily run scored %d days, warnings evaluated: %v", len(daily), len(daily) == 1 && daily[0].AlertsEvaluated)
	}
	res.Scored = daily[0].Scored
	if err := countHealth(ctx, db, box.store, plans, world, yesterday, &res); err != nil {
		return res, err
	}
	if res.Open == 0 {
		return res, errors.New("bench: the scoring raised no warning over the generated activity")
	}
	if err := healthPages(ctx, cfg, box, db, world, &res, stderr); err != nil {
		return res, err
	}
	return res, inspect(box, plans, world)
}

// rerunHealth times the pages of a sandbox kept by an earlier run
// (cfg.Reuse) as it stands: its staff found by their emails, its warnings
// and bands counted on its last day scored. Nothing is written.
func rerunHealth(ctx context.Context, cfg HealthConfig, stderr io.Writer, inspect func(*sandbox, []healthPlan, healthWorld) error) (healthResult, error) {
	if err := cfg.Validate(); err != nil {
		return healthResult{}, err
	}
	box, err := openSandbox(ctx, cfg.PG, cfg.ClickHouse, cfg.Reuse)
	if err != nil {
		return healthResult{}, err
	}
	defer box.close(context.WithoutCancel(ctx), true)
	db, err := postgres.Open(ctx, box.PG)
	if err != nil {
		return healthResult{}, err
	}
	defer db.Close()
	res := healthResult{Reused: box.name, OpenByRule: map[string]int{}, Bands: map[string]int{}}
	var w healthWorld
	if w.admin, err = db.EmployeeByEmail(ctx, "admin@bench.example"); err != nil {
		return res, fmt.Errorf("bench: --reuse: %s is not a health run's sandbox: %w", box.name, err)
	}
	if w.csm, err = db.EmployeeByEmail(ctx, "csm1@bench.example"); err != nil {
		return res, fmt.Errorf("bench: --reuse: %s is not a health run's sandbox: %w", box.name, err)
	}
	last, err := box.store.LastHealthDay(ctx)
	if err != nil {
		return res, err
	}
	if last.IsZero() {
		return res, fmt.Errorf("bench: --reuse: %s has no day scored", box.name)
	}
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&res.Customers); err != nil {
		return res, err
	}
	res.Day = last
	if err := countHealth(ctx, db, box.store, nil, w, last, &res); err != nil {
		return res, err
	}
	if err := healthPages(ctx, cfg, box, db, w, &res, stderr); err != nil {
		return res, err
	}
	return res, inspect(box, nil, w)
}

// countHealth counts the open warnings, the customers they are on (and
// those of them the plan did not make decline, when the plans are known),
// and day's bands.
func countHealth(ctx context.Context, db *postgres.DB, store *warehouse.Store, plans []healthPlan, w healthWorld, day time.Time, res *healthResult) error {
	index := map[int64]int{}
	for i, id := range w.customers {
		index[id] = i
	}
	rows, err := db.Pool().Query(ctx, `SELECT customer_id, rule FROM alerts WHERE state = 'open'`)
	if err != nil {
		return fmt.Errorf("bench: count warnings: %w", err)
	}
	defer rows.Close()
	warned := map[int64]bool{}
	for rows.Next() {
		var c int64
		var rule string
		if err := rows.Scan(&c, &rule); err != nil {
			return fmt.Errorf("bench: count warnings: %w", err)
		}
		res.Open++
		res.OpenByRule[rule]++
		if !warned[c] {
			warned[c] = true
			if i, ok := index[c]; ok && !plans[i].declining {
				res.WarnedHealthy++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bench: count warnings: %w", err)
	}
	res.Warned = len(warned)
	return store.Health(ctx, warehouse.HealthFilter{From: day, To: day}, func(r warehouse.HealthRow) error {
		res.Bands[string(r.Band)]++
		return nil
	})
}

// healthPages starts `keel console` on the sandbox (its own process, as
// in production; its scoring off, the days being scored already), signs
// in as the first CSM and as admin, and times the pages.
func healthPages(ctx context.Context, cfg HealthConfig, box *sandbox, db *postgres.DB, w healthWorld, res *healthResult, stderr io.Writer) error {
	port, err := devstack.FreePort()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "keel-bench-health-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(cfg.Keel, "console", "--pg", box.PG, "--clickhouse", box.ClickHouse, "--addr", addr,
		"--secure-cookies=false", "--score=false", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start keel console: %w", err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	}()
	base := &url.URL{Scheme: "http", Host: addr}
	if err := devstack.WaitHTTP(ctx, base.String()+"/healthz", time.Minute); err != nil {
		out, _ := os.ReadFile(log.Name())
		return fmt.Errorf("bench console: %w\n%s", err, out)
	}
	session := func(e keel.Employee) (*http.Client, error) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if err := signIn(ctx, c, base, e.Email, healthPassword); err != nil {
			return nil, fmt.Errorf("bench: sign in as %s: %w", e.Email, err)
		}
		return c, nil
	}
	csm, err := session(w.csm)
	if err != nil {
		return err
	}
	admin, err := session(w.admin)
	if err != nil {
		return err
	}
	// The CSM's warned customers, most MRR at risk first: the queue's
	// first row must be on the page, and their pages are the ones read.
	rows, err := db.Pool().Query(ctx, `SELECT c.id, c.name FROM alerts a JOIN customers c ON c.id = a.customer_id
		WHERE a.state = 'open' AND a.owner_id = $1 ORDER BY a.mrr_at_risk DESC, a.raised_on, a.id`, w.csm.ID)
	if err != nil {
		return err
	}
	var ids []int64
	var top string
	seen := map[int64]bool{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		if top == "" {
			top = name
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	rows.Close()
	if len(ids) == 0 {
		return fmt.Errorf("bench: %s has no open warning to read", w.csm.Email)
	}
	if body, err := get(ctx, csm, base.String()+"/alerts"); err != nil {
		return err
	} else if !strings.Contains(body, top) {
		return fmt.Errorf("bench: %s's /alerts does not show %q, the first of their queue", w.csm.Email, top)
	}
	pages := []struct {
		name string
		c    *http.Client
		url  func(int) string
	}{
		{"GET /alerts (a CSM's queue)", csm, fixedURL(base.String() + "/alerts")},
		{"GET /alerts?tab=team (admin)", admin, fixedURL(base.String() + "/alerts?tab=team")},
		{"GET /health (admin)", admin, fixedURL(base.String() + "/health")},
		{"GET /health (a CSM)", csm, fixedURL(base.String() + "/health")},
		{"GET /customers/{id} (a CSM's warned customers)", csm, func(i int) string { return fmt.Sprintf("%s/customers/%d", base, ids[i%len(ids)]) }},
	}
	for _, p := range pages {
		fmt.Fprintf(stderr, "bench: %s, %d requests, %d in flight …\n", p.name, cfg.Requests, cfg.Concurrency)
		l, err := timeRequests(ctx, p.c, p.url, "", cfg.Requests, cfg.Concurrency)
		if err != nil {
			return err
		}
		res.Pages = append(res.Pages, pageTiming{p.name, l})
	}
	return nil
}

// get reads a page and fails on any answer but 200.
func get(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s answered %s", u, resp.Status)
	}
	return string(b), err
}

// verdict is a target's outcome as the report prints it.
func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "MISSED"
}

func (res healthResult) print(w io.Writer, cfg HealthConfig) {
	tw := newTable(w)
	if res.Reused != "" {
		fmt.Fprintf(tw, "keel bench health --reuse\t%s as kept: %d customers, last day scored %s\t\t\n", res.Reused, res.Customers, res.Day.Format(time.DateOnly))
		fmt.Fprintf(tw, "open warnings\t%d on %d customers: %s\t\t\n", res.Open, res.Warned, countSummary(res.OpenByRule))
		res.printPages(tw, cfg)
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "keel bench health\t%d customers × %d days of activity, %d events; %d declining\t\t\n", res.Customers, res.Days, res.Events, res.Declining)
	fmt.Fprintf(tw, "setup\trecords %.1f s (customers, orders approved), events %.1f s\t\t\n", res.Records.Seconds(), res.Activity.Seconds())
	// The target is for 90 days; another backfill is held to its share.
	limit := 5 * time.Minute * time.Duration(cfg.Backfill) / 90
	fmt.Fprintf(tw, "backfill, %d days (%s to %s)\t%.1f s, %.1f s a day, slowest %.1f s\ttarget < %s\t%s\n", cfg.Backfill,
		res.BackfillFrom.Format(time.DateOnly), res.BackfillTo.Format(time.DateOnly), res.Backfill.Seconds(),
		res.Backfill.Seconds()/float64(cfg.Backfill), res.SlowestDay.Seconds(), limit.Round(time.Second), verdict(res.Backfill < limit))
	fmt.Fprintf(tw, "scoring one day (yesterday, warnings evaluated)\t%.1f s, %d customers scored\ttarget < 10 s\t%s\n", res.Daily.Seconds(), res.Scored, verdict(res.Daily < 10*time.Second))
	fmt.Fprintf(tw, "open warnings\t%d on %d customers (%d of them not declining): %s\t\t\n", res.Open, res.Warned, res.WarnedHealthy, countSummary(res.OpenByRule))
	res.printPages(tw, cfg)
	tw.Flush()
}

// printPages writes the bands and the pages' timings.
func (res healthResult) printPages(tw io.Writer, cfg HealthConfig) {
	fmt.Fprintf(tw, "bands on the day scored last\t%s\t\t\n", countSummary(res.Bands))
	for _, p := range res.Pages {
		fmt.Fprintf(tw, "%s, %d in flight\tp50 %.1f ms, p95 %.1f ms, max %.1f ms\ttarget p95 < 300 ms\t%s\n", p.Name, cfg.Concurrency,
			ms(p.L.P50), ms(p.L.P95), ms(p.L.Max), verdict(p.L.P95 < 300*time.Millisecond))
	}
}
