package warehouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/migrations"
)

// benchTenants is the number of tenants the daily-rollup benchmarks read:
// the 10,000 customers of DESIGN.md's performance targets.
const benchTenants = 10_000

// benchStore returns a Store on a database of its own holding 120 days of
// daily rollups for benchTenants tenants, from 2026-01-01: each tenant-day
// with 12 users, 20 logins, 5 of 30 features, a seat snapshot and a last
// login. The rows are made as states straight from numbers(), since
// events of 10,000 tenants over 120 days (tens of millions) would take
// longer to insert than the reads take to measure; the tables and their
// merges are those the views fill.
func benchStore(b *testing.B) *Store {
	b.Helper()
	stack := teststack.Get(b)
	ctx := context.Background()
	base, err := Open(ctx, stack.ClickHouse.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer base.Close()
	db := "bench_daily"
	if err := base.Conn().Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		b.Fatal(err)
	}
	s, err := Open(ctx, "clickhouse://"+stack.ClickHouse.Addr()+"/"+db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := migrations.ApplyClickHouse(ctx, s.Conn(), "UTC"); err != nil {
		b.Fatal(err)
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM activity_daily").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		return s
	}
	start := time.Now()
	// Ten days at a time, to keep the server's memory for the groups small.
	var fill []string
	for first := 0; first < 120; first += 10 {
		fill = append(fill, fmt.Sprintf(`INSERT INTO activity_daily (tenant_id, day, users, login_users, logins, features, seats, seats_at, last_login)
SELECT concat('bench-', toString(t)) AS tenant_id, toDate('2026-01-01') + d AS day,
    uniqExactState(concat('u', toString(x %% 12))),
    uniqExactState(concat('u', toString(x %% 9))),
    uniqExactState(concat(toString(d), '-', toString(x))),
    uniqExactStateIf(concat('f', toString((t + x) %% 30)), x < 5),
    argMaxState(toUInt64(10 + t %% 90), tuple(toDateTime(1767247200 + d * 86400, 'UTC'), '')),
    maxState(toDateTime(1767247200 + d * 86400, 'UTC')),
    maxState(toDateTime(1767247200 + d * 86400 + x * 60, 'UTC'))
FROM (SELECT number %% %d AS t, %d + intDiv(number, %d) AS d FROM numbers(%d))
ARRAY JOIN range(20) AS x
GROUP BY tenant_id, day`, benchTenants, first, benchTenants, benchTenants*10))
	}
	for _, sql := range append(fill,
		fmt.Sprintf(`INSERT INTO activity_totals_daily (day, login_users, logins, login_tenants, features)
SELECT toDate('2026-01-01') + d AS day,
    uniqExactState(concat('bench-', toString(t)), concat('u', toString(x %% 9))),
    uniqExactState(concat('bench-', toString(t)), concat(toString(d), '-', toString(x))),
    uniqExactState(concat('bench-', toString(t))),
    uniqExactStateIf(concat('f', toString((t + x) %% 30)), x < 5)
FROM (SELECT number %% %d AS t, intDiv(number, %d) AS d FROM numbers(%d))
ARRAY JOIN range(20) AS x
GROUP BY day`, benchTenants, benchTenants, benchTenants*120),
		"OPTIMIZE TABLE activity_daily FINAL",
		"OPTIMIZE TABLE activity_totals_daily FINAL",
	) {
		if err := s.Conn().Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d tenants × 120 days in %s", benchTenants, time.Since(start).Round(time.Millisecond))
	return s
}

// BenchmarkScoreInputs10k reads the health inputs of 10,000 tenants: one
// day (the daily scoring run), today (its windows end yesterday) and a
// week of a backfill.
//
//	go test ./warehouse/ -run '^$' -bench ScoreInputs -benchtime 5x
func BenchmarkScoreInputs10k(b *testing.B) {
	s := benchStore(b)
	now := func() time.Time { return time.Date(2026, 4, 30, 8, 0, 0, 0, time.UTC) }
	set := ActivitySettings{Now: now}
	for _, c := range []struct {
		name     string
		from, to Day
	}{
		{"a day", Day{2026, 4, 20}, Day{2026, 4, 20}},
		{"today", Day{2026, 4, 30}, Day{2026, 4, 30}},
		{"a week", Day{2026, 4, 14}, Day{2026, 4, 20}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rows := 0
				if err := s.ScoreInputs(context.Background(), c.from, c.to, set, keel.HealthSettings{}, func(ScoreInput) error {
					rows++
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if days := int(c.to.Start(time.UTC).Sub(c.from.Start(time.UTC)).Hours()/24) + 1; rows != days*benchTenants {
					b.Fatalf("%d inputs, want %d", rows, days*benchTenants)
				}
			}
		})
	}
}

// BenchmarkTenantTrends10k reads the dashboard's trends of 10,000 tenants
// and its 90 days of totals.
func BenchmarkTenantTrends10k(b *testing.B) {
	s := benchStore(b)
	now := func() time.Time { return time.Date(2026, 4, 30, 8, 0, 0, 0, time.UTC) }
	set := ActivitySettings{Now: now}
	today := Day{2026, 4, 30}
	b.Run("trends", func(b *testing.B) {
		for b.Loop() {
			ts, err := s.TenantTrends(context.Background(), today, set)
			if err != nil {
				b.Fatal(err)
			}
			if len(ts) != benchTenants {
				b.Fatalf("%d trends, want %d", len(ts), benchTenants)
			}
		}
	})
	b.Run("totals", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.DailyTotals(context.Background(), today.AddDays(-89), today, set); err != nil {
				b.Fatal(err)
			}
		}
	})
}
