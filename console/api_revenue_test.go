package console_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

var (
	_ console.RevenueStore  = (*postgres.DB)(nil)
	_ console.RevenueReader = (*warehouse.Store)(nil)
)

// revenueEnv is a console over a Postgres and a ClickHouse database of its
// own (revenue sums every customer of a currency, so each test's books
// are kept apart from every other test's), with one employee per role;
// with the pipeline, the outbox relay and the facts loader run on a topic
// of its own, as keel relay and keel load do, so that what the API writes
// reaches the revenue the API reads.
type revenueEnv struct {
	*apiEnv
	topic string
}

func newRevenueEnv(t *testing.T, pipeline bool) *revenueEnv {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	name := "revenue_" + uniq()
	admin, err := pgx.Connect(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), st.Postgres.URL()); err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	db, err := postgres.Open(ctx, strings.Replace(st.Postgres.URL(), "/keel?", "/"+name+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := migrations.ApplyPostgres(ctx, db.Pool()); err != nil {
		t.Fatal(err)
	}
	topic := "test.facts." + name
	if _, err := db.Pool().Exec(ctx, fmt.Sprintf("ALTER TABLE outbox ALTER COLUMN topic SET DEFAULT '%s'", topic)); err != nil {
		t.Fatal(err)
	}
	root, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Conn().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := warehouse.Open(context.Background(), st.ClickHouse.URL()); err == nil {
			s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
			s.Close()
		}
	})
	wh, err := warehouse.Open(ctx, "clickhouse://"+st.ClickHouse.Addr()+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	if _, err := migrations.ApplyClickHouse(ctx, wh.Conn(), "UTC"); err != nil {
		t.Fatal(err)
	}
	h, err := console.NewServer(console.Deps{Warehouse: wh, Revenue: wh, Names: db, Store: db, Log: slog.New(slog.DiscardHandler), Calendar: keel.UTC})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &apiEnv{t: t, url: srv.URL, srv: srv, h: h, pws: map[string]string{}, db: db, wh: wh,
		tokens: map[string]string{"none": "", "bad": postgres.TokenPrefix + "not-a-real-token"}, emps: map[string]keel.Employee{}}
	for _, n := range []string{"admin", "sales", "csm", "finance", "leadership", "departed"} {
		role := keel.Role(n)
		if n == "departed" {
			role = keel.RoleSales
		}
		emp, tok := e.employee(n, role)
		e.emps[n], e.tokens[n] = emp, tok
	}
	if _, err := db.DeactivateEmployee(ctx, keel.System, e.emps["departed"].ID); err != nil {
		t.Fatal(err)
	}
	re := &revenueEnv{apiEnv: e, topic: topic}
	if pipeline {
		re.startPipeline(st.Kafka.Brokers())
	}
	return re
}

