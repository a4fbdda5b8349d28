package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// service is how every long-running command starts and stops: `keel
// collect`, `load`, `console` and `relay` each build their parts into one,
// and `keel dev` builds all four into one. Building opens what the parts
// need, waiting for servers that are starting and refusing a schema that
// is behind; run then runs the parts side by side until ctx ends or one
// fails, and closes what was opened once every part has stopped.
type service struct {
	log     *slog.Logger
	parts   []servicePart
	closers []func()
}

type servicePart struct {
	name string // the component it belongs to, which names its errors
	run  func(ctx context.Context) error
}

// builder adds one component's parts to a service, opening what they need.
type builder func(ctx context.Context, s *service) error

// serviceFlags are a long-running command's flags (a common and its own),
// which build its component.
type serviceFlags interface {
	register(args []string, env *Env, stderr io.Writer) error
	logger(w io.Writer) *slog.Logger
	build(ctx context.Context, s *service) error
}

// runService is a long-running command: its flags, each with an
// environment default; the Go runtime tuned for a process of its own when
// the command asks (a standalone method); a logger at --log-level; then
// the service until ctx (SIGINT, SIGTERM) ends.
func runService(ctx context.Context, args []string, env *Env, stderr io.Writer, f serviceFlags) error {
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	if t, ok := f.(interface{ standalone() }); ok {
		t.standalone()
	}
	return startService(ctx, f.logger(stderr), f.build)
}

// startService builds a service of the components given and runs it until
// ctx ends. A component that cannot be built stops the start, and what the
// others opened is closed again.
func startService(ctx context.Context, log *slog.Logger, components ...builder) error {
	s := &service{log: log}
	for _, build := range components {
		if err := build(ctx, s); err != nil {
			s.close()
			return err
		}
	}
	return s.run(ctx)
}

// add runs fn as a part of the component name. fn returns when ctx ends;
// an error from it stops the whole service.
func (s *service) add(name string, fn func(ctx context.Context) error) {
	s.parts = append(s.parts, servicePart{name: name, run: fn})
}

// serve adds an HTTP server of the component name on addr (none when addr
// is empty), with Go's profiles beside h when pprof is on; it logs that it
// listens, with attrs. It shuts down gracefully when the service stops
// (serveHTTP).
func (s *service) serve(name, addr string, h http.Handler, pprof bool, attrs ...any) {
	if addr == "" {
		return
	}
	s.add(name, func(ctx context.Context) error {
		s.log.Info(name+" listening", append([]any{"addr", addr}, attrs...)...)
		return serveHTTP(ctx, addr, withPprof(pprof, h), s.log)
	})
}

// onClose runs fn when the service has stopped (or failed to start), in
// the reverse order of the calls.
func (s *service) onClose(fn func()) { s.closers = append(s.closers, fn) }

func (s *service) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// run runs every part until ctx ends or one fails, which stops the others,
// and returns the first error, named by its component.
func (s *service) run(ctx context.Context) error {
	defer s.close()
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range s.parts {
		g.Go(func() error {
			if err := p.run(gctx); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// postgres opens Postgres with its schema checked, waiting while the server
// starts; it is closed when the service ends.
func (s *service) postgres(ctx context.Context, url string) (*postgres.DB, error) {
	return waitOpen(ctx, s, "postgres", func(ctx context.Context) (*postgres.DB, error) { return openPostgres(ctx, url) }, (*postgres.DB).Close)
}

// clickhouse is postgres for ClickHouse.
func (s *service) clickhouse(ctx context.Context, url string) (*warehouse.Store, error) {
	return waitOpen(ctx, s, "clickhouse", func(ctx context.Context) (*warehouse.Store, error) { return openClickHouse(ctx, url) },
		func(st *warehouse.Store) { st.Close() })
}

// topic waits until the Kafka topic exists: a service started before `keel
// migrate` created it would otherwise fail on its first message.
func (s *service) topic(ctx context.Context, brokers []string, topic string) error {
	return retryStart(ctx, s.log, "kafka", func(ctx context.Context) error { return collector.TopicReady(ctx, brokers, topic) })
}

// waitOpen opens what open returns, retrying while the server starts, and
// closes it with closeIt when the service ends.
func waitOpen[T any](ctx context.Context, s *service, what string, open func(context.Context) (T, error), closeIt func(T)) (T, error) {
	var v T
	err := retryStart(ctx, s.log, what, func(ctx context.Context) (err error) {
		v, err = open(ctx)
		return err
	})
	if err != nil {
		return v, err
	}
	s.onClose(func() { closeIt(v) })
	return v, nil
}

// startTimeout bounds how long a service waits for its servers at start.
const startTimeout = 2 * time.Minute

// retryStart runs open until it succeeds, each attempt bounded by 15 s, so a
// service started while Postgres, ClickHouse or Kafka is restarting waits
// for it instead of hanging or exiting. A schema that is behind is not
// waited for: nothing will fix it but `keel migrate`.
func retryStart(ctx context.Context, log *slog.Logger, what string, open func(context.Context) error) error {
	deadline := time.Now().Add(startTimeout)
	wait := 200 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := open(actx)
		cancel()
		if err == nil || errors.Is(err, migrations.ErrBehind) || ctx.Err() != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still failing after %s: %w", what, startTimeout, err)
		}
		log.Warn("waiting for "+what, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
