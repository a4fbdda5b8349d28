package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func TestHealthConfigValidate(t *testing.T) {
	ok := HealthConfig{Keel: "keel", PG: "pg", ClickHouse: "ch", Customers: 1, Days: 2, Backfill: 1, Declining: 0.5, CSMs: 1, Requests: 1, Concurrency: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, bad := range map[string]func(*HealthConfig){
		"--customers":   func(c *HealthConfig) { c.Customers = 0 },
		"--days":        func(c *HealthConfig) { c.Days = 1 }, // no day left after the backfill
		"--backfill":    func(c *HealthConfig) { c.Backfill = 0 },
		"--declining":   func(c *HealthConfig) { c.Declining = 1.5 },
		"--csms":        func(c *HealthConfig) { c.CSMs = 0 },
		"--requests":    func(c *HealthConfig) { c.Requests = 0 },
		"--concurrency": func(c *HealthConfig) { c.Concurrency = -1 },
		"--clickhouse":  func(c *HealthConfig) { c.ClickHouse = "" },
		"binary":        func(c *HealthConfig) { c.Keel = "" },
		"--reuse":       func(c *HealthConfig) { c.Reuse = "x; DROP DATABASE keel" },
	} {
		c := ok
		bad(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want a refusal naming it", name, err)
		}
	}
}

// TestHealthBench runs the health benchmark small — 50 customers × 60
// days, a third of them declining — and checks the generator's shape
// through the product's scorer: the warnings are on the declining
// customers and on no other, every customer whose usage has been at its
// floor for a month is warned, the others are green yesterday; and the
// report has every row.
func TestHealthBench(t *testing.T) {
	st := teststack.Get(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "keel")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/keel").CombinedOutput(); err != nil {
		t.Fatalf("build keel: %v\n%s", err, out)
	}
	cfg := HealthConfig{Keel: bin, PG: st.Postgres.URL(), ClickHouse: st.ClickHouse.URL(), Customers: 50, Days: 60, Backfill: 20,
		Declining: 0.34, CSMs: 3, Requests: 4, Concurrency: 2, Seed: 5}
	var box string
	res, err := runHealth(ctx, cfg, &bytes.Buffer{}, func(b *sandbox, plans []healthPlan, w healthWorld) error {
		box = b.name
		yesterday := keel.Date(time.Now().UTC()).AddDate(0, 0, -1)
		band := map[int64]keel.Band{}
		if err := b.store.Health(ctx, warehouse.HealthFilter{From: yesterday, To: yesterday}, func(r warehouse.HealthRow) error {
			band[r.CustomerID] = r.Band
			return nil
		}); err != nil {
			return err
		}
		warned := map[int64]bool{}
		pg, err := postgres.Open(ctx, b.PG)
		if err != nil {
			return err
		}
		defer pg.Close()
		prow, err := pg.Pool().Query(ctx, "SELECT DISTINCT customer_id FROM alerts WHERE state = 'open'")
		if err != nil {
			return err
		}
		for prow.Next() {
			var id int64
			if err := prow.Scan(&id); err != nil {
				return err
			}
			warned[id] = true
		}
		prow.Close()
		fallen := 0
		for i, p := range plans {
			id := w.customers[i]
			switch {
			case !p.declining && warned[id]:
				t.Errorf("customer %d (healthy, %d seats) has an open warning", i, p.seats)
			case !p.declining && band[id] != keel.BandGreen:
				t.Errorf("customer %d (healthy, %d seats) is %q yesterday, want green", i, p.seats, band[id])
			case p.declining && p.declineStart+p.declineDays <= cfg.Days-1-30:
				fallen++
				if !warned[id] {
					t.Errorf("customer %d has been at %.0f %% of its usage since day %d of %d, and has no open warning",
						i, p.floor*100, p.declineStart+p.declineDays, cfg.Days)
				}
			}
		}
		if fallen == 0 {
			t.Errorf("no customer's usage has been at its floor for a month: the test checks nothing")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bench health: %v", err)
	}
	if res.Open == 0 || res.Warned == 0 || res.Declining == 0 {
		t.Errorf("%d open warnings on %d customers, %d declining: want some of each", res.Open, res.Warned, res.Declining)
	}
	if res.Scored != cfg.Customers {
		t.Errorf("%d customers scored yesterday, want %d", res.Scored, cfg.Customers)
	}
	var out bytes.Buffer
	res.print(&out, cfg)
	for _, row := range []string{"backfill, 20 days", "scoring one day", "open warnings", "GET /alerts (a CSM's queue)",
		"GET /alerts?tab=team (admin)", "GET /health (admin)", "GET /customers/{id}"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("report has no %q:\n%s", row, out.String())
		}
	}
	if len(res.Pages) != 5 {
		t.Errorf("%d pages timed, want 5", len(res.Pages))
	}
	var left uint64
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", box).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("the run's database %s was left behind", box)
	}
}

