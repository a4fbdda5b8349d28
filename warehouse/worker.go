package warehouse

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// batcher is a loader's own part of the worker's loop: what a message
// becomes, how a repeat is recognised, and how a batch is stored. The
// events loader's (eventBatcher, loader.go) knows the Kafka positions
// already stored and a window of recent event ids per partition; the facts
// loader's (factBatcher, facts_loader.go) checks each batch's fact ids
// against ClickHouse.
type batcher interface {
	// add judges m and puts it in the batch, as a row or as a rejected
	// message, and returns how many bytes the batch grew by; or it leaves
	// m out as a repeat and names why (outcomeDuplicate,
	// outcomeRedelivered).
	add(m *kafka.Message) (bytes int, repeat string)
	// dropStored removes from the batch what ClickHouse already holds,
	// before an insert attempt: before the first (retried false) the
	// repeats found only there, before the others (retried true) also
	// what the failed attempts did store. It returns how many messages it
	// removed; before the first attempt they count as duplicates.
	dropStored(ctx context.Context, retried bool) (int, error)
	// insert stores the batch.
	insert(ctx context.Context) error
	// derive computes what depends on the stored batch, every message of
	// it — re-delivered ones too — before the batch's offsets are
	// committed, so that work a crash interrupted is done again when the
	// messages come back (the facts loader computes revenue; the events
	// loader has nothing to do). It runs after every successful insert,
	// and also when everything turned out to be stored already.
	derive(ctx context.Context) error
	// len returns the number of rows in the batch.
	len() int
	// counts returns how many messages the batch stores and parks.
	counts() (stored, rejected int)
	// reset empties the batch once it is stored and committed.
	reset()
}

// Outcomes of a message, the label of the loaders' messages counters.
const (
	outcomeStored      = "stored"      // inserted into ClickHouse
	outcomeRejected    = "rejected"    // parked in rejected_events with the reason
	outcomeDuplicate   = "duplicate"   // the same event or fact again
	outcomeRedelivered = "redelivered" // a Kafka position already stored
)

// worker is one generation's loop, the same for both loaders: it reads the
// assigned partitions, hands each message to the batcher, and flushes —
// stores the batch, then commits the offsets it covers — when the batch is
// full or FlushInterval after its first message. Offsets are committed
// only after what they cover is stored, so whatever ends the generation,
// the next owner of a partition reads again all that is not.
type worker struct {
	g     *group
	gen   *kafka.Generation
	b     batcher
	next  map[int]int64 // offset to commit per partition
	bytes int           // of the batch
}

// consume runs a worker with b on the assigned partitions until the
// generation ends; unflushed messages are not committed, so the next owner
// reads them again.
func (g *group) consume(ctx context.Context, gen *kafka.Generation, assigned []kafka.PartitionAssignment, b batcher) {
	w := &worker{g: g, gen: gen, b: b, next: map[int]int64{}}
	// Readers run until consume returns, and consume waits for them: that
	// keeps the promise the consumer group relies on, that nothing of this
	// generation runs once the next one starts.
	readCtx, stopReaders := context.WithCancel(ctx)
	fetches := make(chan fetch, len(assigned))
	var wg sync.WaitGroup
	dialer := &kafka.Dialer{Timeout: 10 * time.Second}
	for _, a := range assigned {
		r := &partitionReader{name: g.name, brokers: g.brokers, topic: g.topic, partition: a.ID,
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
				if w.add(&f.msgs[i]) {
					if !w.flush(ctx) {
						return
					}
					firstAt = time.Time{}
				}
			}
		case <-tick.C:
			if !firstAt.IsZero() && time.Since(firstAt) >= g.flushInterval {
				if !w.flush(ctx) {
					return
				}
				firstAt = time.Time{}
			}
		}
	}
}