// startPipeline runs the outbox relay and the facts loader until the test
// ends.
func (e *revenueEnv) startPipeline(brokers []string) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	if err := collector.EnsureTopic(ctx, brokers, e.topic, 4); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	relay, err := postgres.NewRelay(postgres.RelayConfig{Brokers: brokers, PollInterval: 200 * time.Millisecond}, e.db, log)
	if err != nil {
		t.Fatal(err)
	}
	loader, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{Brokers: brokers, Topic: e.topic, Group: e.topic, FlushInterval: 100 * time.Millisecond}, e.wh, log)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for name, run := range map[string]func(context.Context) error{"relay": relay.Run, "facts loader": loader.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// mrrMonth is a month of GET /metrics/mrr.
type mrrMonth struct {
	Month        string `json:"month"`
	MRR          int64  `json:"mrr"`
	ARR          int64  `json:"arr"`
	New          int64  `json:"new"`
	Expansion    int64  `json:"expansion"`
	Contraction  int64  `json:"contraction"`
	Churn        int64  `json:"churn"`
	Reactivation int64  `json:"reactivation"`
	NetNew       int64  `json:"net_new"`
	Customers    int64  `json:"customers"`
}

func (m mrrMonth) want() keeltest.MonthWant {
	return keeltest.MonthWant{Month: m.Month, MRR: m.MRR, New: m.New, Expansion: m.Expansion, Contraction: m.Contraction, Churn: m.Churn,
		Reactivation: m.Reactivation, Customers: m.Customers}
}

type mrrAnswer struct {
	Currency string     `json:"currency"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Months   []mrrMonth `json:"months"`
}

// mrr reads GET /metrics/mrr as caller.
func (e *revenueEnv) mrr(caller, query string) mrrAnswer {
	e.t.Helper()
	r := e.call(caller, "GET", "/api/v1/metrics/mrr?"+query, nil)
	if r.status != 200 {
		e.t.Fatalf("GET /metrics/mrr?%s: %d %s", query, r.status, r.body)
	}
	var a mrrAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// waitFor polls check until it reports done, failing the test with its
// last reason at the deadline; it returns how long it took.
func waitFor(t *testing.T, deadline time.Duration, check func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, why := check()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > deadline {
			t.Fatalf("not within %s: %s", deadline, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// casesCatalogue creates the worked books' products, priced in cur, with
// codes of their own; it returns their ids by the books' codes.
func (e *revenueEnv) casesCatalogue(rc keeltest.RevenueCases, cur string) map[string]int64 {
	e.t.Helper()
	ids := map[string]int64{}
	suffix := strings.ToLower(cur) + "-" + uniq()
	for _, p := range rc.Products {
		pid := id(e.t, e.must(201, "admin", "POST", "/api/v1/products", map[string]any{"code": strings.ToLower(p.Code) + "-" + suffix, "name": p.Code + " " + cur,
			"kind": p.Kind, "unit": p.Unit}))
		for _, v := range p.Prices {
			e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", pid),
				map[string]any{"amount": v.Amount, "currency": cur, "period": v.Period, "effective_from": v.EffectiveFrom})
		}
		ids[p.Code] = pid
	}
	return ids
}

// replayCase makes a worked book through the API as written: its
// customers, its orders with their lines' explicit starts, each submitted
// and (unless a trial, which approves itself) approved as paid on its
// approve_on day; those marked void are voided.
func (e *revenueEnv) replayCase(c keeltest.RevenueCase, products map[string]int64, cur string) {
	e.t.Helper()
	customers := map[string]int64{}
	for _, cu := range c.Customers {
		customers[cu.Key] = id(e.t, e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": fmt.Sprintf("%s %s %s %s", c.Name, cu.Name, cur, uniq())}))
	}
	for i, o := range c.Orders {
		var lines []any
		for _, l := range o.Lines {
			lines = append(lines, map[string]any{"product_id": products[l.Product], "quantity": l.Quantity, "months": l.Months, "start": l.Start})
		}
		oid := id(e.t, e.must(201, "sales", "POST", "/api/v1/orders", map[string]any{"customer_id": customers[o.Customer], "kind": o.Kind, "lines": lines}))
		sub := e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", oid), nil)
		if sub["status"] == string(keel.OrderPending) {
			e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid),
				map[string]any{"paid_amount": sub["total"], "paid_at": o.ApproveOn, "payment_ref": fmt.Sprintf("%s-%d", c.Name, i)})
		}
		if o.Void {
			e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/void", oid), nil)
		}
	}
}

// caseCurrencies give each worked book a currency of its own, so each
// book's month table is checked on its own as well as summed with the
// others in CNY.
var caseCurrencies = []string{"USD", "EUR", "GBP", "JPY", "HKD", "SGD", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK"}

// TestRevenueCasesThroughTheAPI is the first check of METRICS.md: the
// twelve worked books replayed through the JSON API as written, their
// facts through the outbox relay, Kafka and the facts loader, and
// GET /metrics/mrr compared with the month tables the independent
// calculator expects. The books' customers are independent, so all twelve
// live in one CNY company whose month table is the sum of theirs; and each
// book once more in a currency of its own, checked alone.
func TestRevenueCasesThroughTheAPI(t *testing.T) {
	e := newRevenueEnv(t, true)
	rc := keeltest.LoadRevenueCases(t)
	if len(rc.Cases) > len(caseCurrencies) {
		t.Fatalf("%d cases, %d currencies for them", len(rc.Cases), len(caseCurrencies))
	}
	cny := e.casesCatalogue(rc, "CNY")
	for i, c := range rc.Cases {
		e.replayCase(c, cny, "CNY")
		e.replayCase(c, e.casesCatalogue(rc, caseCurrencies[i]), caseCurrencies[i])
	}

	// The sum of every book's expected rows, month by month; a book adds
	// nothing outside its months (their tables start before its first
	// order and end after its last service).
	from, to := rc.Cases[0].From, rc.Cases[0].To
	for _, c := range rc.Cases {
		from, to = min(from, c.From), max(to, c.To)
	}
	total := map[string]keeltest.MonthWant{}
	for _, c := range rc.Cases {
		for _, w := range c.Expected {
			s := total[w.Month]
			s.Month, s.MRR, s.New, s.Expansion, s.Contraction = w.Month, s.MRR+w.MRR, s.New+w.New, s.Expansion+w.Expansion, s.Contraction+w.Contraction
			s.Churn, s.Reactivation, s.Customers = s.Churn+w.Churn, s.Reactivation+w.Reactivation, s.Customers+w.Customers
			total[w.Month] = s
		}
	}
	took := waitFor(t, 2*time.Minute, func() (bool, string) {
		got := e.mrr("leadership", "from="+from+"&to="+to+"&currency=CNY")
		for _, m := range got.Months {
			want := total[m.Month]
			want.Month = m.Month
			if m.want() != want {
				return false, fmt.Sprintf("CNY, all books: got  %+v\nwant %+v", m.want(), want)
			}
		}
		for i, c := range rc.Cases {
			got := e.mrr("finance", "from="+c.From+"&to="+c.To+"&currency="+caseCurrencies[i])
			if len(got.Months) != len(c.Expected) {
				return false, fmt.Sprintf("%s: %d months, want %d", c.Name, len(got.Months), len(c.Expected))
			}
			for k, want := range c.Expected {
				if g := got.Months[k].want(); g != want {
					return false, fmt.Sprintf("%s (%s, %s): got  %+v\nwant %+v", c.Name, caseCurrencies[i], c.Note, g, want)
				}
			}
		}
		return true, ""
	})
	t.Logf("the worked books' numbers reached the API %s after the last order", took.Round(time.Millisecond))

	got := e.mrr("admin", "from="+from+"&to="+to+"&currency=CNY")
	for _, m := range got.Months {
		// ARR is MRR × 12 rounded once from the exact MRR: within 6 minor
		// units of 12 × the rounded MRR. Net new is the movements' sum.
		if d := m.ARR - 12*m.MRR; d < -6 || d > 6 {
			t.Errorf("%s: arr %d, mrr %d", m.Month, m.ARR, m.MRR)
		}
		if d := m.NetNew - (m.New + m.Expansion + m.Reactivation - m.Contraction - m.Churn); d < -2 || d > 2 {
			t.Errorf("%s: net_new %d, movements %+v", m.Month, m.NetNew, m)
		}
	}
	if got.Currency != "CNY" || got.From != from || got.To != to {
		t.Errorf("answer of %s %s..%s, want CNY %s..%s", got.Currency, got.From, got.To, from, to)
	}
}

// revenueFixture is a small company of the restatement test: Acme on an
// edition since six months ago, and the seats it adds.
type revenueFixture struct {
	edition, seats int64
	acme           int64
	first          int64 // the edition's order
}

// TestRevenueRestatementReachesTheAPI: an order approved with a back-dated
// start changes the months it reaches back to, and voiding it takes them
// back; each change is in GET /metrics/mrr within 60 s.
func TestRevenueRestatementReachesTheAPI(t *testing.T) {
	e := newRevenueEnv(t, true)
	now := keel.MonthOf(time.Now().UTC())
	edition := e.product(keel.KindEdition, 100_000, "USD") // 1,000.00 a month
	seats := e.product(keel.KindAddonTerm, 5_000, "USD")   // 50.00 a seat a month
	acme := e.customer()
	start := (now - 6).First().AddDate(0, 0, 9) // the 10th, six months ago
	first := e.approve(e.orderLines(acme, keel.OrderNew, line(edition, 1, 12, start)), start)
	from, to := now-7, now
	q := fmt.Sprintf("from=%s&to=%s&currency=USD", from, to)
	waitFor(t, 60*time.Second, func() (bool, string) {
		a := e.mrr("leadership", q)
		return a.Months[1].New == 100_000 && a.Months[7].MRR == 100_000, fmt.Sprintf("%+v", a.Months)
	})

	// Ten seats from four months ago, entered today: the months since
	// then are restated.
	back := (now - 4).First()
	added := e.orderLines(acme, keel.OrderAddon, line(seats, 10, 1, back))
	t0 := time.Now()
	e.approve(added, back)
	var expansion int64
	waitFor(t, 60*time.Second, func() (bool, string) {
		a := e.mrr("leadership", q)
		m := a.Months[3] // four months ago
		expansion = m.Expansion
		return m.Expansion > 0 && m.MRR == 100_000+m.Expansion && a.Months[2].MRR == 100_000 && a.Months[7].MRR == m.MRR, fmt.Sprintf("%+v", a.Months)
	})
	took := time.Since(t0)
	t.Logf("a back-dated order reached the API in %s", took.Round(time.Millisecond))
	if took >= 60*time.Second {
		t.Errorf("a back-dated order took %s to reach the API, want under 60 s", took)
	}
	mv := e.movements("finance", fmt.Sprintf("month=%s&kind=expansion&currency=USD", now-4))
	if len(mv.Customers) != 1 || mv.Customers[0].CustomerID != acme || mv.Customers[0].MRRBefore != 100_000 || mv.Customers[0].MRRAfter != 100_000+expansion ||
		mv.Customers[0].Change != expansion || len(mv.Customers[0].Orders) != 1 || mv.Customers[0].Orders[0].ID != added ||
		mv.Customers[0].Orders[0].Page != fmt.Sprintf("/orders/%d", added) || mv.Amount != expansion {
		t.Errorf("expansion of %s: %+v, want acme from 1,000.00 up by %d by order %d", now-4, mv, expansion, added)
	}

	// Voided: the seats were never sold.
	t0 = time.Now()
	e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/void", added), nil)
	waitFor(t, 60*time.Second, func() (bool, string) {
		a := e.mrr("leadership", q)
		for _, m := range a.Months[1:] {
			if m.MRR != 100_000 || m.Expansion != 0 {
				return false, fmt.Sprintf("%+v", a.Months)
			}
		}
		return true, ""
	})
	took = time.Since(t0)
	t.Logf("the void reached the API in %s", took.Round(time.Millisecond))
	if took >= 60*time.Second {
		t.Errorf("a void took %s to reach the API, want under 60 s", took)
	}
	if mv := e.movements("finance", fmt.Sprintf("month=%s&kind=new&currency=USD", now-6)); len(mv.Customers) != 1 || mv.Customers[0].Orders[0].ID != first {
		t.Errorf("new in %s: %+v, want acme by order %d", now-6, mv, first)
	}
}

// orderLine is one line of an order request.
func line(product int64, quantity, months int, start time.Time) map[string]any {
	return map[string]any{"product_id": product, "quantity": quantity, "months": months, "start": start.Format(time.DateOnly)}
}

// orderLines creates a draft order of customer with lines, by sales.
func (e *apiEnv) orderLines(customer int64, kind keel.OrderKind, lines ...map[string]any) int64 {
	e.t.Helper()
	ls := make([]any, len(lines))
	for i, l := range lines {
		ls[i] = l
	}
	return id(e.t, e.must(201, "sales", "POST", "/api/v1/orders", map[string]any{"customer_id": customer, "kind": kind, "lines": ls}))
}

// approve submits an order and approves it as paid on day paid.
func (e *apiEnv) approve(order int64, paid time.Time) int64 {
	e.t.Helper()
	sub := e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", order), nil)
	e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", order),
		map[string]any{"paid_amount": sub["total"], "paid_at": paid.Format(time.DateOnly), "payment_ref": "REF-" + uniq()})
	return order
}

type moversAnswer struct {
	Currency  string `json:"currency"`
	Month     string `json:"month"`
	Kind      string `json:"kind"`
	Amount    int64  `json:"amount"`
	Customers []struct {
		CustomerID int64  `json:"customer_id"`
		Name       string `json:"name"`
		Movement   string `json:"movement"`
		MRRBefore  int64  `json:"mrr_before"`
		MRRAfter   int64  `json:"mrr_after"`
		Change     int64  `json:"change"`
		Amount     int64  `json:"amount"`
		Orders     []struct {
			ID   int64  `json:"id"`
			URL  string `json:"url"`
			Page string `json:"page"`
		} `json:"orders"`
		URL  string `json:"url"`
		Page string `json:"page"`
	} `json:"customers"`
}

func (e *apiEnv) movements(caller, query string) moversAnswer {
	e.t.Helper()
	r := e.call(caller, "GET", "/api/v1/metrics/movements?"+query, nil)
	if r.status != 200 {
		e.t.Fatalf("GET /metrics/movements?%s: %d %s", query, r.status, r.body)
	}
	var a moversAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// revenueReadRoutes are the revenue API's read routes, for the role
// checks and the answers with no data.
var revenueReadRoutes = []string{
	"/api/v1/metrics/mrr?from=2026-01&to=2026-03",
	"/api/v1/metrics/movements?month=2026-02&kind=new",
	"/api/v1/metrics/saas?month=2026-02",
	"/api/v1/metrics/cohorts?from=2026-01&to=2026-03",
	"/api/v1/metrics/renewals?month=2026-02",
	"/api/v1/settings/revenue",
	"/api/v1/spend?from=2026-01&to=2026-03",
}

// TestRevenueAPIRoles: leadership, finance and admin read revenue; sales
// and CSMs are refused (403), a departed employee, no token and a bad one
// are not authenticated (401). Admin alone changes the settings; finance
// and admin enter spend; a refused change changes nothing and writes no
// audit entry.
func TestRevenueAPIRoles(t *testing.T) {
	e := newRevenueEnv(t, false)
	for _, path := range revenueReadRoutes {
		for _, c := range callers {
			want := 403
			switch c {
			case "leadership", "finance", "admin":
				want = 200
			case "departed", "none", "bad":
				want = 401
			}
			for _, accept := range []string{"", "text/csv"} {
				r := e.callAccept(c, path, accept)
				if r.status != want {
					t.Errorf("GET %s as %s (Accept %q): %d, want %d: %s", path, c, accept, r.status, want, r.body)
				}
				if want == 403 {
					if code, _ := r.errorOf(t); code != keel.EFORBIDDEN {
						t.Errorf("GET %s as %s: code %s, want forbidden", path, c, code)
					}
				}
			}
		}
	}
	writes := []struct {
		path    string
		body    func(c string) any
		allowed []string
	}{
		{"/api/v1/settings/revenue", func(string) any { return map[string]any{"gross_margin_pct": 80} }, []string{"admin"}},
		{"/api/v1/spend/2026-01/USD", func(c string) any { return map[string]any{"amount": 100 + len(c)} }, []string{"finance", "admin"}},
	}
	for _, w := range writes {
		for _, c := range callers {
			allowed := false
			for _, a := range w.allowed {
				allowed = allowed || a == c
			}
			settings, spend, audits := e.must(200, "admin", "GET", "/api/v1/settings/revenue", nil), e.must(200, "admin", "GET", "/api/v1/spend?from=2026-01&to=2026-01", nil), e.auditCount()
			r := e.call(c, "PUT", w.path, w.body(c))
			want := 200
			switch {
			case allowed:
			case c == "departed" || c == "none" || c == "bad":
				want = 401
			default:
				want = 403
			}
			if r.status != want {
				t.Errorf("PUT %s as %s: %d, want %d: %s", w.path, c, r.status, want, r.body)
				continue
			}
			if allowed {
				if e.auditCount() != audits+1 {
					t.Errorf("PUT %s as %s: %d audit entries, want one", w.path, c, e.auditCount()-audits)
				}
				continue
			}
			if fmt.Sprint(e.must(200, "admin", "GET", "/api/v1/settings/revenue", nil)) != fmt.Sprint(settings) ||
				fmt.Sprint(e.must(200, "admin", "GET", "/api/v1/spend?from=2026-01&to=2026-01", nil)) != fmt.Sprint(spend) || e.auditCount() != audits {
				t.Errorf("PUT %s as %s was refused but changed something", w.path, c)
			}
		}
	}
	if s := e.must(200, "leadership", "GET", "/api/v1/settings/revenue", nil); s["gross_margin_pct"] != 80.0 || s["mrr_day"] != "last" || s["renewal_grace_days"] != 30.0 {
		t.Errorf("settings after admin's change: %v", s)
	}
	sp := e.must(200, "leadership", "GET", "/api/v1/spend?from=2026-01&to=2026-01", nil)
	items, _ := sp["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["amount"] != 107.0 || items[0].(map[string]any)["currency"] != "USD" {
		t.Errorf("spend after finance's entry: %v, want 107 USD (finance's, the last)", sp)
	}
}

// callAccept is a GET as caller with an Accept header.
func (e *apiEnv) callAccept(caller, path, accept string) resp {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if tok := e.tokens[caller]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp{status: res.StatusCode, header: res.Header, body: []byte(b.String())}
}

// TestRevenueAPIBadParameters: a bad month, from after to, a range over
// 120 months, an unknown currency, movement kind or parameter are each a
// 400 naming the parameter.
func TestRevenueAPIBadParameters(t *testing.T) {
	e := newRevenueEnv(t, false)
	tests := []struct{ path, field string }{
		{"/metrics/mrr?from=2026-13&to=2026-12", "from"},
		{"/metrics/mrr?from=2026-01&to=2026-1", "to"},
		{"/metrics/mrr?from=2026-05&to=2026-01", "from"},
		{"/metrics/mrr?from=2010-01&to=2020-12", "to"},
		{"/metrics/mrr?from=1999-01&to=1999-06", "from"},
		{"/metrics/mrr?from=2026-01&to=2026-03&currency=XYZ", "currency"},
		{"/metrics/mrr?from=2026-01&to=2026-03&currency=usd", "currency"},
		{"/metrics/mrr?from=2026-01&until=2026-03", "until"},
		{"/metrics/mrr?to=2026-03&to=2026-04", "to"},
		{"/metrics/movements?month=26-01&kind=new", "month"},
		{"/metrics/movements?month=2026-01&kind=upgrade", "kind"},
		{"/metrics/movements?month=2026-01&currency=EURO", "currency"},
		{"/metrics/saas?month=2026-00", "month"},
		{"/metrics/saas?month=2026-01&currency=ABC", "currency"},
		{"/metrics/cohorts?from=2026-06&to=2026-01", "from"},
		{"/metrics/cohorts?from=2000-01&to=2026-01", "to"},
		{"/metrics/renewals?month=next", "month"},
		{"/spend?from=2026-06&to=2026-01", "from"},
		{"/spend?from=2026-01&currency=USD", "currency"},
	}
	for _, tt := range tests {
		for _, accept := range []string{"", "text/csv"} {
			r := e.callAccept("finance", "/api/v1"+tt.path, accept)
			if r.status != 400 {
				t.Errorf("%s: %d, want 400: %s", tt.path, r.status, r.body)
				continue
			}
			if f := r.apiError(t).Field; f == nil || *f != tt.field {
				t.Errorf("%s: refusal names %v, want %q: %s", tt.path, f, tt.field, r.body)
			}
		}
	}
	// An empty currency is the default one, not a bad one.
	if r := e.call("finance", "GET", "/api/v1/metrics/renewals?month=2026-01&currency=", nil); r.status != 200 {
		t.Errorf("an empty currency: %d, want 200 (the default currency): %s", r.status, r.body)
	}
	for _, tt := range []struct {
		path  string
		body  any
		field string
	}{
		{"/spend/2026-13/USD", map[string]any{"amount": 1}, "month"},
		{"/spend/2026-01/XYZ", map[string]any{"amount": 1}, "currency"},
		{"/spend/2026-01/USD", map[string]any{"amount": -1}, "amount"},
		{"/spend/2026-01/USD", map[string]any{"amount": "12.50"}, "amount"},
		{"/spend/2026-01/USD", map[string]any{}, "amount"},
		{"/spend/2026-01/USD", map[string]any{"amount": 1, "note": "x"}, "note"},
		{"/settings/revenue", map[string]any{"mrr_day": "middle"}, "mrr_day"},
		{"/settings/revenue", map[string]any{"churn_timing": "never"}, "churn_timing"},
		{"/settings/revenue", map[string]any{"cac_months": 2}, "cac_months"},
		{"/settings/revenue", map[string]any{"gross_margin_pct": 101}, "gross_margin_pct"},
		{"/settings/revenue", map[string]any{"renewal_grace_days": 400}, "renewal_grace_days"},
		{"/settings/revenue", map[string]any{"main_currency": "EURO"}, "main_currency"},
		{"/settings/revenue", map[string]any{"nrr_with_reactivation": "yes"}, "nrr_with_reactivation"},
	} {
		audits := e.auditCount()
		r := e.call("admin", "PUT", "/api/v1"+tt.path, tt.body)
		if r.status != 400 {
			t.Errorf("PUT %s %v: %d, want 400: %s", tt.path, tt.body, r.status, r.body)
			continue
		}
		if f := r.apiError(t).Field; f == nil || *f != tt.field {
			t.Errorf("PUT %s %v: refusal names %v, want %q", tt.path, tt.body, f, tt.field)
		}
		if e.auditCount() != audits {
			t.Errorf("PUT %s %v: refused, yet audited", tt.path, tt.body)
		}
	}
}

// TestRevenueAPIWithoutData: with no revenue, every route answers rows of
// zeros (a month for each month asked), empty lists and nulls for what is
// undefined — not an error; the default currency is the catalogue's, then
// the main currency once set.
func TestRevenueAPIWithoutData(t *testing.T) {
	e := newRevenueEnv(t, false)
	a := e.mrr("leadership", "from=2026-01&to=2026-03")
	if a.Currency != "USD" || len(a.Months) != 3 || a.Months[0].Month != "2026-01" || a.Months[2].Month != "2026-03" {
		t.Fatalf("no data, no catalogue: %+v, want three months of USD", a)
	}
	for _, m := range a.Months {
		if m != (mrrMonth{Month: m.Month}) {
			t.Errorf("no data: %+v, want zeros", m)
		}
	}
	e.product(keel.KindEdition, 1000, "SGD")
	if a := e.mrr("leadership", "from=2026-01&to=2026-02"); a.Currency != "SGD" {
		t.Errorf("default currency with an SGD price only: %s, want SGD", a.Currency)
	}
	e.must(200, "admin", "PUT", "/api/v1/settings/revenue", map[string]any{"main_currency": "JPY"})
	if a := e.mrr("leadership", "from=2026-01&to=2026-02"); a.Currency != "JPY" {
		t.Errorf("default currency with main currency JPY: %s", a.Currency)
	}
	if a := e.mrr("leadership", "from=2026-01&to=2026-02&currency=EUR"); a.Currency != "EUR" || len(a.Months) != 2 {
		t.Errorf("asked for EUR: %+v", a)
	}
	// Default months: the twelve up to this month.
	if a := e.mrr("leadership", ""); len(a.Months) != 12 || a.To != keel.MonthOf(time.Now().UTC()).String() {
		t.Errorf("no range: %s..%s (%d months), want the twelve to this month", a.From, a.To, len(a.Months))
	}

	empty := map[string]string{
		"/api/v1/metrics/movements?month=2026-02":                      `"customers":[]`,
		"/api/v1/metrics/movements?month=2026-02&kind=churn":           `"customers":[]`,
		"/api/v1/metrics/cohorts?from=2026-01&to=2026-03":              `"cohorts":[]`,
		"/api/v1/metrics/renewals?month=2026-02":                       `"renewals":[]`,
		"/api/v1/spend?from=2026-01&to=2026-03":                        `"items":[]`,
		"/api/v1/metrics/saas?month=2026-02&currency=EUR":              `"nrr":null`,
		"/api/v1/metrics/saas?month=2026-02&currency=EUR&x=":           `"field":"x"`,
		"/api/v1/metrics/renewals?month=2026-02&currency=GBP":          `"count_rate":null`,
		"/api/v1/metrics/movements?month=2026-02&currency=EUR":         `"amount":0`,
		"/api/v1/metrics/cohorts?from=2026-01&to=2026-03&currency=CNY": `"currency":"CNY"`,
	}
	for path, want := range empty {
		r := e.call("finance", "GET", path, nil)
		if !strings.Contains(string(r.body), want) {
			t.Errorf("GET %s: %d %s, want %s", path, r.status, r.body, want)
		}
	}
	s := e.must(200, "finance", "GET", "/api/v1/metrics/saas?month=2026-02&currency=EUR", nil)
	for _, k := range []string{"arpa", "ltv", "cac", "customer_churn_rate", "gross_mrr_churn", "net_mrr_churn", "nrr", "grr", "quick_ratio", "cac_payback_months", "ltv_to_cac"} {
		if v, ok := s[k]; !ok || v != nil {
			t.Errorf("saas %s = %v (present %v), want null", k, v, ok)
		}
	}
	for _, k := range []string{"mrr", "arr", "net_new", "customers", "new_customers", "spend"} {
		if s[k] != 0.0 {
			t.Errorf("saas %s = %v, want 0", k, s[k])
		}
	}
}

// TestRevenueAPIAsCSV: every metrics route answers CSV to Accept:
// text/csv — a header row with the JSON's names, money in minor units, a
// row per month, customer, cohort cell or renewal — with the same numbers
// as its JSON.
func TestRevenueAPIAsCSV(t *testing.T) {
	e := newRevenueEnv(t, true)
	now := keel.MonthOf(time.Now().UTC())
	edition := e.product(keel.KindEdition, 123_456, "EUR")
	a, b := e.customer(), e.customer()
	ordA := e.approve(e.orderLines(a, keel.OrderNew, line(edition, 1, 3, (now-2).First())), (now - 2).First())
	e.approve(e.orderLines(b, keel.OrderNew, line(edition, 2, 12, (now-1).First())), (now - 1).First())
	q := fmt.Sprintf("from=%s&to=%s&currency=EUR", now-3, now)
	waitFor(t, 60*time.Second, func() (bool, string) {
		m := e.mrr("admin", q).Months
		return m[3].MRR == 3*123_456, fmt.Sprintf("%+v", m)
	})
	e.must(200, "finance", "PUT", fmt.Sprintf("/api/v1/spend/%s/EUR", now-1), map[string]any{"amount": 500_000})
	waitFor(t, 60*time.Second, func() (bool, string) { // the spend reaches the warehouse as a fact
		x := e.must(200, "leadership", "GET", fmt.Sprintf("/api/v1/metrics/saas?month=%s&currency=EUR", now-1), nil)
		return x["spend"] == 500000.0, fmt.Sprint(x)
	})

	readCSV := func(path string) [][]string {
		t.Helper()
		r := e.callAccept("leadership", path, "text/csv")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), ".csv") {
			t.Fatalf("GET %s as CSV: %d %q %q: %s", path, r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"), r.body)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatalf("GET %s: not CSV: %v", path, err)
		}
		return rows
	}
	rows := readCSV("/api/v1/metrics/mrr?" + q)
	if strings.Join(rows[0], ",") != "month,currency,mrr,arr,new,expansion,contraction,churn,reactivation,net_new,customers" || len(rows) != 5 {
		t.Fatalf("mrr CSV: %v", rows)
	}
	js := e.mrr("leadership", q)
	for i, m := range js.Months {
		want := []string{m.Month, "EUR", fmt.Sprint(m.MRR), fmt.Sprint(m.ARR), fmt.Sprint(m.New), fmt.Sprint(m.Expansion), fmt.Sprint(m.Contraction),
			fmt.Sprint(m.Churn), fmt.Sprint(m.Reactivation), fmt.Sprint(m.NetNew), fmt.Sprint(m.Customers)}
		if strings.Join(rows[i+1], ",") != strings.Join(want, ",") {
			t.Errorf("mrr CSV row %d: %v, JSON %v", i, rows[i+1], want)
		}
	}
	rows = readCSV(fmt.Sprintf("/api/v1/metrics/movements?month=%s&kind=new&currency=EUR", now-2))
	if strings.Join(rows[0], ",") != "month,currency,customer_id,name,movement,mrr_before,mrr_after,change,amount,orders" || len(rows) != 2 ||
		rows[1][2] != fmt.Sprint(a) || rows[1][6] != "123456" || rows[1][9] != fmt.Sprint(ordA) {
		t.Errorf("movements CSV: %v", rows)
	}
	rows = readCSV(fmt.Sprintf("/api/v1/metrics/saas?month=%s&currency=EUR", now-1))
	if len(rows) != 2 || rows[0][2] != "mrr" || rows[0][8] != "arpa" || rows[1][2] != fmt.Sprint(3*123_456) || rows[1][7] != "500000" || rows[1][10] != "500000" {
		t.Errorf("saas CSV: %v (want MRR 370368, spend and CAC 5,000.00 over one new customer)", rows)
	}
	rows = readCSV(fmt.Sprintf("/api/v1/metrics/cohorts?from=%s&to=%s&currency=EUR", now-3, now))
	if strings.Join(rows[0], ",") != "cohort,month,index,currency,start_mrr,start_customers,mrr,customers,mrr_retention,customer_retention" || len(rows) != 1+3+2 {
		t.Errorf("cohorts CSV (two cohorts, of 3 and 2 months): %v", rows)
	}
	rows = readCSV(fmt.Sprintf("/api/v1/metrics/renewals?month=%s&currency=EUR", now+1))
	if rows[0][0] != "month" || rows[0][8] != "due_mrr" || len(rows) != 2 || rows[1][2] != fmt.Sprint(a) || rows[1][8] != "123456" || rows[1][9] != "false" {
		t.Errorf("renewals CSV (a's term ends next month): %v", rows)
	}
	ren := e.must(200, "leadership", "GET", fmt.Sprintf("/api/v1/metrics/renewals?month=%s&currency=EUR", now+1), nil)
	if ren["due"] != 1.0 || ren["renewed"] != 0.0 || ren["due_mrr"] != 123456.0 || ren["count_rate"] != 0.0 {
		t.Errorf("renewals JSON: %v", ren)
	}
}
