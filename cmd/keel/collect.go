package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"time"

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
	return runService(ctx, args, env, stderr, &collectFlags{})
}

// standalone tunes the Go runtime of a collector process of its own. The
// collector keeps little alive (a batch until Kafka acks it) but allocates
// per request, so a GC target of 400 % buys CPU for a little memory:
// measured with `keel bench ingest --events 1000000` beside keel dev (1.2
// million events, three runs each, on two shared cores), the collector
// used 1.7–1.9 s of CPU at 400 against 2.3–2.5 s at Go's default of 100,
// for a peak RSS of 63–67 MB against 39–40 MB. The loader gains no CPU
// from it (2.2–2.8 s against 2.4–2.6 s) and grows from 156–166 MB to
// 202–209 MB, past its soft memory limit, so it keeps the default (see
// loadFlags.standalone). Not inside keel dev either, where it would cover
// the in-process broker, the loader and the console too. GOGC, when set,
// decides instead.
func (f *collectFlags) standalone() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// build opens what the collector needs and adds its parts. It refuses to
// start on a schema that is behind, and waits for the topic.
func (f *collectFlags) build(ctx context.Context, s *service) error {
	db, err := s.postgres(ctx, f.pg)
	if err != nil {
		return err
	}
	brokers := f.brokerList()
	if err := s.topic(ctx, brokers, f.topic); err != nil {
		return err
	}
	pub, err := collector.NewKafkaPublisher(collector.KafkaConfig{Brokers: brokers, Topic: f.topic})
	if err != nil {
		return err
	}
	s.onClose(func() { pub.Close() })
	keys := collector.NewKeys(db, s.log)
	c, err := collector.New(collector.Config{
		Rules: ingest.Rules{MaxAhead: ingest.DefaultMaxAhead, MaxAge: f.lateWindow},
		Rate:  f.rate,
	}, keys, pub, s.log)
	if err != nil {
		return err
	}
	s.add("collector", func(ctx context.Context) error { keys.Run(ctx, 5*time.Second); return nil })
	s.serve("collector", f.addr, c.Handler(), f.pprof, "topic", f.topic)
	return nil
}