// TestHealthBenchReuse keeps a tiny run's sandbox and times its pages
// again with --reuse: the same warnings and bands counted on its last day
// scored, every page timed, nothing scored again, the sandbox left as it
// was.
func TestHealthBenchReuse(t *testing.T) {
	st := teststack.Get(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "keel")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/keel").CombinedOutput(); err != nil {
		t.Fatalf("build keel: %v\n%s", err, out)
	}
	cfg := HealthConfig{Keel: bin, PG: st.Postgres.URL(), ClickHouse: st.ClickHouse.URL(), Customers: 12, Days: 40, Backfill: 5,
		Declining: 0.5, CSMs: 1, Requests: 2, Concurrency: 2, Seed: 7, Keep: true}
	var box *sandbox
	first, err := runHealth(ctx, cfg, &bytes.Buffer{}, func(b *sandbox, _ []healthPlan, _ healthWorld) error {
		box = b
		return nil
	})
	if box != nil {
		t.Cleanup(func() {
			b, err := openSandbox(context.Background(), cfg.PG, cfg.ClickHouse, strings.TrimPrefix(box.name, "keel_bench_"))
			if err == nil {
				b.close(context.Background(), false)
			}
		})
	}
	if err != nil {
		t.Fatalf("bench health --keep: %v", err)
	}
	runs := func() uint64 {
		t.Helper()
		b, err := openSandbox(ctx, cfg.PG, cfg.ClickHouse, strings.TrimPrefix(box.name, "keel_bench_"))
		if err != nil {
			t.Fatal(err)
		}
		defer b.close(ctx, true)
		var n uint64
		if err := b.store.Conn().QueryRow(ctx, "SELECT count() FROM health_runs").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := runs()

	again := cfg
	again.Keep, again.Reuse = false, strings.TrimPrefix(box.name, "keel_bench_")
	var out bytes.Buffer
	if err := Health(ctx, again, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("bench health --reuse: %v", err)
	}
	second, err := rerunHealth(ctx, again, &bytes.Buffer{}, func(*sandbox, []healthPlan, healthWorld) error { return nil })
	if err != nil {
		t.Fatalf("bench health --reuse: %v", err)
	}
	if second.Open != first.Open || second.Warned != first.Warned || fmt.Sprint(second.Bands) != fmt.Sprint(first.Bands) {
		t.Errorf("reused: %d warnings on %d customers, bands %v; the run had %d on %d, bands %v",
			second.Open, second.Warned, second.Bands, first.Open, first.Warned, first.Bands)
	}
	if second.Customers != cfg.Customers || len(second.Pages) != 5 {
		t.Errorf("reused: %d customers, %d pages timed; want %d and 5", second.Customers, len(second.Pages), cfg.Customers)
	}
	if after := runs(); after != before {
		t.Errorf("reusing scored again: %d runs before, %d after", before, after)
	}
	for _, row := range []string{"--reuse", box.name, "open warnings", "GET /health (admin)", "GET /customers/{id}"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("report has no %q:\n%s", row, out.String())
		}
	}
	if strings.Contains(out.String(), "backfill") {
		t.Errorf("a reused run reports a backfill it did not run:\n%s", out.String())
	}

	// A run that was not kept cannot be reused.
	gone := cfg
	gone.Keep, gone.Reuse = false, "19700101"
	if err := Health(ctx, gone, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--reuse") {
		t.Errorf("reusing a run never kept: %v, want a refusal naming --reuse", err)
	}
}
