package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// RevenueConfig configures Revenue; `keel bench revenue` fills it from its
// flags.
type RevenueConfig struct {
	// PG, ClickHouse and Brokers are the servers of the running stack
	// (keel dev's); the bench writes only to databases and a topic of its
	// own on them.
	PG, ClickHouse string
	Brokers        []string
	// Customers get a generated history (keeltest.Book.Generate: trials,
	// monthly to two-year terms, renewals on time and late, upgrades,
	// add-ons, voids after the fact) starting Months months ago.
	Customers, Months int
	// Requests per measured route, Concurrency of them in flight.
	Requests, Concurrency int
	// Changes back-dated changes (a void of an approved order) whose
	// restatement is timed.
	Changes int
	Keep    bool
	Seed    int64
}

// Validate reports the first setting that cannot work, by its flag.
func (c RevenueConfig) Validate() error {
	switch {
	case c.Customers <= 0 || c.Months <= 0:
		return errors.New("bench: --customers and --months must be positive")
	case c.Requests <= 0 || c.Concurrency <= 0:
		return errors.New("bench: --requests and --concurrency must be positive")
	case c.Changes < 0:
		return errors.New("bench: --changes must not be negative")
	case c.PG == "" || c.ClickHouse == "" || len(c.Brokers) == 0:
		return errors.New("bench: --pg, --clickhouse and --brokers are required")
	}
	return nil
}

// benchTB is the keeltest.TB of a benchmark: a mistake in the generated
// history stops the run with its message.
type benchTB struct{}

type benchStop struct{ msg string }

func (benchTB) Helper()                      {}
func (benchTB) Fatal(args ...any)            { panic(benchStop{fmt.Sprint(args...)}) }
func (benchTB) Fatalf(f string, args ...any) { panic(benchStop{fmt.Sprintf(f, args...)}) }
func generate(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(benchStop)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("bench: generate the history: %s", s.msg)
		}
	}()
	fn()
	return nil
}

// revenueResult is what one run measured.
type revenueResult struct {
	Customers, Facts, Months int
	Load                     time.Duration // first fact produced → every customer's revenue stored
	MonthTable               latency       // warehouse MonthTable over Months months, one at a time
	MRRAPI                   latency       // GET /api/v1/metrics/mrr, Concurrency in flight
	Dashboard                latency       // GET /dashboard, Concurrency in flight
	Restate                  latency       // a back-dated change produced → the customer's new revenue stored
	Rebuild                  time.Duration // every customer computed again (keel revenue rebuild)
	Mismatches               int           // identity check after the run
	Checked                  int
}

type latency struct{ P50, P95, Max time.Duration }

func latencyOf(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return latency{P50: percentile(ds, 50), P95: percentile(ds, 95), Max: ds[len(ds)-1]}
}

