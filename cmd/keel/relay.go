package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

// Settings of the outbox relay and of the facts topic.
const (
	envRelayAddr      = "KEEL_RELAY_ADDR"
	envFactsTopic     = "KEEL_FACTS_TOPIC"
	envFactsGroup     = "KEEL_FACTS_GROUP"
	defaultRelayAddr  = ":8083"
	defaultFactsTopic = keel.FactsTopic
	defaultFactsGroup = "keel-facts-loader"
)

type relayFlags struct {
	common
	addr  string
	batch int
	poll  time.Duration
}

func (f *relayFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("relay", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envRelayAddr, defaultRelayAddr), "address of /metrics, /healthz, /readyz ($"+envRelayAddr+"); empty for none")
	fs.IntVar(&f.batch, "batch", 500, "outbox rows published at a time")
	fs.DurationVar(&f.poll, "poll", time.Second, "look for new facts this often even without a notification")
	return fs.Parse(args)
}

// runRelay is `keel relay`: it publishes the Postgres outbox to Kafka. Run
// several for availability: one holds the lock and works, the others wait
// and take over when it dies.
func runRelay(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f relayFlags
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	log := f.logger(stderr)
	run, err := f.service(ctx, log)
	if err != nil {
		return err
	}
	return run(ctx)
}

// service opens Postgres, checks its schema, and returns the function that
// relays until ctx ends. Kafka is not waited for here: the relay retries
// publishing until the broker answers, keeping the facts in the outbox.
func (f *relayFlags) service(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
	db, err := openPostgres(ctx, log, f.pg, true)
	if err != nil {
		return nil, err
	}
	r, err := postgres.NewRelay(postgres.RelayConfig{
		Brokers:      f.brokerList(),
		BatchSize:    f.batch,
		PollInterval: f.poll,
	}, db, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer db.Close()
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			log.Info("relay running")
			return r.Run(ctx)
		})
		if f.addr != "" {
			g.Go(func() error { return serveHTTP(ctx, f.addr, withPprof(f.pprof, r.Handler()), log) })
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		return nil
	}, nil
}
