package warehouse

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/migrations"
)

var dbSeq atomic.Int64

// isolatedStore is a Store on a database of its own on the test server,
// with Keel's migrations: revenue sums over every customer of a currency,
// so each book is kept apart from the others'.
func isolatedStore(t *testing.T) *Store {
	t.Helper()
	stack, s := testStack(t)
	ctx := context.Background()
	name := fmt.Sprintf("rev_%d_%d", time.Now().UnixNano()%1_000_000, dbSeq.Add(1))
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name) })
	db, err := Open(ctx, strings.TrimSuffix(stack.ClickHouse.URL(), "default")+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.ApplyClickHouse(ctx, db.conn, "UTC"); err != nil {
		t.Fatal(err)
	}
	return db
}

// storeFacts stores the book's facts as the loader would, ids from 1.
func storeFacts(t *testing.T, s *Store, facts []keel.Fact) {
	t.Helper()
	b := FactBatch{Topic: "keel.facts"}
	for i, f := range facts {
		f.ID = int64(i + 1)
		b.AddFact(&f, Position{Partition: 0, Offset: int64(i)}, time.Now())
	}
	if err := s.InsertFacts(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func customersOf(b *keeltest.Book) []uint64 {
	var ids []uint64
	for _, k := range b.Keys() {
		ids = append(ids, uint64(b.Customer(k).Customer.ID))
	}
	return ids
}

// TestRevenueCasesInClickHouse: each worked book of METRICS.md, its facts
// as the relay publishes them, stored and computed in ClickHouse, answers
// the month table the independent calculator expects, and every
// customer's stored months are exactly the domain's.
func TestRevenueCasesInClickHouse(t *testing.T) {
	ctx := context.Background()
	rc := keeltest.LoadRevenueCases(t)
	for _, c := range rc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s := isolatedStore(t)
			b := rc.Replay(t, c)
			storeFacts(t, s, b.Facts)
			if err := s.RecomputeRevenue(ctx, customersOf(b), nil); err != nil {
				t.Fatal(err)
			}
			from, to := keeltest.Month(t, c.From), keeltest.Month(t, c.To)
			got, err := s.MonthTable(ctx, "CNY", from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.Expected) {
				t.Fatalf("%d months, want %d", len(got), len(c.Expected))
			}
			for i, want := range c.Expected {
				if row := keeltest.Row(got[i]); row != want {
					t.Errorf("got  %+v\nwant %+v (%s)", row, want, c.Note)
				}
			}
			for _, k := range b.Keys() {
				cu := b.Customer(k)
				stored, err := s.CustomerMonths(ctx, RevenueFilter{Customer: cu.Customer.ID})
				if err != nil {
					t.Fatal(err)
				}
				want := keel.CustomerSeries(cu.Customer.ID, cu.Subscriptions, keel.RevenueSettings{})
				if !sameMonths(stored, want) {
					t.Errorf("customer %s: stored\n%+v\nwant\n%+v", k, stored, want)
				}
			}
		})
	}
}

