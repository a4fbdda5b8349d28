package migrations

// The replicated cluster's part of ApplyClickHouseCluster: see "Replicas"
// in cluster.go.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

const zooKeeperQuery = "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'zookeeper'"

// hasZooKeeper reports whether the nodes replicate through ZooKeeper: a
// server with <zookeeper> in its config has the table system.zookeeper. All
// nodes must agree, and a shard of several replicas needs it.
func hasZooKeeper(ctx context.Context, nodes []*clusterNode) (bool, error) {
	var with, without []string
	for _, n := range nodes {
		var tables uint64
		if err := n.main.QueryRow(ctx, zooKeeperQuery).Scan(&tables); err != nil {
			return false, fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
		}
		if tables > 0 {
			with = append(with, n.String())
		} else {
			without = append(without, n.String())
		}
	}
	switch {
	case len(with) > 0 && len(without) > 0:
		return false, fmt.Errorf("migrate clickhouse cluster: %s have ZooKeeper in their config and %s do not: give every server the same <zookeeper>", strings.Join(with, ", "), strings.Join(without, ", "))
	case len(with) > 0:
		return true, nil
	}
	for _, n := range nodes {
		if n.Replica > 1 {
			return false, fmt.Errorf("migrate clickhouse cluster: shard %d has several replicas, but the servers have no ZooKeeper (or ClickHouse Keeper) in their config: without it Keel makes plain tables on each server, so every shard must be one server", n.Shard)
		}
	}
	return false, nil
}

var mergeTreeEngine = regexp.MustCompile(`ENGINE\s*=\s*([A-Za-z]*)MergeTree\(([^)]*)\)`)

// replicatedEngine runs the statements of the migrations on the source
// replica n of a shard: each CREATE TABLE of Keel's tables gets the
// Replicated twin of its engine, at a path of its own for this run (gen)
// and with n's address as the replica's name, and is waited on until the
// new replica is active (an ALTER right after would otherwise find it
// inactive and refuse to wait for it). Other statements run as written.
func replicatedEngine(local string, n Node, gen string) execFunc {
	return func(ctx context.Context, conn driver.Conn, stmt string) error {
		g := createdTable.FindStringSubmatch(stmt)
		if g == nil {
			return conn.Exec(ctx, stmt)
		}
		if _, ok := shardKeys[g[1]]; !ok {
			return conn.Exec(ctx, stmt)
		}
		path := fmt.Sprintf("/clickhouse/keel/%s/%s/shard%d-%s", local, g[1], n.Shard, gen)
		replicated := mergeTreeEngine.ReplaceAllStringFunc(stmt, func(engine string) string {
			m := mergeTreeEngine.FindStringSubmatch(engine)
			args := quote(path) + ", " + quote(n.Addr())
			if a := strings.TrimSpace(m[2]); a != "" {
				args += ", " + a
			}
			return "ENGINE = Replicated" + m[1] + "MergeTree(" + args + ")"
		})
		if err := conn.Exec(ctx, replicated); err != nil {
			return err
		}
		return waitActive(ctx, conn, local, g[1])
	}
}

func replicaPathQuery(database, table string) string {
	return "SELECT replica_path FROM system.replicas WHERE database = " + quote(database) + " AND table = " + quote(table)
}

func isActiveQuery(replicaPath string) string {
	return "SELECT count() FROM system.zookeeper WHERE path = " + quote(replicaPath) + " AND name = 'is_active'"
}

