package migrations

// # A ClickHouse cluster
//
// `keel migrate --clickhouse-cluster NAME` makes Keel's schema on every
// server of a cluster the servers declare in <remote_servers>, with
// Distributed tables in front, so that every query Keel runs works on the
// cluster unchanged. The cluster is read from system.clusters of the
// server keel migrate connects to. Two kinds:
//
//   - Without ZooKeeper (or ClickHouse Keeper) in the servers' config, each
//     shard must be one server, and its tables are plain MergeTrees:
//     replication is not Keel's, and a lost shard loses its tenants' rows.
//   - With ZooKeeper configured (its system.zookeeper table is there), the
//     tables are Replicated*MergeTrees and a shard may have several
//     replicas (below, "Replicas").
//
// On each node, for the database D the URL names:
//
//   - D_local holds the tables, made by the very migrations a single server
//     gets (ApplyClickHouse, version and zone bookkeeping included): the
//     events, their materialized views and rollups, facts, revenue, health.
//     A view fills the rollups of its node from the events inserted there.
//   - D holds a Distributed table in front of each of them, with the same
//     name and columns, over the cluster's D_local tables, so a query of D
//     reads every shard, and D's own schema_migrations and schema_timezone.
//
// Rows are spread by the key of their table (shardKeys below): a tenant's
// events, rejected messages and links by cityHash64 of the tenant, a
// customer's facts, revenue and health scores by the customer id. Each
// table's ReplacingMergeTree identity starts with its key, so the copies of
// a row always meet on one shard, where merges fold them and FINAL reads
// one of them; the events loader's exactly-once checks read through the
// Distributed tables, so they see every shard. The rollups are filled on
// each shard by its own views and hold sets, so a day across tenants is the
// union of the shards' sets (uniqExactMerge over the Distributed table), as
// exact as on one server; nothing inserts into them through their front,
// which has no key for that reason.
//
// The same SQL is right through Distributed tables because of two things.
// A query of a Distributed table that filters by a subquery of another
// (revenue's latest versions, health's latest runs, a customer's tenants)
// says GLOBAL IN, so the subquery runs once, across the shards, on the
// node asked, not on each shard against its own part (which ClickHouse
// refuses by default); on one server GLOBAL IN is a plain IN. And the
// warehouse Store sets insert_distributed_sync = 1 on its connection, so
// an insert through a Distributed table returns only once every shard has
// its rows, which the loaders' check of what is stored, before they commit
// offsets, relies on. (distributed_product_mode = global would do the
// first without GLOBAL, but clickhouse-go cannot send a string setting to
// 18.16.)
//
// The steps run across all nodes before the next begins, so that D's
// schema_migrations says a version only when every node has its tables and
// every front: (0) create D and D_local, refuse a D that holds a
// single-node schema, and when the zone changes clear D's recorded zone on
// every node, so services refuse days while the rollups are made again;
// (1) migrate D_local; (2) make the fronts, again when a table's columns
// changed (an ALTER added a column: 0008's events.key_id), and drop those
// of tables a migration dropped (0007's hourly rollups); (3) record in D
// the versions and zone of D_local.

// # Replicas
//
// With ZooKeeper, each shard has a source: the replica whose schema is the
// furthest along — on a new cluster the first in system.clusters' order —
// so that a new, empty server listed first never becomes the model of the
// others. The source runs the migrations as a single server does, each
// CREATE TABLE's engine made its Replicated twin: ReplacingMergeTree(v)
// becomes ReplicatedReplacingMergeTree(
// '/clickhouse/keel/D_local/TABLE/shardN-G', 'HOST:PORT', v), where
// HOST:PORT is the replica as the cluster lists it and G is new for each
// run of keel migrate. Every other replica of the shard then becomes a
// copy of the source: it makes (or makes again, when its definition is not
// the source's) each table and view from the source's own CREATE, with its
// own replica name, waits until it has fetched the shard's rows, and
// records the same versions and zone. So the data statements of a
// migration (0010's rebuild from events) and its ALTERs run once a shard
// and reach the other replicas by replication, and a table the source made
// again (a change of zone) gets a new path, G, which the other replicas
// join once they drop their old copy — never mixing the old rows with the
// new. (ON CLUSTER would queue each DDL statement in ZooKeeper for every
// node to run on its own, and answer after a timeout with what the nodes
// did; the data statements cannot go that way and run once a shard
// anyway. Node by node, each node's versions are recorded and a failure
// names its node.)
//
// Rows reach one replica of a shard (internal_replication in the servers'
// <remote_servers>, which a replicated cluster needs) and the others fetch
// them; materialized views run on the replica an insert reached, and their
// rollups replicate like any table.

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ShardKey says how a table's rows are spread over the shards of a
// cluster: by cityHash64 of a String column, or by the value of a UInt64
// column. The zero key is a table filled by materialized views on each
// shard, which nothing inserts into through its Distributed table.
type ShardKey struct {
	Column string
	Hash   bool // cityHash64(Column); otherwise Column itself
}

