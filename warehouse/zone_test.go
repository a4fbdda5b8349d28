package warehouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/migrations"
)

// freshStore returns a Store on a new, empty database of the test server.
func freshStore(t *testing.T) *Store {
	t.Helper()
	stack, s := testStack(t)
	ctx := context.Background()
	db := fmt.Sprintf("fresh_%d", time.Now().UnixNano())
	if err := s.Conn().Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	fs, err := Open(ctx, "clickhouse://"+stack.ClickHouse.Addr()+"/"+db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// reopen is a new Store on the same database, which reads the zone afresh.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	var db string
	if err := s.Conn().QueryRow(context.Background(), "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	stack, _ := testStack(t)
	o, err := Open(context.Background(), "clickhouse://"+stack.ClickHouse.Addr()+"/"+db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// marker puts a row for a tenant that sent no event straight into
// activity_daily: it survives a migration that leaves the rollup alone and
// vanishes with a rebuild from events.
func marker(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Conn().Exec(context.Background(), `INSERT INTO activity_daily (tenant_id, day, users)
SELECT 'zone-marker', toDate('2016-01-01'), uniqExactState('u')`); err != nil {
		t.Fatal(err)
	}
}

func hasMarker(t *testing.T, s *Store) bool {
	t.Helper()
	var n uint64
	if err := s.Conn().QueryRow(context.Background(), "SELECT count() FROM activity_daily WHERE tenant_id = 'zone-marker'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestMigrateTimezone: keel migrate --tz makes the daily rollups in that
// zone and records it; run again with the same zone it changes nothing;
// with another it rebuilds every day from events, and a change cut off
// half-way leaves no zone recorded, so the services refuse, until migrate
// runs again. Stores refuse a zone the rollups are not in.
func TestMigrateTimezone(t *testing.T) {
	ctx := context.Background()
	s := freshStore(t)
	for _, bad := range []string{"Local", "Mars/Olympus", "UTC'; DROP TABLE events; --", ""} {
		if _, err := migrations.ApplyClickHouse(ctx, s.Conn(), bad); err == nil || !strings.Contains(err.Error(), "timezone") {
			t.Errorf("migrate --tz %q: err = %v, want a refusal naming the timezone", bad, err)
		}
	}
	if _, err := s.RollupZone(ctx); err == nil {
		t.Errorf("an unmigrated database has a zone")
	}
	kolkata, shanghai := mustLocation(t, "Asia/Kolkata"), mustLocation(t, "Asia/Shanghai")
	// Events stored before the daily rollup exists are backfilled; so
	// first every migration but the daily rollup's (the events table as
	// the loader writes it today, key_id included).
	var early []string
	for _, m := range migrations.ClickHouse() {
		if m.Zoned() {
			continue
		}
		early = append(early, m.Statements()...)
	}
	for _, st := range early {
		if err := s.Conn().Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	evs, inserts := randomInserts()
	for _, b := range inserts[:2] {
		storeEvents(t, s, b)
	}
	if _, err := migrations.ApplyClickHouse(ctx, s.Conn(), "Asia/Kolkata"); err != nil {
		t.Fatal(err)
	}
	for _, b := range inserts[2:] {
		storeEvents(t, s, b)
	}
	check := func(name string, s *Store, loc *time.Location) {
		t.Helper()
		if zone, err := s.RollupZone(ctx); err != nil || zone != loc.String() {
			t.Errorf("%s: zone %q, %v; want %s", name, zone, err, loc)
		}
		if err := RollupsMatchRaw(ctx, s, "ovw-r-"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		from, to := Day{2017, 1, 25}, Day{2017, 7, 5}
		got, err := s.DailyTotals(ctx, from, to, ActivitySettings{Location: loc})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffTotals(got, refDailyTotals(evs, from, to, ActivitySettings{Location: loc})); d != "" {
			t.Errorf("%s: DailyTotals:\n%s", name, d)
		}
		if err := s.CheckZone(ctx, time.UTC); err == nil || !strings.Contains(err.Error(), loc.String()) {
			t.Errorf("%s: a UTC query: err = %v, want a refusal naming %s", name, err, loc)
		}
		if _, err := s.TenantTrends(ctx, to, ActivitySettings{}); err == nil {
			t.Errorf("%s: TenantTrends in UTC from a rollup cut in %s answered", name, loc)
		}
	}
	check("Kolkata", s, kolkata)

	marker(t, s)
	if applied, err := migrations.ApplyClickHouse(ctx, s.Conn(), "Asia/Kolkata"); err != nil || len(applied) != 0 {
		t.Fatalf("migrate again: applied %v, %v", applied, err)
	}
	if !hasMarker(t, s) {
		t.Errorf("migrating again in the same zone rebuilt the rollup")
	}

	if applied, err := migrations.ApplyClickHouse(ctx, s.Conn(), "Asia/Shanghai"); err != nil || len(applied) != 0 {
		t.Fatalf("migrate --tz Asia/Shanghai: applied %v, %v", applied, err)
	}
	if hasMarker(t, s) {
		t.Errorf("a change of zone kept a row that is in no event")
	}
	sh := reopen(t, s)
	check("Shanghai", sh, shanghai)
	// The view now cuts new events in Shanghai: 23:30 UTC is the next day.
	late := []ingest.Event{{Tenant: "ovw-r-late", ID: "l1", Type: ingest.TypeLogin, User: "u1", Time: at("2017-03-01", "23:30:00")}}
	storeEvents(t, sh, late)
	evs = append(evs, late...)
	a, err := sh.Activity(ctx, "ovw-r-late", Day{2017, 3, 1}, Day{2017, 3, 2}, ActivitySettings{Location: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	if a.Days[0].Logins != 0 || a.Days[1].Logins != 1 {
		t.Errorf("a login at 23:30 UTC after the change: %+v, want it on 03-02", a.Days)
	}

	// A change cut off half-way: no zone recorded (the migrator clears it
	// before it drops anything). Services refuse; migrate finishes it.
	if err := sh.Conn().Exec(ctx, fmt.Sprintf("INSERT INTO schema_timezone (zone, set_at, seq) SELECT '', now(), toUInt64(%d)", time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	if err := sh.Conn().Exec(ctx, "DROP TABLE activity_daily_mv"); err != nil {
		t.Fatal(err)
	}
	cut := reopen(t, s)
	if err := cut.CheckZone(ctx, shanghai); err == nil || !strings.Contains(err.Error(), "keel migrate") {
		t.Errorf("after a change cut off: err = %v, want a refusal that says to run keel migrate", err)
	}
	if _, err := migrations.ApplyClickHouse(ctx, s.Conn(), "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	check("Shanghai again", reopen(t, s), shanghai)
}