func sameMonths(a, b []keel.CustomerMonth) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if len(x.Orders) == 0 {
			x.Orders = nil
		}
		if len(y.Orders) == 0 {
			y.Orders = nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// TestRevenueThroughTheLoader follows a generated history of 2,000
// customers — trials, renewals, lapses, upgrades, add-ons, voids made after
// the fact — fact by fact through Kafka and the facts loader, which
// computes each customer's revenue whenever its facts arrive. Then:
//   - every stored customer-month satisfies the identity (CheckRevenue);
//   - the month table equals the domain's sums of the same history;
//   - computing everyone again at once (keel revenue rebuild) gives the
//     same rows as the incremental path.
func TestRevenueThroughTheLoader(t *testing.T) {
	stack, _ := testStack(t)
	s := isolatedStore(t)
	ctx := context.Background()
	b := keeltest.NewBook(t)
	b.Products("USD")
	start := keeltest.Day(t, "2023-01-01")
	b.Generate(2000, 11, start)

	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 4)
	msgs := make([]kafka.Message, len(b.Facts))
	for i, f := range b.Facts {
		f.ID = int64(i + 1)
		v, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(strconv.FormatInt(f.CustomerID, 10)), Value: v}
	}
	produce(t, brokers, topic, msgs...)
	l := startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topic, Group: topic, BatchRows: 500}, s)
	waitGroupCaughtUp(t, brokers, topic, topic, 4)
	l.stop()

	mismatches, n, err := s.CheckRevenue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 20000 || len(mismatches) != 0 {
		t.Fatalf("checked %d months, %d mismatches (first: %+v); want over 20,000 and none", n, len(mismatches), first(mismatches))
	}
	from, to := keel.MonthOf(start)-1, keel.MonthOf(start)+60
	got, err := s.MonthTable(ctx, "USD", from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := keel.MonthTotals(b.Series(keel.RevenueSettings{}), from, to)
	for i := range want {
		if g, w := keeltest.Row(got[i]), keeltest.Row(want[i]); g != w || got[i].MRR != want[i].MRR {
			t.Fatalf("%s: stored %+v (%v), domain %+v (%v)", w.Month, g, got[i].MRR, w, want[i].MRR)
		}
	}

	incremental := dumpRevenue(t, s)
	if err := s.RecomputeRevenue(ctx, customersOf(b), nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := dumpRevenue(t, s)
	if len(incremental) == 0 || !reflect.DeepEqual(incremental, rebuilt) {
		t.Fatalf("rebuild differs from the incremental path: %d rows before, %d after", len(incremental), len(rebuilt))
	}

	// A stored row that contradicts its neighbour is found: the check can fail.
	bad := revenueRows{}
	cm := keel.CustomerMonth{CustomerID: b.Customer(b.Keys()[0]).Customer.ID, Currency: "USD", Month: keel.MonthAt(2030, 1), MRR: keel.ExactOf(5), Movement: keel.MoveExpansion, Change: keel.ExactOf(3)}
	bad.addMonth(cm, latestVersion(t, s, cm.CustomerID), time.Now())
	if err := s.send(ctx, insertRevenue, bad.columns()...); err != nil {
		t.Fatal(err)
	}
	if mismatches, _, _ := s.CheckRevenue(ctx); len(mismatches) != 1 || mismatches[0].Month != cm.Month {
		t.Errorf("mismatches after a bad row: %+v, want that row", mismatches)
	}
}

func first(ms []RevenueMismatch) any {
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

func latestVersion(t *testing.T, s *Store, customer int64) uint64 {
	t.Helper()
	var v uint64
	if err := s.conn.QueryRow(context.Background(), `SELECT max(version) FROM revenue WHERE row_kind = 'version' AND customer_id = ?`, uint64(customer)).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// dumpRevenue is every stored row of every customer's latest version, but
// the version and time they were computed.
func dumpRevenue(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.conn.Query(context.Background(), `SELECT currency, month, customer_id, row_kind, subscription_id, ends_on, den, mrr_num, prev_num,
    movement, change_num, cohort, product_id, orders, renewal_orders
FROM revenue FINAL WHERE row_kind != 'version' AND `+revenueLatest+`
ORDER BY currency, month, customer_id, row_kind, subscription_id, ends_on`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var cur, kind, mv string
		var month, ends, cohort time.Time
		var cust, sub, product uint64
		var den, mrr, prev, change int64
		var orders, renewals []uint64
		if err := rows.Scan(&cur, &month, &cust, &kind, &sub, &ends, &den, &mrr, &prev, &mv, &change, &cohort, &product, &orders, &renewals); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(cur, month, cust, kind, sub, ends, den, mrr, prev, mv, change, cohort, product, orders, renewals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRevenueRestatement: a back-dated order and then a void of it change
// the months they touch, and only the latest computation counts — the
// voided months vanish from every query, renewals too.
func TestRevenueRestatement(t *testing.T) {
	s := isolatedStore(t)
	ctx := context.Background()
	b := keeltest.NewBook(t)
	b.Products("EUR")
	b.Order("a", keel.OrderNew, "2025-01-05", keeltest.L("basic", 1, 12, ""))
	storeFacts(t, s, b.Facts)
	id := uint64(b.Customer("a").Customer.ID)
	if err := s.RecomputeRevenue(ctx, []uint64{id}, nil); err != nil {
		t.Fatal(err)
	}
	back := b.Order("a", keel.OrderNew, "2025-03-01", keeltest.L("support", 1, 6, "2024-06-01"))
	storeFacts(t, s, b.Facts)
	if err := s.RecomputeRevenue(ctx, []uint64{id}, nil); err != nil {
		t.Fatal(err)
	}
	june, _ := s.MonthTable(ctx, "EUR", keel.MonthAt(2024, 6), keel.MonthAt(2024, 6))
	if june[0].MRR.Round() != 5000 || june[0].New.Round() != 5000 {
		t.Errorf("June 2024 after the back-dated order: %+v, want 5000 new", keeltest.Row(june[0]))
	}
	b.Void("a", back.ID, keeltest.Day(t, "2025-03-10"))
	storeFacts(t, s, b.Facts)
	if err := s.RecomputeRevenue(ctx, []uint64{id}, nil); err != nil {
		t.Fatal(err)
	}
	june, _ = s.MonthTable(ctx, "EUR", keel.MonthAt(2024, 6), keel.MonthAt(2025, 1))
	if row := keeltest.Row(june[0]); row != (keeltest.MonthWant{Month: "2024-06"}) {
		t.Errorf("June 2024 after the void: %+v, want nothing", row)
	}
	if row := keeltest.Row(june[7]); row.New != 10000 {
		t.Errorf("January 2025 after the void: %+v, want the basic line's 10000 new again", row)
	}
	rs, err := s.Renewals(ctx, "EUR", keel.MonthAt(2024, 1), keel.MonthAt(2026, 12), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].EndsOn.Format(time.DateOnly) != "2026-01-05" {
		t.Errorf("renewals = %+v, want the basic term ending 2026-01-05 only", rs)
	}
}

// TestRevenueStamp: the stamp changes with every computation that reads
// could see — a new customer, a restatement, one finished after a newer
// one of another customer (max(version) alone stays put there) — and not
// with a merge, which changes nothing a read answers.
func TestRevenueStamp(t *testing.T) {
	s := isolatedStore(t)
	ctx := context.Background()
	stamp := func() RevenueStamp {
		t.Helper()
		st, err := s.RevenueStamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := stamp(); got != (RevenueStamp{}) {
		t.Errorf("stamp of an empty table = %+v, want zero", got)
	}
	b := keeltest.NewBook(t)
	b.Products("EUR")
	b.Order("a", keel.OrderNew, "2025-01-05", keeltest.L("basic", 1, 12, ""))
	b.Order("b", keel.OrderNew, "2025-02-05", keeltest.L("basic", 1, 1, ""))
	storeFacts(t, s, b.Facts)
	a, c := uint64(b.Customer("a").Customer.ID), uint64(b.Customer("b").Customer.ID)
	if err := s.RecomputeRevenue(ctx, []uint64{a}, nil); err != nil {
		t.Fatal(err)
	}
	one := stamp()
	if err := s.RecomputeRevenue(ctx, []uint64{c}, nil); err != nil {
		t.Fatal(err)
	}
	two := stamp()
	if two.Customers != 2 || two == one {
		t.Errorf("stamp after a second customer = %+v (before %+v), want 2 customers and a new stamp", two, one)
	}
	if err := s.RecomputeRevenue(ctx, []uint64{a}, nil); err != nil {
		t.Fatal(err)
	}
	three := stamp()
	if three == two || three.Customers != 2 {
		t.Errorf("stamp after a's recomputation = %+v, want a new one of 2 customers (before %+v)", three, two)
	}

	// A writer that read a before b's newest computation finishes after
	// it: a's version grows but stays below the latest.
	if err := s.RecomputeRevenue(ctx, []uint64{c}, nil); err != nil {
		t.Fatal(err)
	}
	latest := stamp()
	var rows revenueRows
	rows.addVersion(a, latest.Latest-1, time.Now().UTC())
	if err := s.send(ctx, insertRevenue, rows.columns()...); err != nil {
		t.Fatal(err)
	}
	four := stamp()
	if four == latest || four.Latest != latest.Latest {
		t.Errorf("stamp after an older writer = %+v, want a new one with the same latest version (before %+v)", four, latest)
	}
	if err := s.conn.Exec(ctx, "OPTIMIZE TABLE revenue FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := stamp(); got != four {
		t.Errorf("stamp after a merge = %+v, want %+v", got, four)
	}
}
