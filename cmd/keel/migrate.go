package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

type migrateFlags struct {
	common
	partitions int
	factsTopic string
	tz         string
	cluster    string
}

func runMigrate(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f migrateFlags
	fs := newFlagSet("migrate", stderr)
	f.common.register(fs, env)
	fs.IntVar(&f.partitions, "partitions", 8, "partitions of new Kafka topics (the most loaders that can share the work)")
	fs.StringVar(&f.factsTopic, "facts-topic", env.Get(envFactsTopic, defaultFactsTopic), "Kafka topic of Postgres facts ($"+envFactsTopic+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone the daily rollups are cut in; another than before rebuilds them from events ($"+envTimezone+")")
	fs.StringVar(&f.cluster, "clickhouse-cluster", env.Get(envClickHouseCluster, ""), "ClickHouse cluster (in the servers' <remote_servers>) to make the schema on: its tables on every node, Distributed tables in front; empty for one server ($"+envClickHouseCluster+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return f.migrate(ctx, stdout)
}

// migrate applies every migration and creates the topics. Running it again
// changes nothing.
func (f *migrateFlags) migrate(ctx context.Context, stdout io.Writer) error {
	db, err := postgres.Open(ctx, f.pg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := migrations.ApplyPostgres(ctx, db.Pool())
	republish := false
	for _, m := range applied {
		fmt.Fprintf(stdout, "postgres: applied %04d_%s\n", m.Version, m.Name)
		// Facts made before 0005 lack what revenue needs: send every
		// subscription again (a new installation has none to send).
		republish = republish || m.Version == 5
	}
	if err != nil {
		return err
	}
	if republish {
		n, err := db.RepublishSubscriptions(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(stdout, "postgres: %d subscriptions sent to the warehouse again, for revenue\n", n)
		}
	}
	// A backfill may rebuild a rollup from every event: minutes, not the
	// minute a page's query may take.
	store, err := warehouse.OpenForMigrations(ctx, f.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := f.migrateClickHouse(ctx, store, stdout); err != nil {
		return err
	}
	if err := collector.EnsureTopic(ctx, f.brokerList(), f.topic, f.partitions); err != nil {
		return err
	}
	// Facts go to their own topic, keyed by customer (postgres/outbox.go).
	factsTopic := cmp.Or(f.factsTopic, defaultFactsTopic)
	if err := collector.EnsureTopic(ctx, f.brokerList(), factsTopic, f.partitions); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema up to date (postgres %d, clickhouse %d); kafka topics %s and %s ready\n",
		len(migrations.Postgres()), len(migrations.ClickHouse()), f.topic, factsTopic)
	return nil
}

// migrateClickHouse applies the ClickHouse migrations: to the one server,
// or with --clickhouse-cluster to every node of the cluster
// (migrations/cluster.go).
func (f *migrateFlags) migrateClickHouse(ctx context.Context, store *warehouse.Store, stdout io.Writer) error {
	zone := cmp.Or(f.tz, "UTC")
	if f.cluster == "" {
		applied, err := migrations.ApplyClickHouse(ctx, store.Conn(), zone)
		for _, m := range applied {
			fmt.Fprintf(stdout, "clickhouse: applied %04d_%s\n", m.Version, m.Name)
		}
		return err
	}
	nodes, err := migrations.ApplyClickHouseCluster(ctx, store.Conn(), store.Dial, f.cluster, zone)
	for _, n := range nodes {
		for _, m := range n.Applied {
			fmt.Fprintf(stdout, "clickhouse %s: applied %04d_%s\n", strings.TrimPrefix(n.Node.String(), "node "), m.Version, m.Name)
		}
	}
	return err
}
