package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

type collectFlags struct {
	common
	addr string
	rate float64
}

func (f *collectFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("collect", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envCollect, defaultCollect), "listen address ($"+envCollect+")")
	fs.Float64Var(&f.rate, "rate", 50000, "default events/s allowed per ingest key")
	return fs.Parse(args)
}

func runCollect(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f collectFlags
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	log := f.logger(stderr)
	// The collector keeps little alive (a batch until Kafka acks it), so it
	// can trade some memory for less garbage collection. Only for a
	// collector of its own, not inside keel dev.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	run, err := f.service(ctx, log)
	if err != nil {
		return err
	}
	return run(ctx)
}

// service opens what the collector needs and returns the function that
// serves it until ctx ends. It refuses to start on a schema that is behind
// or a topic that does not exist.
func (f *collectFlags) service(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
	db, err := openPostgres(ctx, log, f.pg, true)
	if err != nil {
		return nil, err
	}
	brokers := f.brokerList()
	if err := retryStart(ctx, log, "kafka", func(ctx context.Context) error { return collector.TopicReady(ctx, brokers, f.topic) }); err != nil {
		db.Close()
		return nil, err
	}
	pub, err := collector.NewKafkaPublisher(collector.KafkaConfig{Brokers: brokers, Topic: f.topic})
	if err != nil {
		db.Close()
		return nil, err
	}
	keys := collector.NewKeys(db, log)
	c, err := collector.New(collector.Config{
		Rules: ingest.Rules{MaxAhead: ingest.DefaultMaxAhead, MaxAge: f.lateWindow},
		Rate:  f.rate,
	}, keys, pub, log)
	if err != nil {
		db.Close()
		pub.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer db.Close()
		defer pub.Close()
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { keys.Run(ctx, 5*time.Second); return nil })
		g.Go(func() error {
			log.Info("collector listening", "addr", f.addr, "topic", f.topic)
			return serveHTTP(ctx, f.addr, withPprof(f.pprof, c.Handler()), log)
		})
		if err := g.Wait(); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		return nil
	}, nil
}
