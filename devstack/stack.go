package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
)

// StackConfig configures StartStack.
type StackConfig struct {
	// Dir holds one subdirectory per server: postgres, clickhouse, kafka.
	Dir string
	// Kafka picks the broker: "kfake" (default, in-process, starts
	// instantly) or "apache" (a real Apache Kafka broker, for behaviour
	// kfake does not model).
	Kafka string
	// Logger receives lifecycle messages of all three servers; nil discards.
	Logger *slog.Logger

	// beforeStart, when set, runs before each server's start and can fail
	// it; tests use it to make one server fail at a chosen moment.
	beforeStart func(ctx context.Context, server string) error
}

// Stack is the set of servers keel needs: Postgres, ClickHouse and a Kafka
// broker, each on free loopback ports.
type Stack struct {
	// Postgres runs in Dir/postgres.
	Postgres *Postgres
	// ClickHouse runs in Dir/clickhouse.
	ClickHouse *ClickHouse
	// Kafka is a *Kfake or an *ApacheKafka, with its data in Dir/kafka.
	Kafka Broker
}

// StartStack starts Postgres, ClickHouse and Kafka in parallel under
// cfg.Dir. When any of them fails, the others are stopped (or their start
// cancelled) and the first error is returned, so a failed start leaves
// nothing running.
func StartStack(ctx context.Context, cfg StackConfig) (*Stack, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start stack: StackConfig.Dir is required")
	}
	kind := cfg.Kafka
	if kind == "" {
		kind = "kfake"
	}
	if kind != "kfake" && kind != "apache" {
		return nil, fmt.Errorf("start stack: unknown Kafka %q (want \"kfake\" or \"apache\")", cfg.Kafka)
	}
	s := &Stack{}
	g, gctx := errgroup.WithContext(ctx)
	before := func(server string) error {
		if cfg.beforeStart == nil {
			return nil
		}
		return cfg.beforeStart(gctx, server)
	}
	g.Go(func() error {
		if err := before("postgres"); err != nil {
			return err
		}
		pg, err := StartPostgres(gctx, PostgresConfig{Dir: filepath.Join(cfg.Dir, "postgres"), Logger: cfg.Logger})
		s.Postgres = pg
		return err
	})
	g.Go(func() error {
		if err := before("clickhouse"); err != nil {
			return err
		}
		ch, err := StartClickHouse(gctx, ClickHouseConfig{Dir: filepath.Join(cfg.Dir, "clickhouse"), Logger: cfg.Logger})
		s.ClickHouse = ch
		return err
	})
	g.Go(func() error {
		if err := before("kafka"); err != nil {
			return err
		}
		dir := filepath.Join(cfg.Dir, "kafka")
		if kind == "apache" {
			k, err := StartApacheKafka(gctx, ApacheKafkaConfig{Dir: dir, Logger: cfg.Logger})
			if k != nil {
				s.Kafka = k
			}
			return err
		}
		k, err := StartKfake(gctx, KfakeConfig{Dir: dir, Logger: cfg.Logger})
		if k != nil {
			s.Kafka = k
		}
		return err
	})
	if err := g.Wait(); err != nil {
		// ctx may be what failed: stopping still needs time of its own.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if serr := s.Stop(stopCtx); serr != nil {
			err = errors.Join(err, fmt.Errorf("stop after failed start: %w", serr))
		}
		return nil, fmt.Errorf("start stack: %w", err)
	}
	return s, nil
}

// Stop stops every server of the stack in parallel and reports all
// failures. Servers that are missing or already stopped are skipped.
func (s *Stack) Stop(ctx context.Context) error {
	var g errgroup.Group
	errs := make([]error, 3)
	if s.Postgres != nil {
		g.Go(func() error { errs[0] = s.Postgres.Stop(ctx); return nil })
	}
	if s.ClickHouse != nil {
		g.Go(func() error { errs[1] = s.ClickHouse.Stop(ctx); return nil })
	}
	if s.Kafka != nil {
		g.Go(func() error { errs[2] = s.Kafka.Stop(ctx); return nil })
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop stack: %w", err)
	}
	return nil
}
