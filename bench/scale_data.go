package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/demo"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// The scale run's data: exactly what `keel dev --demo-tenants N` loads
// (package demo, seed 1), by the fastest path that still runs the
// product's own code for every row. Through HTTP, 10,000 customers took
// 8 minutes for the orders and 9 for the events; here
//
//   - customers, orders and their transitions go through the Postgres
//     store's own methods (postgres.DB.CreateOrder, ApproveOrder …: the
//     domain's rules, the subscriptions an approval grants, the outbox
//     facts, the audit), as the JSON API's handlers call them, without
//     the HTTP and JSON in between;
//   - the facts go the product's way: the outbox, the relay
//     (postgres.Relay), Kafka (a topic of the run's own) and the facts
//     loader, whose derive step stores revenue;
//   - each event is encoded as the ingest client sends it and parsed by
//     the collector's parser (ingest.ParseEvent), then inserted into the
//     sandbox's events table by the loader's insert (warehouse.Store.Insert)
//     in batches of eventBatch rows: the rollups are ClickHouse's
//     materialized views, filled by that insert. Kafka is skipped, since
//     its exactly-once bookkeeping changes no row;
//   - health scores and warnings by `keel score` over every day of the
//     events, as keel dev's first start does.

// eventBatch is how many events go into ClickHouse per insert: big
// enough that the insert's fixed cost is nothing, small enough to keep
// the bench's memory in the hundreds of MB.
const eventBatch = 200_000

// scaleData counts what a sandbox holds and how long filling it took.
type scaleData struct {
	Customers int64         `json:"customers"`
	Orders    int64         `json:"orders"`
	Events    int64         `json:"events"`
	Facts     int64         `json:"facts"`
	Days      int           `json:"days"`
	Sales     time.Duration `json:"sales_ns,omitempty"`
	EventLoad time.Duration `json:"events_ns,omitempty"`
	FactLoad  time.Duration `json:"facts_ns,omitempty"`
	Scores    time.Duration `json:"scores_ns,omitempty"`
}

func (d scaleData) String() string {
	s := fmt.Sprintf("%d orders, %d facts, %d events", d.Orders, d.Facts, d.Events)
	if d.Days > 0 {
		s += fmt.Sprintf(" over %d days", d.Days)
	}
	if d.Sales > 0 {
		s += fmt.Sprintf("; filled in %s (sales %s, events %s, facts → revenue %s more, scores %s)",
			(d.Sales + d.EventLoad + d.FactLoad + d.Scores).Round(time.Second), d.Sales.Round(time.Second),
			d.EventLoad.Round(time.Second), d.FactLoad.Round(time.Second), d.Scores.Round(time.Second))
	} else {
		s += " (kept from an earlier run)"
	}
	return s
}

