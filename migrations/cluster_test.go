package migrations

import (
	"slices"
	"sort"
	"testing"
)

// TestEveryTableHasAShardKey: a table a migration adds must say how a
// cluster spreads it, or keel migrate --clickhouse-cluster would make no
// front for it and queries on a cluster would not find it.
func TestEveryTableHasAShardKey(t *testing.T) {
	tables := Tables()
	for _, table := range tables {
		if _, ok := ShardKeyOf(table); !ok {
			t.Errorf("table %s has no entry in shardKeys (migrations/cluster.go)", table)
		}
	}
	var keyed []string
	for table := range shardKeys {
		keyed = append(keyed, table)
	}
	sort.Strings(keyed)
	for _, table := range keyed {
		if !slices.Contains(tables, table) {
			t.Errorf("shardKeys names %s, which no migration creates", table)
		}
	}
	if len(tables) == 0 || tables[0] != "events" {
		t.Errorf("Tables() = %v, want the events table first", tables)
	}
}

func TestFrontDDL(t *testing.T) {
	for _, c := range []struct{ table, want string }{
		{"events", "CREATE TABLE IF NOT EXISTS keel.events AS keel_local.events ENGINE = Distributed(two, keel_local, events, cityHash64(tenant_id))"},
		{"facts", "CREATE TABLE IF NOT EXISTS keel.facts AS keel_local.facts ENGINE = Distributed(two, keel_local, facts, customer_id)"},
		{"activity_daily", "CREATE TABLE IF NOT EXISTS keel.activity_daily AS keel_local.activity_daily ENGINE = Distributed(two, keel_local, activity_daily)"},
	} {
		if got := frontDDL("keel", "two", c.table); got != c.want {
			t.Errorf("frontDDL(%s):\n got %s\nwant %s", c.table, got, c.want)
		}
	}
}