// Expr is the sharding expression of the table's Distributed engine; ""
// for none.
func (k ShardKey) Expr() string {
	switch {
	case k.Column == "":
		return ""
	case k.Hash:
		return "cityHash64(" + k.Column + ")"
	}
	return k.Column
}

// shardKeys holds every table the migrations leave (a test checks it, and
// that each keyed table's ORDER BY holds its key, so that the copies of a
// row, which ReplacingMergeTree folds, are always on one shard).
var shardKeys = map[string]ShardKey{
	// A tenant's events are one shard's: its rollups (filled by that
	// shard's views), its dedup and its per-tenant reads stay there.
	"events":          {Column: "tenant_id", Hash: true},
	"rejected_events": {Column: "tenant_id", Hash: true},
	"tenant_links":    {Column: "tenant", Hash: true},
	"facts":           {Column: "customer_id"},
	// A customer's computation is one block (0004_revenue.sql): keyed by
	// customer, it stays one block on one shard, so it stays atomic.
	"revenue": {Column: "customer_id"},
	// A month's spend folds by (currency, month): one currency, one shard.
	"revenue_spend": {Column: "currency", Hash: true},
	// Filled by each shard's views from its own events: sets, whose union
	// across shards is the day's (uniqExactMerge over the front).
	"activity_daily":        {},
	"activity_totals_daily": {},
	// A customer's days of scores on one shard, a run's rows inserted twice
	// folding there; a day's run spans shards, but its marker is written
	// once every shard has its rows (synchronous inserts), and queries read
	// only runs with a marker.
	"health_scores": {Column: "customer_id"},
	// The same scores by customer (0009), filled on each shard by its view
	// from the scores inserted there: nothing inserts through its front.
	"health_by_customer": {},
	// A run's marker repeated folds by its version.
	"health_runs": {Column: "version"},
}

// ShardKeyOf returns how a table of the schema is sharded, and false for a
// name that is not one of its tables.
func ShardKeyOf(table string) (ShardKey, bool) {
	k, ok := shardKeys[table]
	return k, ok
}