// fillScale loads n demo customers' data into the sandbox.
func fillScale(ctx context.Context, box *sandbox, sc ScaleConfig, n int, topic, dir string, stderr io.Writer) (scaleData, error) {
	d := scaleData{Days: sc.Days}
	db, err := postgres.Open(ctx, box.PG)
	if err != nil {
		return d, err
	}
	defer db.Close()
	now := time.Now().UTC()
	start := time.Now()
	plan := demo.Sales(demo.Config{Tenants: n, Seed: 1, Now: now})
	if d.Orders, err = loadSalesStore(ctx, db, plan); err != nil {
		return d, err
	}
	d.Customers = int64(len(plan.Customers))
	d.Sales = time.Since(start)
	fmt.Fprintf(stderr, "bench: %d customers, %d orders written through the store in %s\n", d.Customers, d.Orders, d.Sales.Round(time.Millisecond))

	// The facts travel while the events are written: both end in
	// ClickHouse, through different tables.
	factsDone, stopFacts, err := relayFacts(ctx, db, box, sc.Brokers, topic+".facts", &d.Facts)
	if err != nil {
		return d, err
	}
	defer stopFacts()

	start = time.Now()
	ecfg := demo.Config{Tenants: n, Days: sc.Days, Seed: 1, Now: now}
	tenants := demo.Tenants(ecfg)
	named := make([]postgres.Tenant, len(tenants))
	for i, t := range tenants {
		named[i] = postgres.Tenant{ID: t.ID, Name: t.Name}
	}
	if err := db.UpsertTenants(ctx, named); err != nil {
		return d, err
	}
	if d.Events, err = loadEvents(ctx, box.store, ecfg, tenants, topic, stderr); err != nil {
		return d, err
	}
	d.EventLoad = time.Since(start)
	fmt.Fprintf(stderr, "bench: %d events over %d days inserted in %s (%.0f events/s)\n", d.Events, sc.Days,
		d.EventLoad.Round(time.Millisecond), float64(d.Events)/d.EventLoad.Seconds())

	start = time.Now()
	if err := factsDone(); err != nil {
		return d, err
	}
	d.FactLoad = time.Since(start)
	fmt.Fprintf(stderr, "bench: %d facts through the relay and the facts loader, revenue stored (%s after the events)\n", d.Facts, d.FactLoad.Round(time.Millisecond))

	start = time.Now()
	today := now.Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -(sc.Days-1)), today.AddDate(0, 0, -1)
	if !to.Before(from) {
		logPath := filepath.Join(dir, fmt.Sprintf("score-%d.log", n))
		c, err := spawnKeel(sc.Keel, logPath, "score", "--pg", box.PG, "--clickhouse", box.ClickHouse, "--brokers", sc.Brokers[0],
			"--tz", "UTC", "--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly), "--log-level", "warn")
		if err != nil {
			return d, err
		}
		if err := c.wait(); err != nil {
			return d, fmt.Errorf("keel score on the sandbox (log: %s): %w", logPath, err)
		}
	}
	d.Scores = time.Since(start)
	fmt.Fprintf(stderr, "bench: health scored for %s … %s in %s\n", from.Format(time.DateOnly), to.Format(time.DateOnly), d.Scores.Round(time.Millisecond))
	return d, nil
}

// countScale counts what a kept sandbox holds.
func countScale(ctx context.Context, box *sandbox) (scaleData, error) {
	var d scaleData
	db, err := postgres.Open(ctx, box.PG)
	if err != nil {
		return d, err
	}
	defer db.Close()
	if err := db.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), (SELECT count(*) FROM outbox)").
		Scan(&d.Customers, &d.Orders, &d.Facts); err != nil {
		return d, fmt.Errorf("count the kept sandbox %s: %w", box.name, err)
	}
	n, err := box.store.EventCount(ctx)
	d.Events = int64(n)
	return d, err
}

