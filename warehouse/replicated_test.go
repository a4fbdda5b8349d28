package warehouse

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/migrations"
)

// TestReplicatedCluster: two shards of two replicas each — four ClickHouse
// servers replicating through a ZooKeeper (its jars from Maven Central) —
// migrated as `keel migrate --clickhouse-cluster` does. Every table is
// replicated, each shard's replicas share their tables' paths; events
// loaded through the Distributed tables and straight to the shards are on
// both replicas of their shard, once; a change of the reporting timezone
// makes the rollups again on every replica; with the first replica of each
// shard killed, the other nodes still answer every count as a single
// server does and take new events (both insert modes), which the killed
// replicas fetch when they come back; and a server replaced by an empty
// one gets its shard's tables and rows from the replica that kept them.
func TestReplicatedCluster(t *testing.T) {
	stack := teststack.Get(t)
	ctx := t.Context()
	zk, err := devstack.StartZooKeeper(ctx, devstack.ZooKeeperConfig{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := zk.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	c, err := devstack.StartClickHouseCluster(ctx, devstack.ClickHouseClusterConfig{Dir: t.TempDir(), Name: testCluster, Shards: 2, Replicas: 2, ZooKeeper: zk.Addr(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	var nodes []*Store
	for _, n := range c.Nodes {
		s, err := Open(ctx, n.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	applied, err := migrations.ApplyClickHouseCluster(ctx, nodes[0].Conn(), nodes[0].Dial, testCluster, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 4 {
		t.Fatalf("applied on %d nodes, want 4", len(applied))
	}
	for i, a := range applied {
		if len(a.Applied) != len(migrations.ClickHouse()) || a.Node.Addr() != c.Nodes[i].Addr() || a.Node.Shard != i/2+1 || a.Node.Replica != i%2+1 {
			t.Errorf("node %d: %s applied %d migrations, want %s (shard %d, replica %d) with all %d", i+1, a.Node, len(a.Applied), c.Nodes[i].Addr(), i/2+1, i%2+1, len(migrations.ClickHouse()))
		}
	}
	if again, err := migrations.ApplyClickHouseCluster(ctx, nodes[3].Conn(), nodes[3].Dial, testCluster, "UTC"); err != nil || len(again) != 0 {
		t.Fatalf("second run from the last node applied %+v (%v), want nothing", again, err)
	}
	before := replicaPaths(t, nodes)
	for i, s := range nodes {
		if err := s.CheckSchema(ctx); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
		if err := s.CheckZone(ctx, time.UTC); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}

	// Events through the Distributed tables from shard 1's first replica,
	// and straight to the shards from shard 2's; a single server gets all.
	if err := nodes[0].UseCluster(ctx, testCluster, InsertDistributed); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].UseCluster(ctx, testCluster, InsertLocal); err != nil {
		t.Fatal(err)
	}
	ref := isolatedStore(t)
	brokers := stack.Kafka.Brokers()
	now := time.Now().UTC()
	const prefix = "rp"
	first, n1 := clusterEvents(prefix, 1, 2000, 12, now)
	second, n2 := clusterEvents(prefix+"b", 2, 2000, 12, now)
	topicA, topicB := newTopic(t, brokers, 4), newTopic(t, brokers, 4)
	produce(t, brokers, topicA, first...)
	produce(t, brokers, topicB, second...)
	loadTopic := func(topic, group string, s *Store) {
		l := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: group, BatchRows: 500}, s)
		waitGroupCaughtUp(t, brokers, topic, group, 4)
		l.stop()
	}
	loadTopic(topicA, topicA+"-cluster", nodes[0])
	loadTopic(topicB, topicB+"-cluster", nodes[2])
	loadTopic(topicA, topicA+"-ref", ref)
	loadTopic(topicB, topicB+"-ref", ref)
	want := uint64(n1 + n2)
	for i, s := range nodes {
		if _, distinct := counts(t, s, prefix); distinct != want {
			t.Errorf("node %d: %d distinct events, want %d", i+1, distinct, want)
		}
	}
	sameReplicas(t, nodes, "after loading")
	sameAsOneServer(t, ref, nodes, prefix, now, time.UTC)

	// Another reporting timezone, on the cluster and on the single server:
	// the first replicas make the rollups again from events, at new paths,
	// which the second replicas join.
	const zone = "Asia/Tokyo"
	if _, err := migrations.ApplyClickHouseCluster(ctx, nodes[1].Conn(), nodes[1].Dial, testCluster, zone); err != nil {
		t.Fatalf("migrate to %s: %v", zone, err)
	}
	if _, err := migrations.ApplyClickHouse(ctx, ref.Conn(), zone); err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	// A running service notices a new zone within zoneRecheck; these
	// stores forget the zone they read now.
	for _, s := range append([]*Store{ref}, nodes...) {
		s.zone.mu.Lock()
		s.zone.zone = ""
		s.zone.mu.Unlock()
	}
	for i, s := range nodes {
		if err := s.CheckZone(ctx, tokyo); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}
	after := replicaPaths(t, nodes)
	for table, path := range after {
		if zoned := strings.HasSuffix(table, "_daily"); zoned == (path == before[table]) {
			t.Errorf("%s: path %s before the zone changed, %s after; want new paths for the zoned rollups only", table, before[table], path)
		}
	}
	sameReplicas(t, nodes, "after the zone changed")
	sameAsOneServer(t, ref, nodes, prefix, now, tokyo)

	// The first replica of each shard dies: the others answer, and take
	// events (through shard 1's second replica) that the dead ones fetch
	// when they are back.
	for _, i := range []int{0, 2} {
		if err := c.Nodes[i].Kill(); err != nil {
			t.Fatal(err)
		}
	}
	live := []*Store{nodes[1], nodes[3]}
	sameAsOneServer(t, ref, live, prefix, now, tokyo)
	// Through the Distributed tables from one, straight to the shards'
	// live replicas from the other (the dead ones left out).
	if err := nodes[1].UseCluster(ctx, testCluster, InsertDistributed); err != nil {
		t.Fatal(err)
	}
	if err := nodes[3].UseCluster(ctx, testCluster, InsertLocal); err != nil {
		t.Fatalf("straight to the shards with a replica of each down: %v", err)
	}
	third, n3 := clusterEvents(prefix+"c", 3, 1000, 12, now)
	fourth, n4 := clusterEvents(prefix+"d", 4, 1000, 12, now)
	topicC, topicD := newTopic(t, brokers, 4), newTopic(t, brokers, 4)
	produce(t, brokers, topicC, third...)
	produce(t, brokers, topicD, fourth...)
	loadTopic(topicC, topicC+"-cluster", nodes[1])
	loadTopic(topicD, topicD+"-cluster", nodes[3])
	loadTopic(topicC, topicC+"-ref", ref)
	loadTopic(topicD, topicD+"-ref", ref)
	want += uint64(n3 + n4)
	for i, s := range live {
		if _, distinct := counts(t, s, prefix); distinct != want {
			t.Errorf("live node %d: %d distinct events with two replicas down, want %d", i+1, distinct, want)
		}
	}
	sameAsOneServer(t, ref, live, prefix, now, tokyo)
	for _, i := range []int{0, 2} {
		if err := c.Nodes[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sameReplicas(t, nodes, "after the first replicas came back")
	sameAsOneServer(t, ref, nodes, prefix, now, tokyo)

	// Shard 1's first server is replaced by an empty one (its local
	// database gone): keel migrate makes it a copy of the replica that
	// kept the schema, which it must not wipe to match the newcomer.
	if err := nodes[0].Conn().Exec(ctx, "DROP DATABASE default_local"); err != nil {
		t.Fatal(err)
	}
	applied, err = migrations.ApplyClickHouseCluster(ctx, nodes[0].Conn(), nodes[0].Dial, testCluster, zone)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0].Node.Addr() != c.Nodes[0].Addr() || len(applied[0].Applied) != len(migrations.ClickHouse()) {
		t.Errorf("migrate after replacing a server: applied %+v, want every version recorded on it alone", applied)
	}
	if _, distinct := counts(t, nodes[1], prefix); distinct != want {
		t.Errorf("the replica that kept the schema: %d distinct events, want %d", distinct, want)
	}
	sameReplicas(t, nodes, "after replacing a server")
	sameAsOneServer(t, ref, nodes, prefix, now, tokyo)
}

// replicaPaths returns the ZooKeeper path of each replicated table of
// each shard, checking that every Keel table is replicated on every node
// and that the two replicas of a shard share their paths.
func replicaPaths(t *testing.T, nodes []*Store) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for i, s := range nodes {
		rows, err := s.Conn().Query(t.Context(), "SELECT table, zookeeper_path FROM system.replicas WHERE database = 'default_local'")
		if err != nil {
			t.Fatal(err)
		}
		mine := map[string]string{}
		for rows.Next() {
			var table, path string
			if err := rows.Scan(&table, &path); err != nil {
				t.Fatal(err)
			}
			mine[table] = path
		}
		rows.Close()
		if tables := slices.Sorted(maps.Keys(mine)); !slices.Equal(tables, slices.Sorted(slices.Values(migrations.Tables()))) {
			t.Errorf("node %d: replicated tables %v, want every table %v", i+1, tables, migrations.Tables())
		}
		for table, path := range mine {
			key := fmt.Sprintf("shard%d %s", i/2+1, table)
			if p, ok := paths[key]; ok && p != path {
				t.Errorf("node %d: %s at %s, its shard's other replica at %s", i+1, table, path, p)
			}
			paths[key] = path
		}
	}
	return paths
}

// sameReplicas waits until each replica has fetched what its shard holds,
// then checks that the two replicas of each shard hold the same events and
// rollups.
func sameReplicas(t *testing.T, nodes []*Store, when string) {
	t.Helper()
	ctx := t.Context()
	for i, s := range nodes {
		for _, table := range migrations.Tables() {
			if err := s.Conn().Exec(ctx, "SYSTEM SYNC REPLICA default_local."+table); err != nil {
				t.Fatalf("node %d: sync %s: %v", i+1, table, err)
			}
		}
	}
	for sh := 0; sh < len(nodes); sh += 2 {
		a, b := localTenants(t, nodes[sh]), localTenants(t, nodes[sh+1])
		if len(a) == 0 || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: shard %d's replicas hold the events of %d and %d tenants (equal: %v)", when, sh/2+1, len(a), len(b), reflect.DeepEqual(a, b))
		}
		for _, table := range []string{"activity_daily", "activity_totals_daily"} {
			var ra, rb uint64
			q := "SELECT count() FROM default_local." + table
			if err := nodes[sh].Conn().QueryRow(ctx, q).Scan(&ra); err != nil {
				t.Fatal(err)
			}
			if err := nodes[sh+1].Conn().QueryRow(ctx, q).Scan(&rb); err != nil {
				t.Fatal(err)
			}
			if ra == 0 || ra != rb {
				t.Errorf("%s: shard %d's replicas hold %d and %d rows of %s", when, sh/2+1, ra, rb, table)
			}
		}
	}
}

// sameAsOneServer checks that every node answers the activity of each
// tenant and the company's days, cut in loc, as the single server ref does.
func sameAsOneServer(t *testing.T, ref *Store, nodes []*Store, prefix string, now time.Time, loc *time.Location) {
	t.Helper()
	ctx := t.Context()
	settings := ActivitySettings{Location: loc}
	from, to := DayOf(now, loc).AddDays(-7), DayOf(now, loc)
	var tenants []string
	rows, err := ref.Conn().Query(ctx, "SELECT DISTINCT tenant_id FROM events WHERE startsWith(tenant_id, ?) ORDER BY tenant_id", prefix)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tenant string
		if err := rows.Scan(&tenant); err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tenant)
	}
	rows.Close()
	if len(tenants) == 0 {
		t.Fatal("the single server holds no events")
	}
	for _, tenant := range tenants {
		w, err := ref.Activity(ctx, tenant, from, to, settings)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range nodes {
			g, err := s.Activity(ctx, tenant, from, to, settings)
			if err != nil {
				t.Fatalf("node %d: activity of %s: %v", i+1, tenant, err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("node %d: activity of %s\n got %+v\nwant %+v", i+1, tenant, g, w)
			}
		}
	}
	w, err := ref.DailyTotals(ctx, from, to, settings)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range nodes {
		g, err := s.DailyTotals(ctx, from, to, settings)
		if err != nil {
			t.Fatalf("node %d: daily totals: %v", i+1, err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("node %d: daily totals\n got %+v\nwant %+v", i+1, g, w)
		}
	}
}