var (
	createdTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)`)
	droppedTable = regexp.MustCompile(`(?is)^\s*DROP\s+TABLE\s+IF\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s*$`)
)

// Tables returns the tables (not views) the ClickHouse migrations leave,
// in the order they are made: every table a CREATE TABLE makes, except
// those a later migration drops (0007 dropped the hourly rollups).
func Tables() []string {
	live, _ := tables()
	return live
}

// DroppedTables returns the tables a migration made and a later one
// dropped: a cluster made before the drop still has their fronts, which
// keel migrate --clickhouse-cluster drops.
func DroppedTables() []string {
	_, dropped := tables()
	return dropped
}

// tables reads the migrations in order: a table is live from its CREATE
// TABLE on, dropped from a DROP TABLE of it on (and live again if made
// again). A DROP of a view (its name never created as a table) is not a
// table's.
func tables() (live, dropped []string) {
	for _, m := range ClickHouse() {
		for _, s := range m.Statements() {
			if g := createdTable.FindStringSubmatch(s); g != nil {
				dropped = slices.DeleteFunc(dropped, func(t string) bool { return t == g[1] })
				if !slices.Contains(live, g[1]) {
					live = append(live, g[1])
				}
			}
			if g := droppedTable.FindStringSubmatch(s); g != nil && slices.Contains(live, g[1]) {
				live = slices.DeleteFunc(live, func(t string) bool { return t == g[1] })
				dropped = append(dropped, g[1])
			}
		}
	}
	return live, dropped
}

// LocalDatabase is the database of a cluster node that holds the tables
// behind the Distributed tables of database.
func LocalDatabase(database string) string { return database + "_local" }

// identifier is what a cluster or database name may be here, so that it
// can be written into DDL as it is.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Node is one server of a cluster, as system.clusters lists it.
type Node struct {
	Shard   int
	Replica int // 1 for a shard's first server
	Weight  int // the shard's weight: its share of the rows
	Host    string
	Port    int // native protocol
}

// Addr is the node's native-protocol address.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

func (n Node) String() string {
	if n.Replica > 1 {
		return fmt.Sprintf("node %s (shard %d, replica %d)", n.Addr(), n.Shard, n.Replica)
	}
	return fmt.Sprintf("node %s (shard %d)", n.Addr(), n.Shard)
}

func clusterQuery(cluster string) string {
	return "SELECT shard_num, shard_weight, replica_num, host_name, port FROM system.clusters WHERE cluster = " + quote(cluster) + " ORDER BY shard_num, replica_num"
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ClusterNodes returns the servers of cluster as the server conn is
// connected to declares them, shard by shard and in each shard replica by
// replica. It is an error when the cluster is not declared there.
func ClusterNodes(ctx context.Context, conn driver.Conn, cluster string) ([]Node, error) {
	if !identifier.MatchString(cluster) {
		return nil, fmt.Errorf("clickhouse cluster %q: want letters, digits and _", cluster)
	}
	rows, err := conn.Query(ctx, clusterQuery(cluster))
	if err != nil {
		return nil, fmt.Errorf("read clickhouse cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var nodes []Node
	for rows.Next() {
		var shard, weight, replica uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &weight, &replica, &host, &port); err != nil {
			return nil, fmt.Errorf("read clickhouse cluster %s: %w", cluster, err)
		}
		nodes = append(nodes, Node{Shard: int(shard), Replica: int(replica), Weight: int(weight), Host: host, Port: int(port)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read clickhouse cluster %s: %w", cluster, err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("clickhouse cluster %s is not in system.clusters of the server keel connects to: declare it in its <remote_servers>", cluster)
	}
	return nodes, nil
}

// Dial opens a connection to the database of the server at addr (host:port,
// native protocol), with the credentials and settings Keel's own connection
// has; database "" is the server's default.
type Dial func(ctx context.Context, addr, database string) (driver.Conn, error)

// NodeMigrations is what ApplyClickHouseCluster applied on one node.
type NodeMigrations struct {
	Node    Node
	Applied []Migration
}

// clusterNode is a node being migrated: its connections to D and D_local.
type clusterNode struct {
	Node
	main, local driver.Conn
}

// ApplyClickHouseCluster brings the schema of every node of cluster up to
// date, as the comment at the top of this file describes: conn is
// connected to the database D of one node, which lists the cluster; dial
// reaches the others. It returns what each node applied (also with an
// error, what was applied before it). Running it again changes nothing.
func ApplyClickHouseCluster(ctx context.Context, conn driver.Conn, dial Dial, cluster, zone string) ([]NodeMigrations, error) {
	if err := CheckZone(zone); err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: %w", err)
	}
	var main string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&main); err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: %w", err)
	}
	if !identifier.MatchString(main) {
		return nil, fmt.Errorf("migrate clickhouse cluster: database %q: want letters, digits and _", main)
	}
	local := LocalDatabase(main)
	nodes, err := ClusterNodes(ctx, conn, cluster)
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: %w", err)
	}
	var open []*clusterNode
	defer func() {
		for _, n := range open {
			n.main.Close()
			n.local.Close()
		}
	}()
	for _, nd := range nodes {
		n, err := openNode(ctx, dial, nd, main, local)
		if err != nil {
			return nil, err
		}
		open = append(open, n)
	}
	for _, n := range open {
		if err := n.prepare(ctx, main, local, zone); err != nil {
			return nil, err
		}
	}
	replicated, err := hasZooKeeper(ctx, open)
	if err != nil {
		return nil, err
	}
	order := open
	if replicated {
		if order, err = sourcesFirst(ctx, open); err != nil {
			return nil, err
		}
	}
	var out []NodeMigrations
	gen := strconv.FormatInt(time.Now().UnixMilli(), 36) // this run's, in new tables' paths
	var first *clusterNode                               // with replicas: the shard's source
	for _, n := range order {
		var applied []Migration
		switch {
		case !replicated:
			applied, err = ApplyClickHouse(ctx, n.local, zone)
		case first == nil || first.Shard != n.Shard:
			first = n
			applied, err = applyClickHouse(ctx, n.local, zone, replicatedEngine(local, n.Node, gen))
			if err == nil {
				err = n.checkReplicated(ctx, local)
			}
		default:
			applied, err = n.copyReplica(ctx, first, local)
		}
		if len(applied) > 0 {
			out = append(out, NodeMigrations{Node: n.Node, Applied: applied})
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", n, err)
		}
	}
	for _, n := range open {
		for _, table := range DroppedTables() {
			if err := n.dropFront(ctx, main, table); err != nil {
				return out, err
			}
		}
		for _, table := range Tables() {
			if err := n.front(ctx, main, local, cluster, table); err != nil {
				return out, err
			}
		}
	}
	for _, n := range open {
		if err := n.record(ctx, zone); err != nil {
			return out, err
		}
	}
	return out, nil
}

// openNode creates D and D_local on the node and connects to both.
func openNode(ctx context.Context, dial Dial, nd Node, main, local string) (*clusterNode, error) {
	c, err := dial(ctx, nd.Addr(), "")
	if err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: connect to %s: %w", nd, err)
	}
	for _, db := range []string{main, local} {
		if err := c.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
			c.Close()
			return nil, fmt.Errorf("migrate clickhouse cluster: %s: create database %s: %w", nd, db, err)
		}
	}
	c.Close()
	n := &clusterNode{Node: nd}
	if n.main, err = dial(ctx, nd.Addr(), main); err != nil {
		return nil, fmt.Errorf("migrate clickhouse cluster: connect to %s: %w", nd, err)
	}
	if n.local, err = dial(ctx, nd.Addr(), local); err != nil {
		n.main.Close()
		return nil, fmt.Errorf("migrate clickhouse cluster: connect to %s: %w", nd, err)
	}
	return n, nil
}

func enginesQuery(database string) string {
	return "SELECT name, engine FROM system.tables WHERE database = " + quote(database)
}

// prepare refuses a D that holds Keel's tables themselves (a single-node
// schema: its data would hide behind nothing), makes D's bookkeeping
// tables, and clears D's zone when it is not zone, so that no service
// reads days until every node's rollups are cut in zone again.
func (n *clusterNode) prepare(ctx context.Context, main, local, zone string) error {
	rows, err := n.main.Query(ctx, enginesQuery(main))
	if err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
		}
		if _, ok := shardKeys[name]; ok && engine != "Distributed" {
			return fmt.Errorf("migrate clickhouse cluster: %s: database %s holds a single-node schema (%s is a %s, not a Distributed table); a cluster keeps its tables in %s behind Distributed ones: migrate into a fresh database and load it again from Kafka", n, main, name, engine, local)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
	}
	for _, ddl := range []string{chVersionTable, chZoneTable} {
		if err := n.main.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("migrate clickhouse cluster: %s: bookkeeping tables: %w", n, err)
		}
	}
	recorded, err := ClickHouseZone(ctx, n.main)
	if err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	if recorded != "" && recorded != zone {
		if err := recordZone(ctx, n.main, ""); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func columnsQuery(database, table string) string {
	return "SELECT name, type FROM system.columns WHERE database = " + quote(database) + " AND table = " + quote(table)
}

// frontDDL is the Distributed table in front of table.
func frontDDL(main, cluster, table string) string {
	local := LocalDatabase(main)
	args := cluster + ", " + local + ", " + table
	if k := shardKeys[table].Expr(); k != "" {
		args += ", " + k
	}
	return "CREATE TABLE IF NOT EXISTS " + main + "." + table + " AS " + local + "." + table + " ENGINE = Distributed(" + args + ")"
}

// front makes the Distributed table in front of table, or makes it again
// when its columns are no longer the local table's (a migration altered
// it). A front holds no rows of its own: the loaders insert through it
// synchronously, so dropping it loses nothing.
func (n *clusterNode) front(ctx context.Context, main, local, cluster, table string) error {
	want, err := columns(ctx, n.main, local, table)
	if err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
	}
	have, err := columns(ctx, n.main, main, table)
	if err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
	}
	if len(have) > 0 && !slices.Equal(have, want) {
		if err := n.main.Exec(ctx, "DROP TABLE IF EXISTS "+main+"."+table); err != nil {
			return fmt.Errorf("migrate clickhouse cluster: %s: drop the old front of %s: %w", n, table, err)
		}
	}
	if err := n.main.Exec(ctx, frontDDL(main, cluster, table)); err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: Distributed table %s: %w", n, table, err)
	}
	return nil
}

func engineQuery(database, table string) string {
	return "SELECT any(engine) FROM system.tables WHERE database = " + quote(database) + " AND name = " + quote(table)
}

// dropFront drops the front of a table a migration dropped from D_local:
// left, it would name a table no shard has, and fail every query of it. Only
// a Distributed table is dropped, never a table of rows.
func (n *clusterNode) dropFront(ctx context.Context, main, table string) error {
	var engine string
	if err := n.main.QueryRow(ctx, engineQuery(main, table)).Scan(&engine); err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: the front of %s: %w", n, table, err)
	}
	if engine != "Distributed" {
		return nil
	}
	if err := n.main.Exec(ctx, "DROP TABLE IF EXISTS "+main+"."+table); err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: drop the front of %s, which a migration dropped: %w", n, table, err)
	}
	return nil
}

// columns lists a table's columns as "name type", in order.
func columns(ctx context.Context, conn driver.Conn, database, table string) ([]string, error) {
	rows, err := conn.Query(ctx, columnsQuery(database, table))
	if err != nil {
		return nil, fmt.Errorf("columns of %s.%s: %w", database, table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("columns of %s.%s: %w", database, table, err)
		}
		out = append(out, name+" "+typ)
	}
	return out, rows.Err()
}

// record copies D_local's versions and zone to D, once every node has its
// tables and fronts: what services check when they start.
func (n *clusterNode) record(ctx context.Context, zone string) error {
	if _, err := copyBookkeeping(ctx, n.local, n.main, zone); err != nil {
		return fmt.Errorf("migrate clickhouse cluster: %s: %w", n, err)
	}
	return nil
}

// copyBookkeeping records in to the versions from has and to lacks, and
// zone when to records another: what a database's schema_migrations and
// schema_timezone say once its tables are from's. It returns the versions
// it recorded.
func copyBookkeeping(ctx context.Context, from, to driver.Conn, zone string) ([]Migration, error) {
	fromHave, err := clickhouseVersion(ctx, from)
	if err != nil {
		return nil, err
	}
	toHave, err := clickhouseVersion(ctx, to)
	if err != nil {
		return nil, err
	}
	var recorded []Migration
	for _, m := range ClickHouse() {
		if m.Version <= toHave || m.Version > fromHave {
			continue
		}
		if err := recordVersion(ctx, to, m); err != nil {
			return recorded, err
		}
		recorded = append(recorded, m)
	}
	have, err := ClickHouseZone(ctx, to)
	if err != nil {
		return recorded, err
	}
	if have != zone {
		if err := recordZone(ctx, to, zone); err != nil {
			return recorded, err
		}
	}
	return recorded, nil
}

// ClusterStatements returns the statements ApplyClickHouseCluster runs
// itself, for a sample cluster and database, so they can be checked on
// other ClickHouse releases too (the migrations and the bookkeeping tables
// are the single-server ones). The fronts need the local tables: a check
// makes them first.
func ClusterStatements(cluster, main string) []string {
	local := LocalDatabase(main)
	out := []string{
		clusterQuery(cluster),
		"SELECT currentDatabase()",
		"CREATE DATABASE IF NOT EXISTS " + main,
		"CREATE DATABASE IF NOT EXISTS " + local,
		enginesQuery(main),
	}
	for _, t := range DroppedTables() {
		out = append(out, engineQuery(main, t), "DROP TABLE IF EXISTS "+main+"."+t)
	}
	for _, t := range Tables() {
		out = append(out, columnsQuery(local, t), frontDDL(main, cluster, t))
	}
	// A replicated cluster's own queries that need no ZooKeeper (its
	// Replicated engines and system.zookeeper do: the replicated cluster
	// test runs them on 18.16).
	out = append(out, zooKeeperQuery, enginesQuery(local), showCreate(local, "events"), replicaPathQuery(local, "events"), queueQuery(local, "events"))
	return out
}
