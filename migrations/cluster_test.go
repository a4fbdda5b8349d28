package migrations

import (
	"regexp"
	"slices"
	"sort"
	"strings"
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

// TestTablesDroppedHaveNoFront: a table a later migration drops (0007's
// hourly rollups) is no table of the schema, so it gets no front, and its
// front from before the drop is one to drop; a view dropped is neither.
func TestTablesDroppedHaveNoFront(t *testing.T) {
	tables, dropped := Tables(), DroppedTables()
	for _, gone := range []string{"activity_hourly", "activity_totals_hourly"} {
		if slices.Contains(tables, gone) || !slices.Contains(dropped, gone) {
			t.Errorf("%s: in Tables() %v, in DroppedTables() %v; want only dropped", gone, slices.Contains(tables, gone), slices.Contains(dropped, gone))
		}
	}
	if len(dropped) != 2 {
		t.Errorf("DroppedTables() = %v, want the two hourly rollups (not their views)", dropped)
	}
	for _, kept := range []string{"events", "activity_daily", "activity_totals_daily", "health_scores", "health_runs", "revenue"} {
		if !slices.Contains(tables, kept) {
			t.Errorf("Tables() = %v, want %s", tables, kept)
		}
	}
}

var (
	createBody = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+) \((.*)\) ENGINE = (\w+)\(.*?ORDER BY (\([^)]*\)|\w+)`)
	column     = regexp.MustCompile(`^\s*(\w+)\s+(.+?),?\s*$`)
)

// TestShardKeysKeepCopiesTogether: each keyed table is sharded by one of
// its columns, of the type its key needs (a String hashed, a UInt64 by its
// value); a table whose merges fold rows (ReplacingMergeTree and the like)
// has its key in its ORDER BY, so every copy of a row has the same key and
// lands on the shard where the merge and FINAL fold it; a table without a
// key is filled only by materialized views, on each shard from its own
// events.
func TestShardKeysKeepCopiesTogether(t *testing.T) {
	created := map[string][]string{} // table: name, columns, engine, order by
	filledByView := map[string]bool{}
	viewTo := regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ TO (\w+) AS`)
	for _, m := range ClickHouse() {
		for _, s := range m.Statements() {
			if g := createBody.FindStringSubmatch(s); g != nil {
				created[g[1]] = g[1:]
			}
			if g := viewTo.FindStringSubmatch(s); g != nil {
				filledByView[g[1]] = true
			}
		}
	}
	for _, table := range Tables() {
		c, ok := created[table]
		if !ok {
			t.Errorf("%s: its CREATE TABLE not understood", table)
			continue
		}
		key := shardKeys[table]
		if key.Column == "" {
			if !filledByView[table] {
				t.Errorf("%s has no sharding key, but no materialized view fills it", table)
			}
			continue
		}
		var typ string
		for _, line := range strings.Split(c[1], "\n") {
			if g := column.FindStringSubmatch(line); g != nil && g[1] == key.Column {
				typ = g[2]
			}
		}
		if want := map[bool]string{true: "String", false: "UInt64"}[key.Hash]; typ != want {
			t.Errorf("%s is sharded by %s of type %q, want %s (Hash %v)", table, key.Expr(), typ, want, key.Hash)
		}
		folds := c[2] != "MergeTree"
		order := strings.FieldsFunc(c[3], func(r rune) bool { return r == '(' || r == ')' || r == ',' || r == ' ' })
		if folds && !slices.Contains(order, key.Column) {
			t.Errorf("%s (%s) is sharded by %s, not in its ORDER BY %s: copies of a row could land on two shards and never fold", table, c[2], key.Column, c[3])
		}
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
