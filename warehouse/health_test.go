package warehouse

import (
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestHealthListQuery(t *testing.T) {
	day := time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	q, args := healthListQuery(HealthListFilter{Day: day, Band: keel.BandRed, Customers: []uint64{9, 3}, Limit: 50, Offset: 100})
	want := "SELECT " + healthColumns + "\nFROM health_scores\nWHERE day = toDate(?) AND customer_id IN (3, 9) AND band = ? AND " + healthLatest +
		"\nORDER BY mrr = 0, score, customer_id\nLIMIT 50 OFFSET 100"
	if q != want {
		t.Errorf("query\n%s\nwant\n%s", q, want)
	}
	if len(args) != 2 || args[0] != "2026-06-29" || args[1] != "red" {
		t.Errorf("args %v", args)
	}
	if q, _ := healthCountQuery(HealthListFilter{Day: day, Customers: []uint64{}}); !strings.Contains(q, " AND 0 AND ") {
		t.Errorf("no customers: %s, want a condition that matches nothing", q)
	}
}

// TestHealthQuery: some customers' days are read with their ids as a
// PREWHERE (the table is ordered by day first, so their rows are spread
// over the range), none is a PREWHERE that matches nothing, and every
// customer has no PREWHERE at all.
func TestHealthQuery(t *testing.T) {
	from, to := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	q, args := healthQuery(HealthFilter{From: from, To: to, Customers: []uint64{9, 3}, Band: keel.BandRed})
	want := "SELECT " + healthColumns + "\nFROM health_scores\nPREWHERE customer_id IN (3, 9)\nWHERE day >= toDate(?) AND day <= toDate(?) AND band = ? AND " +
		healthLatest + "\nORDER BY customer_id, day"
	if q != want {
		t.Errorf("query\n%s\nwant\n%s", q, want)
	}
	if len(args) != 3 || args[0] != "2026-06-01" || args[1] != "2026-06-29" || args[2] != "red" {
		t.Errorf("args %v", args)
	}
	if q, _ := healthQuery(HealthFilter{From: from, To: to, Customers: []uint64{}}); !strings.Contains(q, "\nPREWHERE 0\n") {
		t.Errorf("no customers: %s, want a PREWHERE that matches nothing", q)
	}
	if q, _ := healthQuery(HealthFilter{From: from, To: to}); strings.Contains(q, "PREWHERE") {
		t.Errorf("every customer: %s, want no PREWHERE", q)
	}
}

// TestHealthListAndBriefs: a day's list is its latest run only, the
// paying customers first, each part the lowest score first, filtered by band and customers and paged; the
// briefs are the same rows without components.
func TestHealthListAndBriefs(t *testing.T) {
	_, s := testStack(t)
	ctx := t.Context()
	day := time.Date(2019, 3, 4, 0, 0, 0, 0, time.UTC)
	base := int64(time.Now().UnixNano()%1e9) * 10
	row := func(id int64, score int, band keel.Band) HealthRow {
		return HealthRow{HealthScore: keel.HealthScore{CustomerID: id, Day: day, Score: score, Band: band, Components: []keel.ComponentScore{
			{Component: keel.CompLoginTrend, Value: 1, Sub: 100, Weight: 20}, {Component: keel.CompTickets, NoData: true, Weight: 10}}},
			MRR: 1000 * id, Currency: "USD"}
	}
	a, b, c := base+1, base+2, base+3
	if err := s.WriteHealthDay(ctx, day, []HealthRow{row(a, 90, keel.BandGreen), row(b, 40, keel.BandRed), row(c, 60, keel.BandYellow)}); err != nil {
		t.Fatal(err)
	}
	// Scored again: c is no longer scored that day, b is better, and e,
	// whose service ended, is scored lowest of all without MRR.
	e := base + 5
	ended := row(e, 10, keel.BandRed)
	ended.MRR = 0
	if err := s.WriteHealthDay(ctx, day, []HealthRow{row(a, 90, keel.BandGreen), row(b, 55, keel.BandYellow), ended}); err != nil {
		t.Fatal(err)
	}
	ids := []uint64{uint64(a), uint64(b), uint64(c), uint64(e)}
	rows, n, err := s.HealthList(ctx, HealthListFilter{Day: day, Customers: ids, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(rows) != 3 || rows[0].CustomerID != b || rows[0].Score != 55 || rows[1].CustomerID != a || rows[2].CustomerID != e {
		t.Fatalf("list %+v (%d), want b (55), a, then e (no MRR) last", rows, n)
	}
	if cs := rows[1].Components; len(cs) != 2 || cs[0].Unit != "trend" || !cs[1].NoData || cs[1].Unit != "tickets" {
		t.Errorf("components %+v", cs)
	}
	rows, n, err = s.HealthList(ctx, HealthListFilter{Day: day, Customers: ids, Limit: 1, Offset: 1})
	if err != nil || n != 3 || len(rows) != 1 || rows[0].CustomerID != a {
		t.Errorf("second page %+v (%d), %v; want a of 3", rows, n, err)
	}
	rows, n, err = s.HealthList(ctx, HealthListFilter{Day: day, Customers: ids, Band: keel.BandGreen, Limit: 10})
	if err != nil || n != 1 || len(rows) != 1 || rows[0].CustomerID != a {
		t.Errorf("green %+v (%d), %v; want a", rows, n, err)
	}
	briefs, err := s.HealthBriefs(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]HealthBrief{}
	for _, x := range briefs {
		got[x.CustomerID] = x
	}
	if x := got[b]; x.Score != 55 || x.Band != keel.BandYellow || x.MRR != 1000*b || x.Currency != "USD" {
		t.Errorf("brief of b %+v", x)
	}
	if _, ok := got[c]; ok {
		t.Error("the brief holds a customer of the replaced run")
	}
}
