package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/warehouse"
)

func TestMain(m *testing.M) { teststack.Main(m) }

// totals is a signature of every table of the warehouse's database: for
// each, its row count after merging (FINAL) and, for each column that can
// be totalled, its total — an aggregate state by merging it, a number by
// summing. A bench that wrote anywhere here changes one of them.
func totals(t *testing.T, s *warehouse.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.Conn().Query(ctx, `SELECT c.table, c.name, c.type, t.engine FROM system.columns AS c
		ANY INNER JOIN (SELECT name AS table, engine FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%') AS t USING table
		WHERE c.database = currentDatabase()
		ORDER BY c.table, c.name`)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	final := map[string]string{}
	for rows.Next() {
		var table, name, typ, engine string
		if err := rows.Scan(&table, &name, &typ, &engine); err != nil {
			t.Fatal(err)
		}
		if engine != "MergeTree" {
			final[table] = " FINAL"
		}
		switch {
		case strings.HasPrefix(typ, "AggregateFunction(uniqExact"):
			cols[table] = append(cols[table], "toString(uniqExactMerge("+name+"))")
		case strings.HasPrefix(typ, "AggregateFunction("):
			cols[table] = append(cols[table], "toString(length(groupArray(toTypeName("+name+"))))")
		case strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "UInt"):
			cols[table] = append(cols[table], "toString(sum("+name+"))")
		case typ == "String":
			cols[table] = append(cols[table], "toString(sum(length("+name+")))")
		}
	}
	rows.Close()
	out := map[string]string{}
	for table, exprs := range cols {
		q := fmt.Sprintf("SELECT arrayStringConcat([toString(count()), %s], ' ') FROM %s%s", strings.Join(exprs, ", "), table, final[table])
		var v string
		if err := s.Conn().QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = v
	}
	return out
}

// TestIngestBenchChangesNoNumbers runs a small `keel bench ingest` beside a
// stack with data of its own and checks that every table's totals — the
// events, every rollup, the facts, the revenue — are what they were: the
// bench writes to databases and topics of its own and drops them after.
func TestIngestBenchChangesNoNumbers(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-client"); err != nil {
		t.Fatalf("the baseline needs clickhouse-client: %v", err)
	}
	st := teststack.Get(t)
	ctx := context.Background()
	keel := filepath.Join(t.TempDir(), "keel")
	if out, err := exec.Command("go", "build", "-o", keel, "../cmd/keel").CombinedOutput(); err != nil {
		t.Fatalf("build keel: %v\n%s", err, out)
	}
	s, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The user's own activity, so that the rollups hold something.
	b := warehouse.Batch{Topic: "keel.events"}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 50 {
		e := ingest.Event{Tenant: fmt.Sprintf("t-user-%d", i%5), ID: fmt.Sprintf("e-%d", i), Type: ingest.TypeLogin, User: fmt.Sprintf("u%d", i%7), Time: now.Add(-time.Duration(i) * time.Minute), Props: "{}"}
		b.AddEvent(&e, warehouse.Position{Partition: 0, Offset: int64(i)}, now)
	}
	if err := s.Insert(ctx, &b); err != nil {
		t.Fatal(err)
	}
	before := totals(t, s)
	if len(before) < 5 {
		t.Fatalf("only %d tables found: %v", len(before), before)
	}
	cfg := IngestConfig{Keel: keel, PG: st.Postgres.URL(), ClickHouse: st.ClickHouse.URL(), Brokers: st.Kafka.Brokers(),
		Events: 20000, Batch: 1000, Concurrency: 2, ClickHouseClient: "clickhouse-client"}
	var out strings.Builder
	if err := Ingest(ctx, cfg, &out, io.Discard); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "events/s") || !strings.Contains(out.String(), "CPU-µs per event, pipeline") {
		t.Errorf("bench printed %q", out.String())
	}
	// ClickHouse 18.16's Kafka engine reads the in-process broker (not
	// Apache Kafka 4): there the peer must be measured, all of it stored.
	if os.Getenv("KEEL_TEST_KAFKA") != "apache" && !strings.Contains(out.String(), "20000 stored, 20000 distinct") {
		t.Errorf("the peer was not measured on the in-process broker:\n%s", out.String())
	}
	if after := totals(t, s); !reflect.DeepEqual(before, after) {
		for table := range before {
			if before[table] != after[table] {
				t.Errorf("%s changed: %s → %s", table, before[table], after[table])
			}
		}
	}
	var left uint64
	s.Conn().QueryRow(ctx, "SELECT count() FROM system.databases WHERE name LIKE 'keel_bench_%'").Scan(&left)
	if left != 0 {
		t.Errorf("%d bench databases left behind", left)
	}
	_ = os.Remove(keel)
}