// loadSalesStore writes the plan as demo.LoadSales does through the API —
// the catalogue as the admin, each customer as its sales owner, orders as
// their seller, approvals as finance — calling the store methods the
// API's handlers call. It returns the number of orders.
func loadSalesStore(ctx context.Context, db *postgres.DB, plan demo.SalesPlan) (int64, error) {
	staff := make([]keel.Employee, len(demo.Staff))
	for i, s := range demo.Staff {
		e, err := db.AddEmployeeWithPassword(ctx, keel.System, keel.Employee{Email: s.Email, Name: s.Name, Roles: s.Roles, Status: keel.EmployeeActive, Locale: "en"}, demo.StaffPassword)
		if err != nil {
			return 0, fmt.Errorf("demo employee %s: %w", s.Email, err)
		}
		staff[i] = e
	}
	admin, finance := staff[demo.StaffAdmin], staff[demo.StaffFinance]
	products := map[string]int64{}
	for _, p := range plan.Products {
		made, err := db.CreateProduct(ctx, admin, keel.Product{Code: p.Code, Name: p.Name, Kind: p.Kind, Unit: p.Unit, Status: keel.ProductEnabled})
		if err != nil {
			return 0, fmt.Errorf("product %s: %w", p.Code, err)
		}
		for _, v := range p.Prices {
			if _, err := db.AddPrice(ctx, admin, keel.PriceVersion{ProductID: made.ID, Amount: v.Amount, Currency: v.Currency, Period: v.Period, EffectiveFrom: v.From}); err != nil {
				return 0, fmt.Errorf("price of %s: %w", p.Code, err)
			}
		}
		if p.Disabled {
			if _, err := db.SetProductStatus(ctx, admin, made.ID, keel.ProductDisabled); err != nil {
				return 0, err
			}
		}
		products[p.Code] = made.ID
	}
	var orders atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4) // as LoadSales: the store's transactions, four at a time
	for _, c := range plan.Customers {
		g.Go(func() error {
			n, err := loadCustomerStore(gctx, db, c, staff, products)
			orders.Add(int64(n))
			if err != nil {
				return fmt.Errorf("demo customer %s: %w", c.Tenant.ID, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return orders.Load(), err
	}
	for _, s := range plan.Spend {
		if _, err := db.SetSpend(ctx, finance, s); err != nil {
			return orders.Load(), fmt.Errorf("spend of %s: %w", s.Month, err)
		}
	}
	return orders.Load(), nil
}

// loadCustomerStore is demo's loadCustomer with the store in place of the
// API: the same calls, in the same order, by the same employees.
func loadCustomerStore(ctx context.Context, db *postgres.DB, c demo.CustomerPlan, staff []keel.Employee, products map[string]int64) (int, error) {
	seller, csm, finance := staff[c.Sales], staff[c.CSM], staff[demo.StaffFinance]
	sales, csmID := seller.ID, csm.ID
	cust, err := db.CreateCustomer(ctx, seller, keel.Customer{Name: c.Tenant.Name, TenantID: c.Tenant.ID, SalesOwner: &sales, CSMOwner: &csmID,
		Industry: c.Industry, Region: c.Region, Contacts: c.Contacts})
	if err != nil {
		return 0, err
	}
	orders := 0
	for _, o := range c.Orders {
		by := seller
		if o.SoldBy == 1 {
			by = csm
		}
		lines := make([]keel.LineRequest, len(o.Lines))
		for i, l := range o.Lines {
			id := products[l.Product]
			if id == 0 {
				return orders, fmt.Errorf("no product %q", l.Product)
			}
			start := l.Start
			lines[i] = keel.LineRequest{ProductID: id, Quantity: l.Quantity, Months: l.Months, Start: &start}
		}
		ord, err := db.CreateOrder(ctx, by, cust.ID, o.Kind, lines)
		if err != nil {
			return orders, err
		}
		orders++
		if o.Outcome == demo.OutcomeDraft {
			continue
		}
		if _, err := db.SubmitOrder(ctx, by, ord.ID); err != nil {
			return orders, fmt.Errorf("submit order %d: %w", ord.ID, err)
		}
		switch o.Outcome {
		case demo.OutcomeReject:
			_, err = db.RejectOrder(ctx, finance, ord.ID, "customer asked to wait until next quarter")
		case demo.OutcomeApprove, demo.OutcomeVoid:
			if o.Kind == keel.OrderTrial {
				break // approved itself on submit
			}
			p := keel.Payment{Amount: int64(float64(ord.Total()) * o.PaidPart), PaidAt: o.PaidAt,
				Reference: fmt.Sprintf("BANK-%s-%d", c.Tenant.ID, ord.ID)}
			_, err = db.ApproveOrder(ctx, finance, ord.ID, p)
			if err == nil && o.Outcome == demo.OutcomeVoid {
				_, err = db.VoidOrder(ctx, finance, ord.ID)
			}
		}
		if err != nil {
			return orders, fmt.Errorf("order %d (%s): %w", ord.ID, o.Kind, err)
		}
	}
	return orders, nil
}

// relayFacts points the sandbox's unsent outbox rows at the run's facts
// topic (they name keel dev's otherwise, whose facts loader would store
// them in keel dev's warehouse), then runs the relay and a facts loader
// on it. wait returns once every fact is in the sandbox's facts table and
// the revenue derived from them has stopped changing; stop ends both.
func relayFacts(ctx context.Context, db *postgres.DB, box *sandbox, brokers []string, topic string, facts *int64) (wait func() error, stop func(), err error) {
	if _, err := db.Pool().Exec(ctx, "UPDATE outbox SET topic = $1 WHERE sent_at IS NULL", topic); err != nil {
		return nil, nil, fmt.Errorf("point the outbox at %s: %w", topic, err)
	}
	if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(facts); err != nil {
		return nil, nil, err
	}
	if err := collector.EnsureTopic(ctx, brokers, topic, 8); err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	relay, err := postgres.NewRelay(postgres.RelayConfig{Brokers: brokers, BatchSize: 5000}, db, quiet)
	if err != nil {
		return nil, nil, err
	}
	loader, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{Brokers: brokers, Topic: topic, Group: "keel-bench-" + box.name}, box.store, quiet)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); relay.Run(rctx) }()
	go func() { defer wg.Done(); loader.Run(rctx) }()
	stop = func() {
		cancel()
		wg.Wait()
		// The facts are in the sandbox: the topic has done its work.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		(&kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}).DeleteTopics(c, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	}
	wait = func() error {
		deadline := time.Now().Add(30 * time.Minute)
		var last, stable uint64
		for {
			var stored, revenue uint64
			if err := box.store.Conn().QueryRow(ctx, "SELECT uniqExact(fact_id) FROM facts").Scan(&stored); err != nil {
				return err
			}
			if err := box.store.Conn().QueryRow(ctx, "SELECT count() FROM revenue").Scan(&revenue); err != nil {
				return err
			}
			// Revenue is derived in the loader's batch after its facts are
			// stored: settled when it has not moved for a second.
			if int64(stored) >= *facts {
				if revenue == last && revenue > 0 {
					stable++
				} else {
					stable = 0
				}
				if stable >= 4 {
					return nil
				}
			}
			last = revenue
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d facts in the sandbox after 30 minutes", stored, *facts)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return wait, stop, nil
}

// eventRow is the row the collector and the loader would store for ce.
// Encoding each event as JSON and parsing it again was three quarters of
// the CPU of generating the data (35M events at 10,000 customers), so the
// demo's events — ids, types and flat props of strings and integers, all
// valid — take a direct path, and anything else the client's encoding and
// the collector's parser. TestEventRowIsTheCollectorsRow checks the two
// agree on every event of the demo's days.
func eventRow(ce client.Event) (ingest.Event, error) {
	if props, ok := simpleProps(ce.Props); ok && ce.ID != "" && ce.Type != "" && ce.Tenant != "" && !ce.Time.IsZero() {
		return ingest.Event{ID: ce.ID, Type: ce.Type, Tenant: ce.Tenant, User: ce.User, Time: ce.Time.UTC(), Props: props}, nil
	}
	raw, err := client.Encode(ce)
	if err != nil {
		return ingest.Event{}, err
	}
	return ingest.ParseEvent(raw)
}

// simpleProps is props as compact JSON with sorted keys, when every key
// and string value is printable ASCII needing no escape and every value a
// string or an integer; ok is false otherwise.
func simpleProps(props map[string]any) (string, bool) {
	if len(props) == 0 {
		return "{}", true
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		if !plainASCII(k) {
			return "", false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 64)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), k...), '"', ':')
		switch v := props[k].(type) {
		case string:
			if !plainASCII(v) {
				return "", false
			}
			b = append(append(append(b, '"'), v...), '"')
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		default:
			return "", false
		}
	}
	return string(append(b, '}')), true
}