// Revenue is `keel bench revenue`: issue 11's targets. It generates a
// history of Customers customers, sends its subscription facts through
// Kafka to a facts loader of its own (which computes each customer's
// revenue as its facts arrive, as in production), and then times the
// month table, the MRR API and the dashboard, the restatement of
// back-dated changes, and a full rebuild; it checks the identity of every
// stored month at the end. Everything goes to databases and a topic of the
// run's own.
func Revenue(ctx context.Context, cfg RevenueConfig, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	id := fmt.Sprintf("%d", time.Now().UnixNano()/1e6)
	if _, err := openWarehouse(ctx, cfg.ClickHouse); err != nil {
		return fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	box, err := newSandbox(ctx, cfg.PG, cfg.ClickHouse, id)
	if err != nil {
		return err
	}
	defer box.close(context.WithoutCancel(ctx), cfg.Keep)
	store := box.store

	fmt.Fprintf(stderr, "bench: generating %d customers' history over %d months …\n", cfg.Customers, cfg.Months)
	b := keeltest.NewBook(benchTB{})
	today := keel.Date(time.Now().UTC())
	if err := generate(func() {
		b.Products("USD")
		b.Generate(cfg.Customers, cfg.Seed, keel.AddMonths(today, -cfg.Months))
	}); err != nil {
		return err
	}
	res := revenueResult{Customers: cfg.Customers, Facts: len(b.Facts), Months: cfg.Months}

	topic := "keel.bench." + id + ".facts"
	if err := collector.EnsureTopic(ctx, cfg.Brokers, topic, 8); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		(&kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}).DeleteTopics(c, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	}()
	loader, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{Brokers: cfg.Brokers, Topic: topic, Group: "keel-bench-" + id}, store, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	lctx, stopLoader := context.WithCancel(ctx)
	loaded := make(chan error, 1)
	go func() { loaded <- loader.Run(lctx) }()
	defer func() { stopLoader(); <-loaded }()

	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: 16 << 20, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	nextID := int64(0)
	produce := func(facts []keel.Fact) error {
		msgs := make([]kafka.Message, len(facts))
		for i, f := range facts {
			nextID++
			f.ID = nextID
			v, err := f.Encode()
			if err != nil {
				return err
			}
			msgs[i] = kafka.Message{Key: []byte(strconv.FormatInt(f.CustomerID, 10)), Value: v}
		}
		for i := 0; i < len(msgs); i += 5000 {
			// A topic just made may not be known to every broker yet.
			for try := 0; ; try++ {
				err := w.WriteMessages(ctx, msgs[i:min(i+5000, len(msgs))]...)
				if err == nil {
					break
				}
				if try == 50 || ctx.Err() != nil {
					return fmt.Errorf("bench: produce facts: %w", err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		return nil
	}
	customers := map[int64]bool{}
	for _, f := range b.Facts {
		customers[f.CustomerID] = true
	}
	fmt.Fprintf(stderr, "bench: %d facts of %d customers through Kafka to the facts loader …\n", len(b.Facts), len(customers))
	start := time.Now()
	if err := produce(b.Facts); err != nil {
		return err
	}
	if err := waitRevenue(ctx, store, len(customers), 30*time.Minute); err != nil {
		return err
	}
	res.Load = time.Since(start)

	to := keel.MonthOf(today)
	from := to - keel.Month(cfg.Months-1)
	fmt.Fprintf(stderr, "bench: the month table, %d times …\n", cfg.Requests)
	var ds []time.Duration
	for i := 0; i < cfg.Requests; i++ {
		t0 := time.Now()
		if _, err := store.MonthTable(ctx, "USD", from, to); err != nil {
			return err
		}
		ds = append(ds, time.Since(t0))
	}
	res.MonthTable = latencyOf(ds)

	if err := revenuePages(ctx, cfg, box, store, from, to, &res, stderr); err != nil {
		return err
	}

	if cfg.Changes > 0 {
		fmt.Fprintf(stderr, "bench: %d back-dated changes, each timed until its restatement is stored …\n", cfg.Changes)
		keys := b.Keys()
		var lat []time.Duration
		for i := 0; i < len(keys) && len(lat) < cfg.Changes; i++ {
			c := b.Customer(keys[(i*7919)%len(keys)])
			var order int64
			for _, o := range c.Orders {
				if o.Status == keel.OrderApproved && o.Total() > 0 {
					order = o.ID
				}
			}
			if order == 0 {
				continue
			}
			before, err := revenueVersion(ctx, store, c.Customer.ID)
			if err != nil {
				return err
			}
			n := len(b.Facts)
			if err := generate(func() { b.Void(keys[(i*7919)%len(keys)], order, time.Now().UTC()) }); err != nil {
				return err
			}
			t0 := time.Now()
			if err := produce(b.Facts[n:]); err != nil {
				return err
			}
			for {
				v, err := revenueVersion(ctx, store, c.Customer.ID)
				if err != nil {
					return err
				}
				if v > before {
					break
				}
				if time.Since(t0) > 5*time.Minute {
					return fmt.Errorf("bench: customer %d's void not restated after 5 minutes", c.Customer.ID)
				}
				time.Sleep(10 * time.Millisecond)
			}
			lat = append(lat, time.Since(t0))
		}
		res.Restate = latencyOf(lat)
	}

	ids := make([]uint64, 0, len(customers))
	for c := range customers {
		ids = append(ids, uint64(c))
	}
	fmt.Fprintf(stderr, "bench: rebuilding every customer's revenue …\n")
	t0 := time.Now()
	if err := store.RecomputeRevenue(ctx, ids, nil); err != nil {
		return err
	}
	res.Rebuild = time.Since(t0)
	mismatches, checked, err := store.CheckRevenue(ctx)
	if err != nil {
		return err
	}
	res.Mismatches, res.Checked = len(mismatches), checked
	res.print(stdout, cfg)
	if res.Mismatches > 0 {
		return fmt.Errorf("bench: %d stored months break the identity (first: %+v)", len(mismatches), mismatches[0])
	}
	return nil
}

// waitRevenue waits until n customers have revenue stored.
func waitRevenue(ctx context.Context, store *warehouse.Store, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var got uint64
		if err := store.Conn().QueryRow(ctx, "SELECT uniqExact(customer_id) FROM revenue WHERE row_kind = 'version'").Scan(&got); err != nil {
			return err
		}
		if int(got) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: revenue of %d of %d customers after %s", got, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// revenueVersion is a customer's latest revenue version (0 when none).
func revenueVersion(ctx context.Context, store *warehouse.Store, customer int64) (uint64, error) {
	var v uint64
	err := store.Conn().QueryRow(ctx, "SELECT max(version) FROM revenue WHERE row_kind = 'version' AND customer_id = ?", uint64(customer)).Scan(&v)
	return v, err
}

// revenuePages times the MRR API and the dashboard of a console served in
// this process on the run's databases, signed in as a leadership employee
// of the run's own.
func revenuePages(ctx context.Context, cfg RevenueConfig, box *sandbox, store *warehouse.Store, from, to keel.Month, res *revenueResult, stderr io.Writer) error {
	db, err := postgres.Open(ctx, box.PG)
	if err != nil {
		return err
	}
	defer db.Close()
	const password = "bench-revenue-password"
	lead, _, err := db.AddEmployee(ctx, keel.System, keel.Employee{Email: "ceo@bench.example", Name: "Bench leadership", Roles: []keel.Role{keel.RoleLeadership}, Status: keel.EmployeeActive, Locale: "en"})
	if err != nil {
		return err
	}
	if err := db.SetPassword(ctx, keel.System, lead.ID, password); err != nil {
		return err
	}
	token, err := db.CreateToken(ctx, keel.System, lead.ID, "bench")
	if err != nil {
		return err
	}
	h, err := console.NewServer(console.Deps{Warehouse: store, Revenue: store, Health: store, Names: db, Store: db,
		Log: slog.New(slog.DiscardHandler), Calendar: keel.UTC})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if err := signIn(ctx, browser, base, lead.Email, password); err != nil {
		return fmt.Errorf("bench: sign in: %w", err)
	}
	api := fmt.Sprintf("%s/api/v1/metrics/mrr?from=%s&to=%s&currency=USD", srv.URL, from, to)
	fmt.Fprintf(stderr, "bench: GET /api/v1/metrics/mrr and /dashboard, %d each, %d in flight …\n", cfg.Requests, cfg.Concurrency)
	if res.MRRAPI, err = timeRequests(ctx, http.DefaultClient, fixedURL(api), "Bearer "+token, cfg.Requests, cfg.Concurrency); err != nil {
		return err
	}
	res.Dashboard, err = timeRequests(ctx, browser, fixedURL(srv.URL+"/dashboard?months="+strconv.Itoa(min(cfg.Months, 36))), "", cfg.Requests, cfg.Concurrency)
	return err
}

// fixedURL is the URL of a route timed at one address.
func fixedURL(u string) func(int) string { return func(int) string { return u } }

// timeRequests sends n GETs, the i-th of urlOf(i), inFlight at a time,
// and fails on any answer but 200.
func timeRequests(ctx context.Context, c *http.Client, urlOf func(i int) string, auth string, n, inFlight int) (latency, error) {
	var mu sync.Mutex
	var ds []time.Duration
	var first error
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				u := urlOf(i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				el := time.Since(t0)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s answered %d", u, resp.StatusCode)
					}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				ds = append(ds, el)
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return latencyOf(ds), first
}

func (res revenueResult) print(w io.Writer, cfg RevenueConfig) {
	tw := newTable(w)
	row := func(name string, l latency, target string) {
		fmt.Fprintf(tw, "%s\tp50 %.1f ms, p95 %.1f ms, max %.1f ms\t%s\n", name, ms(l.P50), ms(l.P95), ms(l.Max), target)
	}
	fmt.Fprintf(tw, "keel bench revenue\t%d customers, %d facts, history from %d months ago\t\n", res.Customers, res.Facts, res.Months)
	fmt.Fprintf(tw, "facts → revenue stored (Kafka, facts loader, derive)\t%.1f s = %.0f facts/s\t\n", res.Load.Seconds(), float64(res.Facts)/res.Load.Seconds())
	row(fmt.Sprintf("month table, %d months (one at a time)", res.Months), res.MonthTable, "target p95 < 200 ms")
	row(fmt.Sprintf("GET /api/v1/metrics/mrr (%d in flight)", cfg.Concurrency), res.MRRAPI, "target p95 < 200 ms")
	row(fmt.Sprintf("GET /dashboard (%d in flight)", cfg.Concurrency), res.Dashboard, "target p95 < 300 ms")
	if cfg.Changes > 0 {
		row("back-dated change → restated", res.Restate, "target p95 < 60 s")
	}
	fmt.Fprintf(tw, "full rebuild\t%.1f s\t\n", res.Rebuild.Seconds())
	fmt.Fprintf(tw, "identity check\t%d months, %d mismatches\t\n", res.Checked, res.Mismatches)
	tw.Flush()
}
