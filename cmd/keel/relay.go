package main

import (
	"context"
	"io"
	"time"

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
	return runService(ctx, args, env, stderr, &relayFlags{})
}

// build opens Postgres, checks its schema, and adds the relay and its
// metrics server. Kafka is not waited for here: the relay retries
// publishing until the broker answers, keeping the facts in the outbox.
func (f *relayFlags) build(ctx context.Context, s *service) error {
	db, err := s.postgres(ctx, f.pg)
	if err != nil {
		return err
	}
	r, err := postgres.NewRelay(postgres.RelayConfig{
		Brokers:      f.brokerList(),
		BatchSize:    f.batch,
		PollInterval: f.poll,
	}, db, s.log)
	if err != nil {
		return err
	}
	s.add("relay", func(ctx context.Context) error {
		s.log.Info("relay running")
		return r.Run(ctx)
	})
	s.serve("relay", f.addr, r.Handler(), f.pprof)
	return nil
}
