package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/warehouse"
)

// TestRevenueCommands: `keel revenue --json` prints the month table the
// API answers, `keel revenue rebuild` computes every customer again with
// the same result, and `keel revenue check` passes on what the loader
// computed and fails on a row that does not add up.
func TestRevenueCommands(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := warehouse.Open(ctx, env[envClickHouse])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	rc := keeltest.LoadRevenueCases(t)
	var c keeltest.RevenueCase
	for _, x := range rc.Cases {
		if x.Name == "several-customers" {
			c = x
		}
	}
	b := rc.Replay(t, c)
	batch := warehouse.FactBatch{Topic: "keel.facts"}
	for i, f := range b.Facts {
		f.ID = int64(i + 1)
		batch.AddFact(&f, warehouse.Position{Partition: 0, Offset: int64(i)}, time.Now())
	}
	if err := store.InsertFacts(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	out, _, err := runKeel(t, env, "revenue", "rebuild")
	if err != nil || !strings.Contains(out, "revenue rebuilt for 3 customers") {
		t.Fatalf("rebuild: %q, %v", out, err)
	}
	out, _, err = runKeel(t, env, "revenue", "--from", c.From, "--to", c.To, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Currency string               `json:"currency"`
		Months   []keeltest.MonthWant `json:"months"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("revenue --json printed %q: %v", out, err)
	}
	if got.Currency != "CNY" || len(got.Months) != len(c.Expected) {
		t.Fatalf("revenue --json: currency %q, %d months; want CNY (the only one) and %d", got.Currency, len(got.Months), len(c.Expected))
	}
	for i, want := range c.Expected {
		if got.Months[i] != want {
			t.Errorf("got  %+v\nwant %+v", got.Months[i], want)
		}
	}
	var arr struct {
		Months []struct{ MRR, ARR int64 } `json:"months"`
	}
	json.Unmarshal([]byte(out), &arr)
	for i, m := range arr.Months {
		if m.ARR != 12*m.MRR {
			t.Errorf("month %d: ARR %d, want 12 × MRR %d", i, m.ARR, m.MRR)
		}
	}
	if out, _, err = runKeel(t, env, "revenue", "check"); err != nil || !strings.Contains(out, "add up") {
		t.Fatalf("check: %q, %v", out, err)
	}
	for _, bad := range [][]string{{"--from", "2025-13"}, {"--from", "2026-02", "--to", "2026-01"}, {"--from", "2010-01", "--to", "2026-01"}, {"--currency", "XXX"}} {
		if _, _, err := runKeel(t, env, append([]string{"revenue"}, bad...)...); err == nil {
			t.Errorf("revenue %v succeeded", bad)
		}
	}

	// A row that contradicts the month before: check fails and names it.
	if err := store.Conn().Exec(ctx, `INSERT INTO revenue (currency, month, customer_id, row_kind, version, den, mrr_num, movement, change_num)
		SELECT 'CNY', toDate('2030-01-01'), 999, 'month', 5, 1, 700, 'new', 500`); err != nil {
		t.Fatal(err)
	}
	if err := store.Conn().Exec(ctx, `INSERT INTO revenue (currency, month, customer_id, row_kind, version, den)
		SELECT '', toDate('1970-01-01'), 999, 'version', 5, 1`); err != nil {
		t.Fatal(err)
	}
	out, _, err = runKeel(t, env, "revenue", "check")
	if err == nil || !strings.Contains(out, "customer 999, CNY 2030-01") {
		t.Errorf("check after a bad row: %q, %v; want a failure naming customer 999", out, err)
	}
}
