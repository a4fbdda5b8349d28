package bench

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/warehouse"
)

func TestRevenueConfigValidate(t *testing.T) {
	ok := RevenueConfig{PG: "pg", ClickHouse: "ch", Brokers: []string{"b"}, Customers: 1, Months: 1, Requests: 1, Concurrency: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, bad := range map[string]func(*RevenueConfig){
		"--customers":   func(c *RevenueConfig) { c.Customers = 0 },
		"--months":      func(c *RevenueConfig) { c.Months = -1 },
		"--requests":    func(c *RevenueConfig) { c.Requests = 0 },
		"--concurrency": func(c *RevenueConfig) { c.Concurrency = 0 },
		"--changes":     func(c *RevenueConfig) { c.Changes = -1 },
		"--brokers":     func(c *RevenueConfig) { c.Brokers = nil },
	} {
		c := ok
		bad(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want a refusal naming it", name, err)
		}
	}
}

// TestRevenueBench runs the revenue benchmark small: every row of its
// report is there, the identity holds, and the stack's own revenue table
// is as it was (the bench writes to databases of its own).
func TestRevenueBench(t *testing.T) {
	st := teststack.Get(t)
	ctx := context.Background()
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	count := func() uint64 {
		var n uint64
		if err := store.Conn().QueryRow(ctx, "SELECT count() FROM revenue").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	var out bytes.Buffer
	cfg := RevenueConfig{PG: st.Postgres.URL(), ClickHouse: st.ClickHouse.URL(), Brokers: st.Kafka.Brokers(),
		Customers: 60, Months: 24, Requests: 4, Concurrency: 2, Changes: 2, Seed: 3}
	if err := Revenue(ctx, cfg, &out, io.Discard); err != nil {
		t.Fatalf("bench revenue: %v\n%s", err, out.String())
	}
	for _, row := range []string{"facts → revenue stored", "month table, 24 months", "GET /api/v1/metrics/mrr", "GET /dashboard", "back-dated change → restated", "full rebuild", "0 mismatches"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("report has no %q:\n%s", row, out.String())
		}
	}
	if after := count(); after != before {
		t.Errorf("the stack's revenue table went from %d to %d rows: the bench wrote outside its own database", before, after)
	}
}