// add hands m to the batcher and reports whether the batch is full: at
// BatchRows rows or BatchBytes bytes.
func (w *worker) add(m *kafka.Message) (full bool) {
	w.next[m.Partition] = m.Offset + 1
	n, repeat := w.b.add(m)
	if repeat != "" {
		w.g.m.messages.WithLabelValues(repeat).Inc()
	}
	w.bytes += n
	return w.b.len() >= w.g.batchRows || w.bytes >= w.g.batchBytes
}

// flush stores the batch and commits the offsets it covers. It returns false
// when the generation ended before that could be done.
func (w *worker) flush(ctx context.Context) bool {
	if w.b.len() > 0 && !w.store(ctx) {
		return false
	}
	if !w.g.commit(ctx, w.gen, w.next) {
		return false
	}
	w.b.reset()
	w.bytes = 0
	return true
}

// store drops what ClickHouse already has and inserts the rest, retrying
// until it is stored or the generation ends. The check runs before every
// attempt; after a failed one it finds the rows that attempt did store (an
// insert spanning several table partitions writes several parts and can
// fail between them), so a partly stored batch is completed, never
// doubled.
func (w *worker) store(ctx context.Context) bool {
	g, m := w.g, w.g.m
	backoff := newBackoff()
	// What the checks find before the first insert attempt are repeats;
	// what they find after one may be that attempt's own rows, which count
	// as stored.
	tried := false
	var rows, stored, rejected int
	for attempt := 1; ; attempt++ {
		start := time.Now()
		dropped, err := w.b.dropStored(ctx, tried)
		switch {
		case dropped == 0:
		case !tried:
			m.messages.WithLabelValues(outcomeDuplicate).Add(float64(dropped))
		default:
			g.log.Info(g.name+": a failed insert had stored rows; not inserting them again", "rows", dropped)
		}
		if err == nil {
			if !tried {
				rows = w.b.len()
				stored, rejected = w.b.counts()
			}
			if w.b.len() > 0 {
				tried = true
				insCtx, cancel := g.insertContext(ctx)
				err = w.b.insert(insCtx)
				cancel()
			}
			if err == nil {
				// No insert timeout: a settings change recomputes every
				// customer's revenue, many inserts; each query has the
				// store's own read timeout.
				err = w.b.derive(ctx)
			}
			if err == nil {
				m.insert.Observe(time.Since(start).Seconds())
				m.batchRows.Observe(float64(rows))
				m.messages.WithLabelValues(outcomeStored).Add(float64(stored))
				m.messages.WithLabelValues(outcomeRejected).Add(float64(rejected))
				return true
			}
		}
		m.errors.WithLabelValues("insert").Inc()
		g.log.Warn(g.name+": store batch", "rows", w.b.len(), "attempt", attempt, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// loadMetrics are the metrics both loaders keep, each under its own prefix
// (keel_loader, keel_facts_loader) and with its own help texts.
type loadMetrics struct {
	messages   *prometheus.CounterVec // by outcome
	insert     prometheus.Histogram
	batchRows  prometheus.Histogram
	lag        *prometheus.GaugeVec
	partitions prometheus.Gauge
	errors     *prometheus.CounterVec // by step
}

// metricsHelp is what a loader's metrics say they count.
type metricsHelp struct {
	messages, insert, batchRows, lag, partitions, errors string
}

func newLoadMetrics(prefix string, help metricsHelp) *loadMetrics {
	return &loadMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_messages_total", Help: help.messages}, []string{"outcome"}),
		insert: prometheus.NewHistogram(prometheus.HistogramOpts{Name: prefix + "_insert_seconds", Help: help.insert,
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13)}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Name: prefix + "_batch_rows", Help: help.batchRows,
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		lag:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: prefix + "_lag_messages", Help: help.lag}, []string{"partition"}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: prefix + "_partitions", Help: help.partitions}),
		errors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_errors_total", Help: help.errors}, []string{"step"}),
	}
}

// collectors returns the metrics, to register them.
func (m *loadMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.messages, m.insert, m.batchRows, m.lag, m.partitions, m.errors}
}
