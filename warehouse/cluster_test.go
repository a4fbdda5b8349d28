package warehouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/keeltest"
	"github.com/keelhq/keel/migrations"
)

// TestCityHash64IsClickHouses: the local insert mode sends a row to the
// shard ClickHouse would; these values are cityHash64 as ClickHouse 18.16
// computes it.
func TestCityHash64IsClickHouses(t *testing.T) {
	for s, want := range map[string]uint64{"t1": 6139083973535984835, "t3": 14414076046315853342, "t4": 17382887635544055932} {
		if got := cityHash64(s); got != want {
			t.Errorf("cityHash64(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestShardColumn(t *testing.T) {
	table, idx, key, err := shardColumn(insertEvents)
	if err != nil || table != "events" || idx != 0 || key != (migrations.ShardKey{Column: "tenant_id", Hash: true}) {
		t.Errorf("events: %s %d %+v %v", table, idx, key, err)
	}
	if _, idx, _, err := shardColumn(insertFacts); err != nil || idx != 2 {
		t.Errorf("facts: customer_id at %d (%v), want 2", idx, err)
	}
	for _, bad := range []string{"INSERT INTO activity_daily (tenant_id, day)", "INSERT INTO nowhere (a)", "SELECT 1"} {
		if _, _, _, err := shardColumn(bad); err == nil {
			t.Errorf("%s: routed", bad)
		}
	}
}

const testCluster = "keel_test"

// startCluster starts two ClickHouse servers as the two shards of one
// cluster and migrates them as `keel migrate --clickhouse-cluster` does,
// twice (the second changes nothing). It returns the servers and a store
// on each node's database.
func startCluster(t *testing.T) (*devstack.ClickHouseCluster, []*Store) {
	t.Helper()
	ctx := t.Context()
	c, err := devstack.StartClickHouseCluster(ctx, devstack.ClickHouseClusterConfig{Dir: t.TempDir(), Name: testCluster, Shards: 2, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	var stores []*Store
	for _, n := range c.Nodes {
		s, err := Open(ctx, n.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	if err := stores[0].UseCluster(ctx, testCluster, InsertDistributed); err == nil {
		t.Error("UseCluster before keel migrate --clickhouse-cluster: no error")
	}
	applied, err := migrations.ApplyClickHouseCluster(ctx, stores[0].Conn(), stores[0].Dial, testCluster, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 || len(applied[0].Applied) != len(migrations.ClickHouse()) || len(applied[1].Applied) != len(migrations.ClickHouse()) {
		t.Fatalf("applied %+v, want every migration on both nodes", applied)
	}
	if applied[1].Node.Addr() != c.Nodes[1].Addr() {
		t.Errorf("shard 2 is %s, want %s", applied[1].Node.Addr(), c.Nodes[1].Addr())
	}
	// The fronts of a cluster made before 0007 and 0008: the hourly
	// rollups' (whose tables 0007 dropped), and events' without key_id.
	for i, s := range stores {
		for _, ddl := range []string{
			"DROP TABLE default.events",
			"CREATE TABLE default.events (tenant_id String, event_id String, event_type String, user_id String, event_time DateTime('UTC'), props String, ingested_at DateTime('UTC'), kafka_topic String, kafka_partition UInt32, kafka_offset UInt64) ENGINE = Distributed(" + testCluster + ", default_local, events, cityHash64(tenant_id))",
			"CREATE TABLE default.activity_hourly (tenant_id String, hour DateTime('UTC')) ENGINE = Distributed(" + testCluster + ", default_local, activity_hourly)",
			"CREATE TABLE default.activity_totals_hourly (hour DateTime('UTC')) ENGINE = Distributed(" + testCluster + ", default_local, activity_totals_hourly)",
		} {
			if err := s.Conn().Exec(ctx, ddl); err != nil {
				t.Fatalf("node %d: %s: %v", i+1, ddl, err)
			}
		}
	}
	if again, err := migrations.ApplyClickHouseCluster(ctx, stores[1].Conn(), stores[1].Dial, testCluster, "UTC"); err != nil || len(again) != 0 {
		t.Fatalf("second run from the other node applied %+v (%v), want nothing", again, err)
	}
	for i, s := range stores {
		var stale uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'default' AND name IN ('activity_hourly', 'activity_totals_hourly')").Scan(&stale); err != nil || stale != 0 {
			t.Errorf("node %d: %d fronts of the dropped hourly rollups (%v), want none", i+1, stale, err)
		}
		for _, table := range migrations.Tables() {
			front, back := frontColumns(t, s, "default", table), frontColumns(t, s, "default_local", table)
			if !slices.Equal(front, back) || len(front) == 0 {
				t.Errorf("node %d: the front of %s has %v, its table %v", i+1, table, front, back)
			}
		}
		if cols := frontColumns(t, s, "default", "events"); !slices.Contains(cols, "key_id UInt64") {
			t.Errorf("node %d: the events front has %v, want key_id (0008)", i+1, cols)
		}
	}
	for i, s := range stores {
		if err := s.CheckSchema(ctx); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
		if err := s.CheckZone(ctx, time.UTC); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}
	// A single-node schema is refused, not hidden behind fronts.
	single, err := Open(ctx, c.Nodes[0].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	if err := single.Conn().Exec(ctx, "CREATE DATABASE single"); err != nil {
		t.Fatal(err)
	}
	singleDB, err := Open(ctx, "clickhouse://"+c.Nodes[0].Addr()+"/single")
	if err != nil {
		t.Fatal(err)
	}
	defer singleDB.Close()
	if _, err := migrations.ApplyClickHouse(ctx, singleDB.Conn(), "UTC"); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.ApplyClickHouseCluster(ctx, singleDB.Conn(), singleDB.Dial, testCluster, "UTC"); err == nil || !strings.Contains(err.Error(), "single-node schema") {
		t.Errorf("cluster migration over a single-node schema: %v, want a refusal", err)
	}
	if err := singleDB.UseCluster(ctx, testCluster, InsertDistributed); err == nil {
		t.Error("UseCluster on a single-node schema: no error")
	}
	return c, stores
}

// frontColumns lists a table's columns as "name type", in order.
func frontColumns(t *testing.T, s *Store, database, table string) []string {
	t.Helper()
	rows, err := s.Conn().Query(t.Context(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", database, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, name+" "+typ)
	}
	return out
}

// clusterEvents returns n events of tenants prefix-0 … prefix-(tenants-1)
// over the last days, of every kind the rollups count, most sent with one
// of three ingest keys (the collector's header), then a copy of about one
// in ten of them re-sent (same tenant and id, a later offset).
func clusterEvents(prefix string, seed uint64, n, tenants int, now time.Time) (msgs []kafka.Message, distinct int) {
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range n {
		tenant := fmt.Sprintf("%s-%d", prefix, r.IntN(tenants))
		user := fmt.Sprintf("u%d", r.IntN(15))
		at := now.Add(-time.Duration(r.IntN(6*24*3600)) * time.Second)
		typ, props := ingest.TypeLogin, ""
		switch r.IntN(5) {
		case 1:
			typ, props = ingest.TypeFeatureUsed, fmt.Sprintf(`{"feature":"f%d"}`, r.IntN(6))
		case 2:
			typ = ingest.TypePageView
		case 3:
			typ, props = ingest.TypeSeatSnapshot, fmt.Sprintf(`{"seats":%d}`, 5+r.IntN(20))
		}
		m := eventWithProps(tenant, fmt.Sprintf("%s-e%d", prefix, i), typ, user, at, props)
		if k := r.IntN(4); k > 0 {
			m.Headers = []kafka.Header{{Key: collector.HeaderKey, Value: []byte(strconv.Itoa(k))}}
		}
		msgs = append(msgs, m)
	}
	for i := range n {
		if r.IntN(10) == 0 {
			msgs = append(msgs, msgs[i])
		}
	}
	return msgs, n
}

func eventWithProps(tenant, id, typ, user string, at time.Time, props string) kafka.Message {
	m := eventMsg(tenant, id, typ, user, at)
	if props != "" {
		m.Value = append(m.Value[:len(m.Value)-1], []byte(`,"props":`+props+`}`)...)
	}
	return m
}

// eventsByKey counts the distinct events of tenants with the prefix by
// the ingest key that sent them (events.key_id, 0008).
func eventsByKey(t *testing.T, s *Store, prefix string) map[uint64]uint64 {
	t.Helper()
	rows, err := s.Conn().Query(t.Context(), "SELECT key_id, uniqExact(tenant_id, event_id) FROM events WHERE startsWith(tenant_id, ?) GROUP BY key_id", prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64]uint64{}
	for rows.Next() {
		var key, n uint64
		if err := rows.Scan(&key, &n); err != nil {
			t.Fatal(err)
		}
		out[key] = n
	}
	return out
}

// localTenants returns the tenants whose events are stored on the node,
// with how many rows.
func localTenants(t *testing.T, s *Store) map[string]uint64 {
	t.Helper()
	rows, err := s.Conn().Query(t.Context(), "SELECT tenant_id, count() FROM default_local.events GROUP BY tenant_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var tenant string
		var n uint64
		if err := rows.Scan(&tenant, &n); err != nil {
			t.Fatal(err)
		}
		out[tenant] = n
	}
	return out
}

// TestClusterCountsAsOneServer: two ClickHouse servers as two shards of
// one cluster, migrated as `keel migrate --clickhouse-cluster` does.
// Events go through the real loader, with re-sent copies, into the cluster
// (through the Distributed table from one node; straight to the shards'
// local tables from the other) and into a single server; facts of a
// generated book of customers go through the facts loader. The cluster
// stores every event once, spreads the tenants over both shards, each
// tenant on one, and answers every activity and revenue query exactly as
// the single server does.
func TestClusterCountsAsOneServer(t *testing.T) {
	stack := teststack.Get(t)
	ctx := t.Context()
	_, nodes := startCluster(t)
	dist, local := nodes[0], nodes[1]
	if err := dist.UseCluster(ctx, testCluster, InsertDistributed); err != nil {
		t.Fatal(err)
	}
	if err := local.UseCluster(ctx, testCluster, InsertLocal); err != nil {
		t.Fatal(err)
	}
	if err := local.UseCluster(ctx, testCluster, "sideways"); err == nil {
		t.Error("UseCluster with an unknown insert mode: no error")
	}
	ref := isolatedStore(t)
	brokers := stack.Kafka.Brokers()
	now := time.Now().UTC()
	const prefix = "cl"

	// Half the events through the Distributed table, half straight to the
	// shards; the single server gets both halves.
	firstHalf, n1 := clusterEvents(prefix, 1, 3000, 16, now)
	second, n2 := clusterEvents(prefix+"b", 2, 3000, 16, now)
	// The second half also re-sends some of the first on another topic:
	// the loader cannot know them (its window is per topic partition), so
	// they are stored twice — on the shard their tenant's first copies are
	// on, or the merge below could not fold them.
	crossCopies := 0
	for i := 0; i < len(firstHalf); i += 50 {
		second = append(second, firstHalf[i])
		crossCopies++
	}
	topicA, topicB := newTopic(t, brokers, 4), newTopic(t, brokers, 4)
	produce(t, brokers, topicA, firstHalf...)
	produce(t, brokers, topicB, second...)
	load := func(topic, group string, s *Store) {
		l := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: group, BatchRows: 700}, s)
		waitGroupCaughtUp(t, brokers, topic, group, 4)
		l.stop()
	}
	load(topicA, topicA+"-cluster", dist)
	load(topicA, topicA+"-ref", ref)
	// A loader of a new group reads topic A from its start: every message
	// is already stored, which it learns through the Distributed tables.
	// (Before topic B: a merge that folds a copy from there keeps that
	// copy's Kafka position, not topic A's.)
	again := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topicA, Group: topicA + "-again"}, local)
	waitGroupCaughtUp(t, brokers, topicA, topicA+"-again", 4)
	again.stop()
	count := func(outcome string) float64 { return testutil.ToFloat64(again.m.messages.WithLabelValues(outcome)) }
	if r, d, s := count(outcomeRedelivered), count(outcomeDuplicate), count(outcomeStored); r != float64(n1) || d != float64(len(firstHalf)-n1) || s != 0 {
		t.Errorf("a new group on topic A: %v messages found stored, %v duplicates, %v stored again; want %d, %d and none", r, d, s, n1, len(firstHalf)-n1)
	}
	load(topicB, topicB+"-cluster", local)
	load(topicB, topicB+"-ref", ref)

	// Merges may have folded some copies already.
	want := uint64(n1 + n2)
	rows, distinct := counts(t, dist, prefix)
	if distinct != want || rows < want || rows > want+uint64(crossCopies) {
		t.Errorf("cluster holds %d rows, %d distinct events; want %d distinct and at most the %d copies sent on another topic", rows, distinct, want, crossCopies)
	}
	shards := []map[string]uint64{localTenants(t, dist), localTenants(t, local)}
	for tenant := range shards[0] {
		if _, ok := shards[1][tenant]; ok {
			t.Errorf("tenant %s has rows on both shards", tenant)
		}
	}
	if len(shards[0]) < 4 || len(shards[1]) < 4 {
		t.Errorf("tenants per shard: %d and %d, want both shards used", len(shards[0]), len(shards[1]))
	}
	for i, s := range nodes {
		if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE default_local.events FINAL"); err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	if rows, distinct := counts(t, dist, prefix); rows != want || distinct != want {
		t.Errorf("after the merges: %d rows, %d distinct, want %d of each (a copy on another shard than its first)", rows, distinct, want)
	}
	if err := RollupsMatchRaw(ctx, local, prefix); err != nil {
		t.Error(err)
	}
	keys := map[*Store]map[uint64]uint64{}
	for _, s := range []*Store{ref, dist, local} {
		keys[s] = eventsByKey(t, s, prefix)
	}
	if len(keys[ref]) != 4 || !reflect.DeepEqual(keys[dist], keys[ref]) || !reflect.DeepEqual(keys[local], keys[ref]) {
		t.Errorf("events by ingest key: %v and %v on the cluster's nodes, %v on one server; want the same, keys 0 to 3", keys[dist], keys[local], keys[ref])
	}

	from, to := DayOf(now, time.UTC).AddDays(-7), DayOf(now, time.UTC)
	var tenants []string
	for _, sh := range shards {
		for tenant := range sh {
			tenants = append(tenants, tenant)
		}
	}
	slices.Sort(tenants)
	for _, tenant := range tenants {
		wantA, err := ref.Activity(ctx, tenant, from, to, ActivitySettings{})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range nodes {
			got, err := s.Activity(ctx, tenant, from, to, ActivitySettings{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantA) {
				t.Errorf("node %d: activity of %s\n got %+v\nwant %+v", i+1, tenant, got, wantA)
			}
		}
	}
	same := func(what string, get func(*Store) (any, error)) {
		t.Helper()
		w, err := get(ref)
		if err != nil {
			t.Fatalf("%s on one server: %v", what, err)
		}
		for i, s := range nodes {
			g, err := get(s)
			if err != nil {
				t.Fatalf("%s on node %d: %v", what, i+1, err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s on node %d:\n got %+v\nwant %+v", what, i+1, g, w)
			}
		}
	}
	same("daily totals", func(s *Store) (any, error) { return s.DailyTotals(ctx, from, to, ActivitySettings{}) })
	same("tenant trends", func(s *Store) (any, error) { return s.TenantTrends(ctx, to, ActivitySettings{}) })
	same("tenants", func(s *Store) (any, error) { return s.Tenants(ctx, now) })
	same("score inputs", func(s *Store) (any, error) {
		var out []ScoreInput
		err := s.ScoreInputs(ctx, from, to, ActivitySettings{}, keel.HealthSettings{}, func(x ScoreInput) error { out = append(out, x); return nil })
		return out, err
	})

	same("trends of some tenants", func(s *Store) (any, error) { return s.TenantTrendsOf(ctx, to, ActivitySettings{}, tenants[:5]) })

	clusterHealth(t, ref, nodes)

	// Facts: a book of customers, and a link of each of three tenants.
	b := keeltest.NewBook(t)
	b.Products("USD")
	start := keeltest.Day(t, "2024-01-01")
	b.Generate(200, 5, start)
	var facts []kafka.Message
	for i, f := range b.Facts {
		f.ID = int64(i + 1)
		v, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, kafka.Message{Key: []byte(strconv.FormatInt(f.CustomerID, 10)), Value: v})
	}
	for i, tenant := range tenants[:3] {
		facts = append(facts, factMsg(uint64(len(b.Facts)+1+i), keel.FactTenantLinked, uint64(i+1), tenant, now, "{}"))
	}
	facts = append(facts, facts[:40]...) // a relay's re-sends
	topicF := newTopic(t, brokers, 4)
	produce(t, brokers, topicF, facts...)
	loadFacts := func(group string, s *Store) {
		l := startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topicF, Group: group, BatchRows: 300}, s)
		waitGroupCaughtUp(t, brokers, topicF, group, 4)
		l.stop()
	}
	loadFacts(topicF+"-cluster", local)
	loadFacts(topicF+"-ref", ref)
	ids, copies, err := dist.StoredFactIDs(ctx, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(b.Facts)+3 || copies != 0 {
		t.Errorf("cluster stores %d facts with %d extra copies, want %d and none", len(ids), copies, len(b.Facts)+3)
	}
	mismatches, months, err := dist.CheckRevenue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if months < 1000 || len(mismatches) != 0 {
		t.Errorf("revenue check: %d months, %d mismatches (first %+v)", months, len(mismatches), first(mismatches))
	}
	fromM, toM := keel.MonthOf(start)-1, keel.MonthOf(start)+36
	wantT := keel.MonthTotals(b.Series(keel.RevenueSettings{}), fromM, toM)
	for i, s := range nodes {
		got, err := s.MonthTable(ctx, "USD", fromM, toM)
		if err != nil {
			t.Fatal(err)
		}
		for m := range wantT {
			if g, w := keeltest.Row(got[m]), keeltest.Row(wantT[m]); g != w {
				t.Fatalf("node %d, %s: %+v, the book's %+v", i+1, w.Month, g, w)
			}
		}
	}
	same("cohorts", func(s *Store) (any, error) { return s.Cohorts(ctx, "USD", fromM, toM) })
	same("renewals", func(s *Store) (any, error) { return s.Renewals(ctx, "USD", fromM, toM, 0) })
	same("currencies", func(s *Store) (any, error) { return s.Currencies(ctx, keel.MonthOf(start)+20) })
	same("saas", func(s *Store) (any, error) { return s.SaaS(ctx, "USD", keel.MonthOf(start)+20) })
	someone := b.Customer(b.Keys()[1]).Customer.ID
	same("a customer's revenue", func(s *Store) (any, error) { return s.CustomerMonths(ctx, RevenueFilter{Customer: someone}) })
	same("churned customers", func(s *Store) (any, error) {
		return s.CustomerMonths(ctx, RevenueFilter{Currency: "USD", Month: keel.MonthOf(start) + 14, Movement: keel.MoveChurn})
	})
	same("tenant links", func(s *Store) (any, error) { return s.TenantCustomers(ctx) })
	for c := uint64(1); c <= 3; c++ {
		same(fmt.Sprintf("events of customer %d", c), func(s *Store) (any, error) {
			return s.CustomerEventCounts(ctx, c, now.AddDate(0, 0, -10), now.Add(time.Hour))
		})
	}
}

// clusterHealth: two days of scores of 60 customers written to the
// cluster, the first day from one node through the Distributed tables, the
// second from the other straight to the shards, then the first scored
// again from there (one customer in six no longer scored); the single
// server gets the same runs. Each customer's scores are on one shard, and
// every health read answers as on the single server: the latest run of
// each day only, whichever node wrote it.
func clusterHealth(t *testing.T, ref *Store, nodes []*Store) {
	t.Helper()
	ctx := t.Context()
	d1 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	scores := func(day time.Time, seed uint64, skip int64) []HealthRow {
		r := rand.New(rand.NewPCG(seed, 11))
		var out []HealthRow
		for id := int64(1); id <= 60; id++ {
			if skip > 0 && id%skip == 0 {
				continue
			}
			score, band := r.IntN(101), keel.BandGreen
			switch {
			case score < 40:
				band = keel.BandRed
			case score < 70:
				band = keel.BandYellow
			}
			out = append(out, HealthRow{HealthScore: keel.HealthScore{CustomerID: id, Day: day, Score: score, Band: band, Components: []keel.ComponentScore{
				{Component: keel.CompLoginTrend, Value: float64(r.IntN(3) - 1), Sub: float64(r.IntN(101)), Weight: 20},
				{Component: keel.CompTickets, NoData: r.IntN(2) == 0, Weight: 10}}},
				MRR: int64(r.IntN(3)) * 5000, Currency: "USD"})
		}
		return out
	}
	for _, w := range []struct {
		day  time.Time
		seed uint64
		skip int64
		node int
	}{{d1, 1, 0, 0}, {d2, 2, 0, 1}, {d1, 3, 6, 1}} {
		rows := scores(w.day, w.seed, w.skip)
		for _, s := range []*Store{ref, nodes[w.node]} {
			if err := s.WriteHealthDay(ctx, w.day, rows); err != nil {
				t.Fatal(err)
			}
		}
	}
	var shards []map[uint64]bool
	for i, s := range nodes {
		rows, err := s.Conn().Query(ctx, "SELECT DISTINCT customer_id FROM default_local.health_scores")
		if err != nil {
			t.Fatal(err)
		}
		ids := map[uint64]bool{}
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids[id] = true
		}
		rows.Close()
		if len(ids) == 0 {
			t.Errorf("node %d holds no scores", i+1)
		}
		shards = append(shards, ids)
	}
	for id := range shards[0] {
		if shards[1][id] {
			t.Errorf("customer %d has scores on both shards", id)
		}
	}
	type page struct {
		Rows []HealthRow
		N    int
	}
	same := func(what string, get func(*Store) (any, error)) {
		t.Helper()
		w, err := get(ref)
		if err != nil {
			t.Fatalf("%s on one server: %v", what, err)
		}
		for i, s := range nodes {
			g, err := get(s)
			if err != nil {
				t.Fatalf("%s on node %d: %v", what, i+1, err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s on node %d:\n got %+v\nwant %+v", what, i+1, g, w)
			}
		}
	}
	health := func(f HealthFilter) func(*Store) (any, error) {
		return func(s *Store) (any, error) {
			var out []HealthRow
			err := s.Health(ctx, f, func(r HealthRow) error { out = append(out, r); return nil })
			return out, err
		}
	}
	list := func(f HealthListFilter) func(*Store) (any, error) {
		return func(s *Store) (any, error) {
			rows, n, err := s.HealthList(ctx, f)
			return page{rows, n}, err
		}
	}
	same("health", health(HealthFilter{From: d1, To: d2}))
	same("health of some customers", health(HealthFilter{From: d1, To: d2, Customers: []uint64{3, 6, 7, 12, 59}}))
	same("red health", health(HealthFilter{From: d1, To: d2, Band: keel.BandRed}))
	same("a page of the first day", list(HealthListFilter{Day: d1, Limit: 10, Offset: 5}))
	same("yellow of some on the second day", list(HealthListFilter{Day: d2, Band: keel.BandYellow, Customers: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, Limit: 50}))
	same("briefs", func(s *Store) (any, error) { return s.HealthBriefs(ctx, d1) })
	same("last day scored", func(s *Store) (any, error) { return s.LastHealthDay(ctx) })
	for i, s := range nodes {
		if _, n, err := s.HealthList(ctx, HealthListFilter{Day: d1, Limit: 1}); err != nil || n != 50 {
			t.Errorf("node %d: the first day has %d scores (%v), want the 50 of its second run", i+1, n, err)
		}
	}
}