// waitActive waits until the replicated table is active: its replica's
// is_active node in ZooKeeper, which the server makes once the replica has
// joined its path (and can serve its parts to the others over interserver
// HTTP, which its config must give).
func waitActive(ctx context.Context, conn driver.Conn, database, table string) error {
	var path string
	if err := conn.QueryRow(ctx, replicaPathQuery(database, table)).Scan(&path); err != nil {
		return fmt.Errorf("replica of %s.%s: %w", database, table, err)
	}
	deadline := time.Now().Add(time.Minute)
	return pollUntil(ctx, 50*time.Millisecond, func() (bool, error) {
		var active uint64
		err := conn.QueryRow(ctx, isActiveQuery(path)).Scan(&active)
		if err == nil && active > 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("not active after a minute: is ZooKeeper reachable, and does the server's config give interserver_http_port?")
			}
			return false, fmt.Errorf("replica of %s.%s: %w", database, table, err)
		}
		return false, nil // not yet, or ZooKeeper still answering its session
	})
}

// pollUntil calls check every so often until it says done or fails, or
// ctx ends.
func pollUntil(ctx context.Context, every time.Duration, check func() (bool, error)) error {
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func queueQuery(database, table string) string {
	return "SELECT queue_size FROM system.replicas WHERE database = " + quote(database) + " AND table = " + quote(table)
}

// waitFetched waits until a new replica has fetched the parts it was made
// to copy: its queue, filled from the replica it copies when it was made,
// is empty. (SYSTEM SYNC REPLICA would do the same, but gives up after the
// server's receive_timeout, 5 minutes, which a replica of a big table may
// need more than.) A new table's queue may wait up to 10 s for the
// server's background pool to look at it first.
func waitFetched(ctx context.Context, conn driver.Conn, database, table string) error {
	return pollUntil(ctx, 100*time.Millisecond, func() (bool, error) {
		var queued uint32
		if err := conn.QueryRow(ctx, queueQuery(database, table)).Scan(&queued); err != nil {
			return false, fmt.Errorf("replica of %s.%s: %w", database, table, err)
		}
		return queued == 0, nil
	})
}

// sourcesFirst orders the nodes shard by shard with each shard's source
// first: the replica whose local schema records the highest version, the
// earliest in the cluster's order among equals. It makes every node's
// local bookkeeping tables, which a replica copied keeps for itself.
func sourcesFirst(ctx context.Context, nodes []*clusterNode) ([]*clusterNode, error) {
	version := map[*clusterNode]int{}
	for _, n := range nodes {
		for _, ddl := range []string{chVersionTable, chZoneTable} {
			if err := n.local.Exec(ctx, ddl); err != nil {
				return nil, fmt.Errorf("migrate clickhouse cluster: %s: bookkeeping tables: %w", n, err)
			}
		}
		v, err := clickhouseVersion(ctx, n.local)
		if err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
		}
		version[n] = v
	}
	out := slices.Clone(nodes)
	for start := 0; start < len(out); {
		end := start
		for end < len(out) && out[end].Shard == out[start].Shard {
			end++
		}
		src := start
		for i := start + 1; i < end; i++ {
			if version[out[i]] > version[out[src]] {
				src = i
			}
		}
		n := out[src]
		copy(out[start+1:src+1], out[start:src])
		out[start] = n
		start = end
	}
	return out, nil
}

// checkReplicated refuses a source whose tables are not
// replicated: a cluster migrated before its servers had ZooKeeper keeps
// its plain tables (CREATE TABLE IF NOT EXISTS leaves them), and a replica
// copied from them would share nothing.
func (n *clusterNode) checkReplicated(ctx context.Context, local string) error {
	objs, err := objectsOf(ctx, n.local, local)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if _, ok := shardKeys[o.name]; ok && !strings.HasPrefix(o.engine, "Replicated") {
			return fmt.Errorf("migrate clickhouse cluster: %s.%s is a %s, not replicated: it was made before the servers had ZooKeeper, and a replicated cluster cannot grow under it; migrate into a fresh database and load it again from Kafka", local, o.name, o.engine)
		}
	}
	return nil
}

// object is a table or view of a node's local database, with the
// statement that makes it as the server gives it (SHOW CREATE).
type object struct {
	name, engine, create string
}

func (o object) view() bool { return o.engine == "MaterializedView" || o.engine == "View" }

