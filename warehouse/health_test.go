package warehouse

import (
	"fmt"
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

// TestHealthQuery: some customers over several days are read from the
// table ordered by customer, each (customer, day) once; on one day from
// health_scores with their ids as a PREWHERE; none matches nothing; every
// customer is read from health_scores.
func TestHealthQuery(t *testing.T) {
	from, to := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	q, args := healthQuery(HealthFilter{From: from, To: to, Customers: []uint64{9, 3}, Band: keel.BandRed})
	want := "SELECT " + healthColumns + "\nFROM health_by_customer\nWHERE customer_id IN (3, 9) AND day >= toDate(?) AND day <= toDate(?) AND band = ? AND " +
		healthLatest + "\nORDER BY customer_id, day\nLIMIT 1 BY customer_id, day"
	if q != want {
		t.Errorf("query\n%s\nwant\n%s", q, want)
	}
	if len(args) != 3 || args[0] != "2026-06-01" || args[1] != "2026-06-29" || args[2] != "red" {
		t.Errorf("args %v", args)
	}
	if q, _ := healthQuery(HealthFilter{From: from, To: to, Customers: []uint64{}}); !strings.Contains(q, "WHERE 0 AND ") {
		t.Errorf("no customers: %s, want a condition that matches nothing", q)
	}
	q, args = healthQuery(HealthFilter{From: to, To: to, Customers: []uint64{9, 3}})
	want = "SELECT " + healthColumns + "\nFROM health_scores\nPREWHERE customer_id IN (3, 9)\nWHERE day >= toDate(?) AND day <= toDate(?) AND " +
		healthLatest + "\nORDER BY customer_id, day"
	if q != want || len(args) != 2 || args[0] != "2026-06-29" {
		t.Errorf("one day: query\n%s\nwant\n%s (args %v)", q, want, args)
	}
	if q, _ := healthQuery(HealthFilter{From: to, To: to, Customers: []uint64{}}); !strings.Contains(q, "\nPREWHERE 0\n") {
		t.Errorf("no customers on one day: %s, want a PREWHERE that matches nothing", q)
	}
	q, _ = healthQuery(HealthFilter{From: from, To: to})
	want = "SELECT " + healthColumns + "\nFROM health_scores\nWHERE day >= toDate(?) AND day <= toDate(?) AND " + healthLatest + "\nORDER BY customer_id, day"
	if q != want {
		t.Errorf("every customer: query\n%s\nwant\n%s", q, want)
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

// TestHealthOfSomeCustomers: some customers' scores, over days read from
// the table ordered by customer, on one day from the day's, are exactly what every customer's read (from
// health_scores) holds of them — the latest run of each day only, a
// band filter kept — and a row copied twice there (the backfill beside
// the view) is read once.
func TestHealthOfSomeCustomers(t *testing.T) {
	_, s := testStack(t)
	ctx := t.Context()
	d1 := time.Date(2019, 5, 6, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	base := int64(time.Now().UnixNano()%1e9)*10 + 100_000_000_000
	a, b, c := base+1, base+2, base+3
	row := func(day time.Time, id int64, score int, band keel.Band) HealthRow {
		return HealthRow{HealthScore: keel.HealthScore{CustomerID: id, Day: day, Score: score, Band: band, Components: []keel.ComponentScore{
			{Component: keel.CompLoginTrend, Value: float64(score) / 100, Sub: float64(score), Weight: 20}}}, MRR: 100 * id, Currency: "EUR"}
	}
	for _, w := range []struct {
		day  time.Time
		rows []HealthRow
	}{
		{d1, []HealthRow{row(d1, a, 80, keel.BandGreen), row(d1, b, 30, keel.BandRed), row(d1, c, 60, keel.BandYellow)}},
		{d2, []HealthRow{row(d2, a, 75, keel.BandGreen), row(d2, b, 35, keel.BandRed)}},
		// d2 scored again: a is yellow now, c scored, b no longer.
		{d2, []HealthRow{row(d2, a, 65, keel.BandYellow), row(d2, c, 62, keel.BandYellow)}},
	} {
		if err := s.WriteHealthDay(ctx, w.day, w.rows); err != nil {
			t.Fatal(err)
		}
	}
	// The backfill's copy of a row the view also copied.
	if err := s.Conn().Exec(ctx, `INSERT INTO health_by_customer SELECT * FROM health_scores WHERE customer_id = ? AND day = toDate(?)`,
		uint64(a), d1.Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	read := func(f HealthFilter) []string {
		t.Helper()
		var out []string
		if err := s.Health(ctx, f, func(r HealthRow) error {
			if r.CustomerID >= a && r.CustomerID <= c {
				out = append(out, fmt.Sprintf("%s %d %d %s %v %d", r.Day.Format(time.DateOnly), r.CustomerID-base, r.Score, r.Band, r.Components, r.MRR))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ids := []uint64{uint64(a), uint64(b), uint64(c)}
	for _, band := range []keel.Band{"", keel.BandYellow} {
		// Two days (by customer), and each day alone (the day's table).
		for _, r := range [][2]time.Time{{d1, d2}, {d1, d1}, {d2, d2}} {
			all := read(HealthFilter{From: r[0], To: r[1], Band: band})
			some := read(HealthFilter{From: r[0], To: r[1], Band: band, Customers: ids})
			if len(all) == 0 || fmt.Sprint(some) != fmt.Sprint(all) {
				t.Errorf("band %q, %s to %s: some customers\n%s\nevery customer's rows of them\n%s", band, r[0].Format(time.DateOnly), r[1].Format(time.DateOnly),
					strings.Join(some, "\n"), strings.Join(all, "\n"))
			}
		}
	}
	got := read(HealthFilter{From: d1, To: d2, Customers: ids})
	want := []string{"2019-05-06 1 80 green", "2019-05-07 1 65 yellow", "2019-05-06 2 30 red", "2019-05-06 3 60 yellow", "2019-05-07 3 62 yellow"}
	if len(got) != len(want) {
		t.Fatalf("some customers' days\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+" ") {
			t.Errorf("row %d: %s, want %s …", i, got[i], want[i])
		}
	}
	if got := read(HealthFilter{From: d1, To: d2, Customers: []uint64{}}); len(got) != 0 {
		t.Errorf("no customers: %v", got)
	}
}
