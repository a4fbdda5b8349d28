package warehouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// groupConfig is the part of a loader's configuration that the events and
// the facts loader share: the consumer group, and how batches are cut and
// stored. Each loader's configuration converts to it with the fields in
// this order.
type groupConfig struct {
	brokers []string
	topic   string
	id      string // consumer group

	batchRows     int
	batchBytes    int
	flushInterval time.Duration

	insertTimeout  time.Duration
	sessionTimeout time.Duration
}

// or returns c with the topic, group and batch size it leaves unset taken
// from d, a loader's own defaults, and the times from the defaults every
// loader has: a flush 200 ms after a batch's first message, 10 s for an
// insert attempt and for the consumer-group session.
func (c groupConfig) or(d groupConfig) groupConfig {
	c.topic, c.id = cmp.Or(c.topic, d.topic), cmp.Or(c.id, d.id)
	c.batchRows, c.batchBytes = cmp.Or(c.batchRows, d.batchRows), cmp.Or(c.batchBytes, d.batchBytes)
	c.flushInterval = cmp.Or(c.flushInterval, 200*time.Millisecond)
	c.insertTimeout, c.sessionTimeout = cmp.Or(c.insertTimeout, 10*time.Second), cmp.Or(c.sessionTimeout, 10*time.Second)
	return c
}

// validate checks the settings after defaults are applied; name ("loader",
// "facts loader") starts the error.
func (c groupConfig) validate(name string) error {
	switch {
	case len(c.brokers) == 0:
		return errors.New(name + ": no kafka brokers")
	case c.topic == "" || c.id == "":
		return errors.New(name + ": topic and group are required")
	case c.batchRows <= 0 || c.batchBytes <= 0 || c.flushInterval <= 0:
		return errors.New(name + ": batch rows, bytes and flush interval must be positive")
	case c.insertTimeout <= 0 || c.sessionTimeout <= 0:
		return errors.New(name + ": timeouts must be positive")
	}
	return nil
}

// group is a loader's membership of its Kafka consumer group: it joins,
// runs a worker (worker.go) on the partitions of each generation, and
// commits offsets. The events and the facts loader share it, and the
// worker; what a message becomes and how a repeat is recognised is each
// loader's own (its batcher).
type group struct {
	groupConfig
	name  string // "loader" or "facts loader": the prefix of logs and errors
	log   *slog.Logger
	m     *loadMetrics
	ready atomic.Bool // in a consumer group generation
}

func newGroup(name string, c groupConfig, log *slog.Logger, m *loadMetrics) *group {
	return &group{groupConfig: c, name: name, log: log, m: m}
}

// run joins the consumer group and, for every generation, asks start for
// the batcher of the partitions assigned to this process and consumes them
// with it until the generation ends (start returns nil when the generation
// ended first). run returns nil on a clean shutdown once ctx ends; broker
// outages are waited out, not returned.
func (g *group) run(ctx context.Context, start func(ctx context.Context, assigned []kafka.PartitionAssignment) batcher) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    g.id,
		Brokers:               g.brokers,
		Topics:                []string{g.topic},
		StartOffset:           kafka.FirstOffset,
		SessionTimeout:        g.sessionTimeout,
		HeartbeatInterval:     g.sessionTimeout / 5,
		RebalanceTimeout:      g.insertTimeout + 5*time.Second,
		JoinGroupBackoff:      500 * time.Millisecond,
		WatchPartitionChanges: true,
		// kafka-go gives a JoinGroup Timeout + RebalanceTimeout to answer. A
		// join the client gives up on while the broker still completes it
		// leaves a member behind that holds partitions until the broker
		// expires it (for minutes, seen with kfake), so be generous.
		Timeout:     30 * time.Second,
		ErrorLogger: kafka.LoggerFunc(func(f string, a ...any) { g.log.Debug(g.name + ": kafka group: " + fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		return fmt.Errorf("%s: consumer group: %w", g.name, err)
	}
	defer cg.Close()
	backoff := newBackoff()
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			g.ready.Store(false)
			g.log.Warn(g.name+": join consumer group", "group", g.id, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		backoff.reset()
		g.ready.Store(true)
		assigned := gen.Assignments[g.topic]
		g.m.partitions.Set(float64(len(assigned)))
		g.m.lag.Reset() // partitions this process no longer owns are another's to report
		g.log.Info(g.name+": new generation", "generation", gen.ID, "partitions", len(assigned))
		if len(assigned) == 0 {
			gen.Start(func(ctx context.Context) { <-ctx.Done() })
			continue
		}
		gen.Start(func(ctx context.Context) {
			if b := start(ctx, assigned); b != nil {
				g.consume(ctx, gen, assigned, b)
			}
		})
	}
}

// commit commits next (per partition, the offset to read next), retrying
// until it is done or the generation ends. It returns false in that case.
func (g *group) commit(ctx context.Context, gen *kafka.Generation, next map[int]int64) bool {
	backoff := newBackoff()
	for {
		err := gen.CommitOffsets(map[string]map[int]int64{g.topic: next})
		if err == nil {
			return true
		}
		g.m.errors.WithLabelValues("commit").Inc()
		g.log.Warn(g.name+": commit offsets", "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// insertContext is the context of one insert attempt: its own deadline
// rather than the generation's context, because an insert cut off mid-way
// would leave its outcome unknown while the partition moves to another
// loader.
func (g *group) insertContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), g.insertTimeout)
}

// receivedAt is when Kafka received m (now, if the message carries no time).
func receivedAt(m *kafka.Message) time.Time {
	if m.Time.IsZero() {
		return time.Now()
	}
	return m.Time
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// backoff waits 100 ms, 200 ms, … up to 5 s between attempts.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

// wait sleeps and returns true, or returns false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(b.d*2, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