// plainASCII reports whether s is printable ASCII with no character JSON
// escapes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// loadEvents generates the demo's days of events, two days at a time, and
// inserts them in batches; it returns how many it inserted.
func loadEvents(ctx context.Context, store *warehouse.Store, cfg demo.Config, tenants []demo.Tenant, topic string, stderr io.Writer) (int64, error) {
	var total, made atomic.Int64
	days := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	const workers = 2
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			b := &warehouse.Batch{Topic: topic}
			var offset int64
			flush := func() error {
				if b.Len() == 0 {
					return nil
				}
				if err := store.Insert(gctx, b); err != nil {
					return err
				}
				total.Add(int64(b.Len()))
				b.Reset()
				return nil
			}
			for day := range days {
				ingested := time.Now().UTC()
				err := demo.Day(cfg, tenants, day, func(ce client.Event) error {
					ev, err := eventRow(ce)
					if err != nil {
						return fmt.Errorf("event %s: %w", ce.ID, err)
					}
					// Each worker is a partition of its own, so that the
					// positions are as unique as Kafka's.
					b.AddEvent(&ev, warehouse.Position{Partition: w, Offset: offset}, ingested)
					offset++
					made.Add(1)
					if b.Len() >= eventBatch {
						return flush()
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return flush()
		})
	}
	g.Go(func() error {
		defer close(days)
		for day := 0; day < cfg.Days; day++ {
			select {
			case days <- day:
			case <-gctx.Done():
				return gctx.Err()
			}
			if day%5 == 4 {
				fmt.Fprintf(stderr, "bench: events: day %d of %d under way, %d made, %d inserted\n", day+1, cfg.Days, made.Load(), total.Load())
			}
		}
		return nil
	})
	err := g.Wait()
	return total.Load(), err
}
