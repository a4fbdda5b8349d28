package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
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
	fs.Int64Var(&f.memoryLimit, "memory-limit", 192<<20, "soft memory limit in bytes for the Go heap of a standalone loader (GOMEMLIMIT overrides it)")
	return fs.Parse(args)
}

func runLoad(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f loadFlags
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	log := f.logger(stderr)
	// The loader's live memory is bounded (see the warehouse package doc);
	// a soft limit keeps garbage from doubling it. Only for a loader of its
	// own: inside keel dev the limit would cover the in-process broker too.
	if os.Getenv("GOMEMLIMIT") == "" && f.memoryLimit > 0 {
		debug.SetMemoryLimit(f.memoryLimit)
	}
	run, err := f.service(ctx, log)
	if err != nil {
		return err
	}
	return run(ctx)
}

// service opens ClickHouse, checks its schema and the topic, and returns the
// function that loads until ctx ends.
func (f *loadFlags) service(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
	store, err := openClickHouse(ctx, log, f.clickhouse, true)
	if err != nil {
		return nil, err
	}
	brokers := f.brokerList()
	if err := retryStart(ctx, log, "kafka", func(ctx context.Context) error { return collector.TopicReady(ctx, brokers, f.topic) }); err != nil {
		store.Close()
		return nil, err
	}
	l, err := warehouse.NewLoader(warehouse.LoaderConfig{
		Brokers:       brokers,
		Topic:         f.topic,
		Group:         f.group,
		BatchRows:     f.batchRows,
		FlushInterval: f.flush,
		DedupWindow:   f.dedupWindow,
		Rules:         ingest.Rules{MaxAhead: ingest.DefaultMaxAhead, MaxAge: f.lateWindow},
	}, store, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	// The facts loader runs beside the events loader, on the same
	// ClickHouse, and waits for its topic itself: a missing keel.facts must
	// not hold up the events.
	factsMetrics := prometheus.NewRegistry()
	facts, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{
		Brokers:       brokers,
		Topic:         cmp.Or(f.factsTopic, defaultFactsTopic),
		Group:         cmp.Or(f.factsGroup, defaultFactsGroup),
		FlushInterval: f.flush,
		Registerer:    factsMetrics,
	}, store, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer store.Close()
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			log.Info("loader running", "topic", f.topic, "group", f.group)
			return l.Run(ctx)
		})
		g.Go(func() error {
			log.Info("facts loader running", "topic", cmp.Or(f.factsTopic, defaultFactsTopic), "group", cmp.Or(f.factsGroup, defaultFactsGroup))
			return facts.Run(ctx)
		})
		if f.addr != "" {
			h := l.Handler(factsMetrics)
			g.Go(func() error { return serveHTTP(ctx, f.addr, withPprof(f.pprof, h), log) })
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("loader: %w", err)
		}
		return nil
	}, nil
}
