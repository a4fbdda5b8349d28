package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// group is the Kafka side the events loader and the facts loader share:
// joining the consumer group, reading each generation's partitions, cutting
// batches by rows, bytes or time, and committing offsets. What a message
// becomes and how a batch is stored exactly once is each loader's own (its
// batcher): events are recognised by Kafka position and a per-partition
// dedup window (loader.go), facts by their id, checked against ClickHouse
// before every insert (facts_loader.go).
type group struct {
	name    string // "loader" or "facts loader": the prefix of logs and errors
	brokers []string
	topic   string
	id      string // consumer group

	batchRows     int
	batchBytes    int
	flushInterval time.Duration

	insertTimeout  time.Duration
	sessionTimeout time.Duration

	log   *slog.Logger
	m     groupMetrics
	ready atomic.Bool // in a consumer group generation
}

// groupMetrics are the metrics both loaders keep, each under its own names.
type groupMetrics struct {
	lag        *prometheus.GaugeVec
	partitions prometheus.Gauge
	errors     *prometheus.CounterVec
}

// validate checks the settings after defaults are applied.
func (g *group) validate() error {
	switch {
	case len(g.brokers) == 0:
		return errors.New(g.name + ": no kafka brokers")
	case g.topic == "" || g.id == "":
		return errors.New(g.name + ": topic and group are required")
	case g.batchRows <= 0 || g.batchBytes <= 0 || g.flushInterval <= 0:
		return errors.New(g.name + ": batch rows, bytes and flush interval must be positive")
	case g.insertTimeout <= 0 || g.sessionTimeout <= 0:
		return errors.New(g.name + ": timeouts must be positive")
	}
	return nil
}

// batcher is one generation's worker: it judges messages and stores and
// commits batches.
type batcher interface {
	// add puts a message in the batch (or skips it) and reports whether
	// the batch is full.
	add(m *kafka.Message) (full bool)
	// flush stores the batch and commits the offsets it covers. It returns
	// false when the generation ended first.
	flush(ctx context.Context) bool
}

// run joins the consumer group and, for every generation, runs work on the
// partitions assigned to this process until ctx ends. It returns nil on a
// clean shutdown; broker outages are waited out, not returned.
func (g *group) run(ctx context.Context, work func(ctx context.Context, gen *kafka.Generation, assigned []kafka.PartitionAssignment)) error {
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
		gen.Start(func(ctx context.Context) { work(ctx, gen, assigned) })
	}
}

// consume reads the assigned partitions and hands every message to b,
// flushing when b says the batch is full or FlushInterval after the first
// message since the last flush. It returns when the generation ends;
// unflushed messages are not committed, so the next owner reads them again.
func (g *group) consume(ctx context.Context, assigned []kafka.PartitionAssignment, b batcher) {
	// Readers run until consume returns, and consume waits for them: that
	// keeps the promise the consumer group relies on, that nothing of this
	// generation runs once the next one starts.
	readCtx, stopReaders := context.WithCancel(ctx)
	fetches := make(chan fetch, len(assigned))
	var wg sync.WaitGroup
	dialer := &kafka.Dialer{Timeout: 10 * time.Second}
	for _, a := range assigned {
		r := &partitionReader{brokers: g.brokers, topic: g.topic, partition: a.ID,
			maxBytes: 512 << 10, maxWait: 100 * time.Millisecond, log: g.log, dialer: dialer}
		start := a.Offset
		if start < 0 {
			start = kafka.FirstOffset
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(readCtx, start, fetches)
		}()
	}
	defer func() {
		stopReaders()
		wg.Wait()
	}()

	tick := time.NewTicker(max(g.flushInterval/4, time.Millisecond))
	defer tick.Stop()
	var firstAt time.Time // when the oldest unflushed message arrived; zero when none
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-fetches:
			g.m.lag.WithLabelValues(strconv.Itoa(f.partition)).Set(float64(f.lag))
			for i := range f.msgs {
				if firstAt.IsZero() {
					firstAt = time.Now()
				}
				if b.add(&f.msgs[i]) {
					if !b.flush(ctx) {
						return
					}
					firstAt = time.Time{}
				}
			}
		case <-tick.C:
			if !firstAt.IsZero() && time.Since(firstAt) >= g.flushInterval {
				if !b.flush(ctx) {
					return
				}
				firstAt = time.Time{}
			}
		}
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

// rejectedRaw is what is kept of a rejected message's value.
func rejectedRaw(v []byte) []byte {
	if len(v) > maxRaw {
		return v[:maxRaw]
	}
	return v
}

// maxRaw caps what is kept of a rejected message.
const maxRaw = 1 << 20

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
