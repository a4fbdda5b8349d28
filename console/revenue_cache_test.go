package console_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/warehouse"
)

// countingRevenue is the warehouse's revenue, counting the reads that
// reach it.
type countingRevenue struct {
	console.RevenueReader
	mu                             sync.Mutex
	stamps, monthTables, customers int
}

func (c *countingRevenue) RevenueStamp(ctx context.Context) (warehouse.RevenueStamp, error) {
	c.mu.Lock()
	c.stamps++
	c.mu.Unlock()
	return c.RevenueReader.RevenueStamp(ctx)
}

func (c *countingRevenue) MonthTable(ctx context.Context, currency string, from, to keel.Month) ([]keel.MonthTotal, error) {
	c.mu.Lock()
	c.monthTables++
	c.mu.Unlock()
	return c.RevenueReader.MonthTable(ctx, currency, from, to)
}

func (c *countingRevenue) CustomerMonths(ctx context.Context, f warehouse.RevenueFilter) ([]keel.CustomerMonth, error) {
	c.mu.Lock()
	c.customers++
	c.mu.Unlock()
	return c.RevenueReader.CustomerMonths(ctx, f)
}

func (c *countingRevenue) counts() (stamps, monthTables, customers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stamps, c.monthTables, c.customers
}

// TestRevenueCacheKeepsUpWithRestatements: views of unchanged revenue
// read the warehouse's month table once, each request reads the stamp
// once, and a back-dated order and its void — each computed before the
// next request — are in that very request's answer.
func TestRevenueCacheKeepsUpWithRestatements(t *testing.T) {
	e := newRevenueEnv(t, false)
	ctx := context.Background()
	counted := &countingRevenue{RevenueReader: e.wh}
	h, err := console.NewServer(console.Deps{Warehouse: e.wh, Revenue: counted, Health: e.wh, Names: e.db, Store: e.db,
		Log: slog.New(slog.DiscardHandler), Calendar: keel.UTC})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL

	b := keeltest.NewBook(t)
	b.Products("EUR")
	b.Order("a", keel.OrderNew, "2025-01-05", keeltest.L("basic", 1, 12, ""))
	stored := 0
	compute := func() {
		t.Helper()
		fb := warehouse.FactBatch{Topic: "keel.facts"}
		for i := stored; i < len(b.Facts); i++ {
			f := b.Facts[i]
			f.ID = int64(i + 1)
			fb.AddFact(&f, warehouse.Position{Partition: 0, Offset: int64(i)}, time.Now())
		}
		stored = len(b.Facts)
		if err := e.wh.InsertFacts(ctx, &fb); err != nil {
			t.Fatal(err)
		}
		if err := e.wh.RecomputeRevenue(ctx, []uint64{uint64(b.Customer("a").Customer.ID)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	compute()

	const q = "from=2024-06&to=2025-01&currency=EUR"
	first := e.mrr("leadership", q)
	if m := first.Months[7]; m.MRR != 10_000 || m.New != 10_000 {
		t.Fatalf("January 2025: %+v, want 10000 new", m)
	}
	for range 3 {
		if again := e.mrr("finance", q); !reflect.DeepEqual(again, first) {
			t.Errorf("a view of unchanged revenue: %+v, want %+v", again, first)
		}
	}
	if stamps, tables, _ := counted.counts(); stamps != 4 || tables != 1 {
		t.Errorf("4 views of unchanged revenue read the stamp %d times and the month table %d times, want 4 and 1", stamps, tables)
	}

	back := b.Order("a", keel.OrderNew, "2025-03-01", keeltest.L("support", 1, 6, "2024-06-01"))
	compute()
	if m := e.mrr("leadership", q).Months[0]; m.MRR != 5000 || m.New != 5000 {
		t.Errorf("June 2024 on the first view after a back-dated order: %+v, want 5000 new", m)
	}
	b.Void("a", back.ID, keeltest.Day(t, "2025-03-10"))
	compute()
	got := e.mrr("leadership", q)
	if m := got.Months[0]; m != (mrrMonth{Month: "2024-06"}) {
		t.Errorf("June 2024 on the first view after the void: %+v, want nothing", m)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("after the void: %+v, want the months before the back-dated order %+v", got, first)
	}
	if _, tables, _ := counted.counts(); tables != 3 {
		t.Errorf("the month table was read %d times over two changes, want 3", tables)
	}

	// The movements API sorts what it reads; a later view still gets the
	// warehouse's rows as they were.
	for range 2 {
		mv := e.movements("finance", "month=2025-01&currency=EUR")
		if len(mv.Customers) != 1 || mv.Customers[0].Movement != string(keel.MoveNew) || mv.Amount != 10_000 {
			t.Errorf("movements of January 2025: %+v, want customer a new at 10000", mv)
		}
	}
	if _, _, customers := counted.counts(); customers != len(keel.Movements) {
		t.Errorf("two views of the movements read customer months %d times, want %d (one per movement)", customers, len(keel.Movements))
	}
}
