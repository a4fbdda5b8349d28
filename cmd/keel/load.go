package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/warehouse"
)

type loadFlags struct {
	common
	addr        string
	group       string
	batchRows   int
	flush       time.Duration
	dedupWindow int
	memoryLimit int64
	factsTopic  string
	factsGroup  string
	tz          string
	cluster     string
	insert      string
	// extraMetrics are served on the loader's /metrics beside its own
	// (keel dev: the console's scoring and digest metrics).
	extraMetrics []prometheus.Gatherer
}

func (f *loadFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("load", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envLoadAddr, defaultLoadAddr), "address of /metrics, /healthz, /readyz ($"+envLoadAddr+"); empty for none")
	fs.StringVar(&f.group, "group", env.Get("KEEL_LOAD_GROUP", "keel-loader"), "Kafka consumer group ($KEEL_LOAD_GROUP)")
	fs.IntVar(&f.batchRows, "batch-rows", 25000, "insert after this many rows")
	fs.DurationVar(&f.flush, "flush", 200*time.Millisecond, "or this long after the first row")
	fs.IntVar(&f.dedupWindow, "dedup-window", 100000, "event ids remembered per partition to drop resent events (at least half that many, at most all)")
	fs.StringVar(&f.factsTopic, "facts-topic", env.Get(envFactsTopic, defaultFactsTopic), "Kafka topic of Postgres facts, loaded beside the events ($"+envFactsTopic+")")
	fs.StringVar(&f.factsGroup, "facts-group", env.Get(envFactsGroup, defaultFactsGroup), "Kafka consumer group of the facts loader ($"+envFactsGroup+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone, in which revenue cuts a void's day ($"+envTimezone+")")
	fs.StringVar(&f.cluster, "clickhouse-cluster", env.Get(envClickHouseCluster, ""), "ClickHouse cluster keel migrate --clickhouse-cluster made the schema on; empty for one server ($"+envClickHouseCluster+")")
	fs.StringVar(&f.insert, "clickhouse-insert", env.Get(envClickHouseInsert, string(warehouse.InsertDistributed)), "on a cluster, where rows go: distributed (through the Distributed tables) or local (straight to each row's shard, by the same key) ($"+envClickHouseInsert+")")
	fs.Int64Var(&f.memoryLimit, "memory-limit", 192<<20, "soft memory limit in bytes for the Go heap of a standalone loader (GOMEMLIMIT overrides it)")
	return fs.Parse(args)
}

func runLoad(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	return runService(ctx, args, env, stderr, &loadFlags{})
}

// standalone tunes the Go runtime of a loader process of its own. The
// loader's live memory is bounded (see the warehouse package doc); a soft
// limit keeps garbage from doubling it. Not inside keel dev, where the
// limit would cover the in-process broker too.
func (f *loadFlags) standalone() {
	if os.Getenv("GOMEMLIMIT") == "" && f.memoryLimit > 0 {
		debug.SetMemoryLimit(f.memoryLimit)
	}
}

// build opens ClickHouse, checks its schema, waits for the topic, and adds
// the events loader, the facts loader beside it and their metrics server.
func (f *loadFlags) build(ctx context.Context, s *service) error {
	cal, err := keel.LoadCalendar("--tz", cmp.Or(f.tz, "UTC"))
	if err != nil {
		return cliError("load", err)
	}
	// keel dev builds these flags without parsing them: unset is the default.
	insert := cmp.Or(warehouse.InsertMode(f.insert), warehouse.InsertDistributed)
	if err := keel.OneOf("--clickhouse-insert", insert, warehouse.InsertModes); err != nil {
		return cliError("load", err)
	}
	if f.cluster == "" && insert != warehouse.InsertDistributed {
		return fmt.Errorf("load: --clickhouse-insert %s needs --clickhouse-cluster", insert)
	}
	store, err := s.clickhouse(ctx, f.clickhouse)
	if err != nil {
		return err
	}
	if f.cluster != "" {
		if err := store.UseCluster(ctx, f.cluster, insert); err != nil {
			return cliError("load", err)
		}
	}
	// The loader reads no day of activity (the views cut them), but a
	// --tz other than the rollups' would cut revenue's days in another
	// zone than the activity pages show.
	if err := store.CheckZone(ctx, cal.Location()); err != nil {
		s.log.Warn("--tz differs from the daily rollups' timezone", "err", err)
	}
	brokers := f.brokerList()
	if err := s.topic(ctx, brokers, f.topic); err != nil {
		return err
	}
	l, err := warehouse.NewLoader(warehouse.LoaderConfig{
		Brokers:       brokers,
		Topic:         f.topic,
		Group:         f.group,
		BatchRows:     f.batchRows,
		FlushInterval: f.flush,
		DedupWindow:   f.dedupWindow,
		Rules:         ingest.Rules{MaxAhead: ingest.DefaultMaxAhead, MaxAge: f.lateWindow},
	}, store, s.log)
	if err != nil {
		return err
	}
	// The facts loader runs beside the events loader, on the same
	// ClickHouse, and waits for its topic itself: a missing keel.facts must
	// not hold up the events.
	factsTopic, factsGroup := cmp.Or(f.factsTopic, defaultFactsTopic), cmp.Or(f.factsGroup, defaultFactsGroup)
	factsMetrics := prometheus.NewRegistry()
	facts, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{
		Brokers:       brokers,
		Topic:         factsTopic,
		Group:         factsGroup,
		FlushInterval: f.flush,
		Registerer:    factsMetrics,
		Location:      cal.Location(),
	}, store, s.log)
	if err != nil {
		return err
	}
	s.add("loader", func(ctx context.Context) error {
		s.log.Info("loader running", "topic", f.topic, "group", f.group)
		return l.Run(ctx)
	})
	s.add("facts loader", func(ctx context.Context) error {
		s.log.Info("facts loader running", "topic", factsTopic, "group", factsGroup)
		return facts.Run(ctx)
	})
	s.serve("loader", f.addr, l.Handler(append([]prometheus.Gatherer{factsMetrics}, f.extraMetrics...)...), f.pprof)
	return nil
}