// rank orders tables (0) before views (1): the order they are made in.
func (o object) rank() int {
	if o.view() {
		return 1
	}
	return 0
}

func showCreate(database, name string) string { return "SHOW CREATE TABLE " + database + "." + name }

// objectsOf returns Keel's tables and views in database (the bookkeeping
// tables aside, which each node keeps for itself), tables first.
func objectsOf(ctx context.Context, conn driver.Conn, database string) ([]object, error) {
	rows, err := conn.Query(ctx, enginesQuery(database))
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: the tables of %s: %w", database, err)
	}
	defer rows.Close()
	var out []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.name, &o.engine); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: the tables of %s: %w", database, err)
		}
		if o.name != "schema_migrations" && o.name != "schema_timezone" {
			out = append(out, o)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: the tables of %s: %w", database, err)
	}
	rows.Close()
	for i, o := range out {
		if err := conn.QueryRow(ctx, showCreate(database, o.name)).Scan(&out[i].create); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: %s of %s: %w", showCreate(database, o.name), database, err)
		}
	}
	slices.SortStableFunc(out, func(a, b object) int { return cmp.Compare(a.rank(), b.rank()) })
	return out, nil
}

// replicaName swaps the replica's name in a Replicated engine's arguments.
var replicaName = regexp.MustCompile(`(Replicated[A-Za-z]*MergeTree\('[^']*', ')[^']*(')`)

// copyReplica makes replica n of a shard a copy of its source src:
// every table and view src's local database has, with n's replica name;
// an object whose definition is not src's (src made it again) is dropped
// and made again, and one src no longer has is dropped, views before the
// tables they fill (every view, when a table goes). A replicated table n
// makes is waited on until it has fetched the shard's rows. Then n
// records src's versions and zone (its bookkeeping tables are
// sourcesFirst's). It returns the migrations n had not recorded.
func (n *clusterNode) copyReplica(ctx context.Context, src *clusterNode, local string) ([]Migration, error) {
	want, err := objectsOf(ctx, src.local, local)
	if err != nil {
		return nil, err
	}
	have, err := objectsOf(ctx, n.local, local)
	if err != nil {
		return nil, err
	}
	mine := "${1}" + strings.ReplaceAll(n.Addr(), "$", "$$") + "${2}"
	wanted := map[string]string{}
	for i, o := range want {
		want[i].create = replicaName.ReplaceAllString(o.create, mine)
		wanted[o.name] = want[i].create
	}
	changed := func(o object) bool { return wanted[o.name] != o.create }
	// A table made again takes every view with it, views first: none is
	// left filling a table about to go.
	views := slices.ContainsFunc(have, func(o object) bool { return !o.view() && changed(o) })
	kept := map[string]bool{}
	drops := slices.Clone(have)
	slices.SortStableFunc(drops, func(a, b object) int { return cmp.Compare(b.rank(), a.rank()) })
	for _, o := range drops {
		if !changed(o) && !(views && o.view()) {
			kept[o.name] = true
			continue
		}
		if err := n.local.Exec(ctx, "DROP TABLE IF EXISTS "+local+"."+o.name); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: drop %s, which is not the source replica's: %w", o.name, err)
		}
	}
	var fetch []string
	for _, o := range want { // tables first
		if kept[o.name] {
			continue
		}
		if err := n.local.Exec(ctx, o.create); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: make %s as the source replica has it: %w", o.name, err)
		}
		if strings.HasPrefix(o.engine, "Replicated") {
			fetch = append(fetch, o.name)
		}
	}
	for _, t := range fetch {
		if err := waitActive(ctx, n.local, local, t); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: %w", err)
		}
		if err := waitFetched(ctx, n.local, local, t); err != nil {
			return nil, fmt.Errorf("migrate clickhouse cluster: %w", err)
		}
	}
	zone, err := ClickHouseZone(ctx, src.local)
	if err != nil {
		return nil, err
	}
	return copyBookkeeping(ctx, src.local, n.local, zone)
}
