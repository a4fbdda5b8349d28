package main

import (
	"cmp"
	"context"
	"fmt"
	"io"

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
}

func runMigrate(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f migrateFlags
	fs := newFlagSet("migrate", stderr)
	f.common.register(fs, env)
	fs.IntVar(&f.partitions, "partitions", 8, "partitions of new Kafka topics (the most loaders that can share the work)")
	fs.StringVar(&f.factsTopic, "facts-topic", env.Get(envFactsTopic, defaultFactsTopic), "Kafka topic of Postgres facts ($"+envFactsTopic+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone the daily rollups are cut in; another than before rebuilds them from events ($"+envTimezone+")")
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
	store, err := warehouse.Open(ctx, f.clickhouse)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err = migrations.ApplyClickHouse(ctx, store.Conn(), cmp.Or(f.tz, "UTC"))
	for _, m := range applied {
		fmt.Fprintf(stdout, "clickhouse: applied %04d_%s\n", m.Version, m.Name)
	}
	if err != nil {
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
