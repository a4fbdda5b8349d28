package warehouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/go-faster/city"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/migrations"
)

// On a ClickHouse cluster (`keel migrate --clickhouse-cluster`, described
// in migrations/cluster.go) every query reads the Distributed tables of the
// database the URL names, unchanged. Inserts have two roads, the insert
// mode:
//
//   - distributed (the default): rows go to the Distributed table, which
//     sends each to its shard by the table's key and, with
//     insert_distributed_sync (Open sets it), answers only once every shard
//     stored its rows. Simple, and one more hop for every row.
//   - local: the store computes each row's shard itself — the same key,
//     cityHash64 as ClickHouse computes it, modulo the shards' weights as
//     the Distributed engine does — and inserts straight into that shard's
//     local table, sparing the hop. Rows land where the Distributed table
//     would have put them, so both roads may be used side by side. On a
//     replicated cluster they go to the shard's first replica, or when it
//     fails to the next, and replication copies them to the others.
//
// Either way a batch that spans shards is several inserts and can fail
// between them; the loaders handle that as they handle a batch that spans
// months on one server (loader.go): they check what is stored, through the
// Distributed tables, before they retry.

// InsertMode is where a store on a cluster sends the rows it inserts.
type InsertMode string

// The insert modes.
const (
	InsertDistributed InsertMode = "distributed"
	InsertLocal       InsertMode = "local"
)

// InsertModes lists the insert modes, the default first.
var InsertModes = []InsertMode{InsertDistributed, InsertLocal}

// UseCluster readies the store for a cluster that `keel migrate
// --clickhouse-cluster` made: it checks that the database is one (its
// events table is Distributed) and, with InsertLocal, connects to the local
// database of every shard, to which its inserts then go. It returns an
// error naming what is wrong: a single-node schema, a cluster the server
// does not declare, a shard it cannot reach.
func (s *Store) UseCluster(ctx context.Context, cluster string, mode InsertMode) error {
	if err := keel.OneOf("clickhouse-insert", mode, InsertModes); err != nil {
		return err
	}
	var main, engine string
	if err := s.conn.QueryRow(ctx, "SELECT currentDatabase(), (SELECT any(engine) FROM system.tables WHERE database = currentDatabase() AND name = 'events')").Scan(&main, &engine); err != nil {
		return fmt.Errorf("clickhouse cluster %s: %w", cluster, err)
	}
	if engine != "Distributed" {
		return fmt.Errorf("clickhouse cluster %s: database %s is not made for a cluster (its events table is %q, not Distributed): run `keel migrate --clickhouse-cluster %s`", cluster, main, engine, cluster)
	}
	if mode == InsertDistributed {
		return nil
	}
	nodes, err := migrations.ClusterNodes(ctx, s.conn, cluster)
	if err != nil {
		return err
	}
	// A replica that cannot be reached is left out while its shard has
	// another (replication brings it what it misses); a shard with none
	// is an error.
	r := &shardRouter{}
	var unreachable []error
	for _, n := range nodes {
		if len(r.shards) == 0 || r.numbers[len(r.shards)-1] != n.Shard {
			r.shards, r.numbers = append(r.shards, nil), append(r.numbers, n.Shard)
			for range n.Weight {
				r.slots = append(r.slots, len(r.shards)-1)
			}
		}
		conn, err := s.Dial(ctx, n.Addr(), migrations.LocalDatabase(main))
		if err != nil {
			unreachable = append(unreachable, fmt.Errorf("%s: %w", n, err))
			continue
		}
		last := len(r.shards) - 1
		r.shards[last] = append(r.shards[last], replica{node: n, conn: conn})
	}
	for i, sh := range r.shards {
		if len(sh) == 0 {
			r.close()
			return fmt.Errorf("clickhouse cluster %s: no server of shard %d can be reached: %w", cluster, r.numbers[i], errors.Join(unreachable...))
		}
	}
	if len(r.slots) == 0 {
		r.close()
		return fmt.Errorf("clickhouse cluster %s: every shard has weight 0", cluster)
	}
	s.router = r
	return nil
}

// shardRouter sends each inserted row to its shard's local table: to the
// shard's first replica, or when it fails to the next (a replicated
// cluster copies the rows to the others).
type shardRouter struct {
	shards  [][]replica // each shard's reachable replicas, in the cluster's order
	numbers []int       // the shard number of each
	slots   []int       // the Distributed engine's slots: shard i appears its weight times, in shard order
}

// replica is one server of a shard, connected to its local database.
type replica struct {
	node migrations.Node
	conn driver.Conn
}

func (r *shardRouter) close() {
	for _, sh := range r.shards {
		for _, rep := range sh {
			rep.conn.Close()
		}
	}
}

var insertInto = regexp.MustCompile(`^INSERT INTO ([A-Za-z_][A-Za-z0-9_]*) \(([^)]*)\)$`)

// send splits the columns by the shard of each row and inserts each part
// into its shard, one shard after the other.
func (r *shardRouter) send(ctx context.Context, insert string, cols []any) error {
	table, idx, key, err := shardColumn(insert)
	if err != nil {
		return err
	}
	rows, err := r.shardOf(cols[idx], key)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", table, key.Column, err)
	}
	byShard := make([][]int, len(r.shards))
	for i, sh := range rows {
		byShard[sh] = append(byShard[sh], i)
	}
	for sh, picked := range byShard {
		if len(picked) == 0 {
			continue
		}
		part := cols
		if len(picked) < len(rows) {
			part = make([]any, len(cols))
			for i, c := range cols {
				part[i] = pick(c, picked)
			}
		}
		var errs []error
		for _, rep := range r.shards[sh] {
			err := sendTo(ctx, rep.conn, insert, part...)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, fmt.Errorf("%s: %w", rep.node, err))
			if ctx.Err() != nil {
				break
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// shardColumn finds, in an insert's column list, the column its table is
// sharded by.
func shardColumn(insert string) (table string, idx int, key migrations.ShardKey, err error) {
	g := insertInto.FindStringSubmatch(insert)
	if g == nil {
		return "", 0, key, fmt.Errorf("route %q: not an INSERT INTO table (columns)", insert)
	}
	table = g[1]
	key, ok := migrations.ShardKeyOf(table)
	if !ok || key.Column == "" {
		return table, 0, key, fmt.Errorf("route an insert into %s: the table has no sharding key (views fill it on each shard)", table)
	}
	var names []string
	for _, c := range strings.Split(g[2], ",") {
		names = append(names, strings.TrimSpace(c))
	}
	if idx = slices.Index(names, key.Column); idx < 0 {
		return table, 0, key, fmt.Errorf("route an insert into %s: it has no %s, the sharding key", table, key.Column)
	}
	return table, idx, key, nil
}

// shardOf returns the shard of each row, given the key column.
func (r *shardRouter) shardOf(col any, key migrations.ShardKey) ([]int, error) {
	n := uint64(len(r.slots))
	switch c := col.(type) {
	case []string:
		if !key.Hash {
			return nil, errors.New("a String key must be hashed")
		}
		out := make([]int, len(c))
		for i, v := range c {
			out[i] = r.slots[cityHash64(v)%n]
		}
		return out, nil
	case []uint64:
		if key.Hash {
			return nil, errors.New("a UInt64 key is sharded by its value, not hashed")
		}
		out := make([]int, len(c))
		for i, v := range c {
			out[i] = r.slots[v%n]
		}
		return out, nil
	}
	return nil, fmt.Errorf("a key column of %T: want []string or []uint64", col)
}

// cityHash64 is ClickHouse's cityHash64 of a String (CityHash v1.0.2).
func cityHash64(s string) uint64 { return city.CH64([]byte(s)) }

// pick returns the rows idx of a column, in that order.
func pick(col any, idx []int) any {
	switch c := col.(type) {
	case []string:
		return pickRows(c, idx)
	case []uint64:
		return pickRows(c, idx)
	case []uint32:
		return pickRows(c, idx)
	case []time.Time:
		return pickRows(c, idx)
	}
	v := reflect.ValueOf(col)
	out := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	for j, i := range idx {
		out.Index(j).Set(v.Index(i))
	}
	return out.Interface()
}

func pickRows[T any](c []T, idx []int) []T {
	out := make([]T, len(idx))
	for j, i := range idx {
		out[j] = c[i]
	}
	return out
}
