// Package warehouse is Keel's ClickHouse side: the loader that moves events
// from Kafka into ClickHouse, and the queries behind every number on a chart.
//
// # The loader, and why an event is stored exactly once
//
// The collector answers 202 only after Kafka acknowledged an event, so from
// then on Kafka holds it. The loader's job is to get each such event into the
// events table once — not zero times, not twice — whatever crashes in
// between. Three mechanisms, each covering what the one before cannot:
//
//  1. Kafka offsets are committed only after the rows they cover are in
//     ClickHouse. A loader killed at any moment loses nothing: the messages
//     after the last commit are delivered again, to it or to another loader
//     of the group.
//
//  2. Re-delivered messages are recognised by their Kafka position. Every
//     row records the topic, partition and offset it came from. When a
//     loader is given a partition, it asks ClickHouse which offsets at or
//     after the committed one are already stored, and skips those. The same check runs before a
//     failed insert is retried, because an insert that spans two months
//     writes two parts and can fail between them. Positions, not ids, make
//     this exact: a partially stored batch is completed, never doubled.
//
//  3. The same event sent twice — a client retrying after a timeout, or the
//     collector retrying a produce that had in fact succeeded — arrives as
//     two messages at two offsets. All of a tenant's events share a
//     partition (the message key is the tenant), so the loader remembers the
//     (tenant, id) of the last DedupWindow events of each partition, seeded
//     from ClickHouse when it takes the partition, and drops repeats.
//
// Underneath, the events table is a ReplacingMergeTree keyed on (tenant,
// id), and every metric counts distinct ids or users, so even a duplicate
// outside all three (a resend further apart than the window, a loader that
// lost its partition while it still wrote) never changes a number.
//
// Hand-over between loaders is clean because the consumer group's
// generation ends only after every goroutine of the old one returned: a
// loader that loses a partition finishes (or abandons) its insert before the
// new owner reads what is stored. An insert in flight runs to completion
// with its own timeout rather than being cut off, so its outcome is known.
//
// Memory is bounded whatever the backlog: each partition's reader holds at
// most three fetches of 512 KiB, the batch at most BatchRows rows or BatchBytes
// bytes, and the dedup window DedupWindow keys per partition.
//
// A Kafka topic must never be deleted and re-created under the same name:
// offsets would start again at zero and collide with the stored positions.
// To rebuild, load into fresh tables.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

// Sink is what the loader needs from ClickHouse.
type Sink interface {
	// Insert stores a batch.
	Insert(ctx context.Context, b *Batch) error
	// Stored returns which positions of topic within ranges are stored.
	Stored(ctx context.Context, topic string, ranges map[int][2]int64) (map[int]*offsetSet, error)
	// RecentEvents calls fn for each event of topic stored at or after the
	// given offset of each partition, in Kafka order.
	RecentEvents(ctx context.Context, topic string, from map[int]int64, fn func(partition int, tenant, id string)) error
}

var _ Sink = (*Store)(nil)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	Brokers []string
	Topic   string // default "keel.events"
	Group   string // consumer group; default "keel-loader"

	BatchRows     int           // flush at this many rows; default 25,000
	BatchBytes    int           // or this many bytes of messages; default 32 MiB
	FlushInterval time.Duration // or this long after the first row; default 200 ms

	Rules       ingest.Rules // time rules; default ingest.DefaultRules
	DedupWindow int          // event ids remembered per partition; default 100,000

	InsertTimeout  time.Duration // one insert attempt; default 10 s
	SessionTimeout time.Duration // consumer group session; default 10 s
}

// Validate checks the configuration after defaults are applied.
func (c LoaderConfig) Validate() error {
	if err := c.group(nil).validate(); err != nil {
		return err
	}
	switch {
	case c.DedupWindow < 0:
		return errors.New("loader: dedup window must not be negative")
	case c.Rules.MaxAge <= 0:
		return errors.New("loader: late-arrival window must be positive")
	}
	return nil
}

// group returns the consumer-group settings, the part of the configuration
// the events and facts loaders share.
func (c LoaderConfig) group(log *slog.Logger) *group {
	return &group{name: "loader", brokers: c.Brokers, topic: c.Topic, id: c.Group,
		batchRows: c.BatchRows, batchBytes: c.BatchBytes, flushInterval: c.FlushInterval,
		insertTimeout: c.InsertTimeout, sessionTimeout: c.SessionTimeout, log: log}
}

func (c *LoaderConfig) defaults() {
	if c.Topic == "" {
		c.Topic = "keel.events"
	}
	if c.Group == "" {
		c.Group = "keel-loader"
	}
	if c.BatchRows == 0 {
		c.BatchRows = 25000
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 32 << 20
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.Rules == (ingest.Rules{}) {
		c.Rules = ingest.DefaultRules
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 100000
	}
	if c.InsertTimeout == 0 {
		c.InsertTimeout = 10 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
}

// Loader moves events from Kafka to ClickHouse. Run several with the same
// group: Kafka spreads the partitions over them.
type Loader struct {
	cfg   LoaderConfig
	sink  Sink
	log   *slog.Logger
	keyer keyer
	reg   *prometheus.Registry
	m     loaderMetrics
	group *group
}

type loaderMetrics struct {
	groupMetrics
	messages  *prometheus.CounterVec
	insert    prometheus.Histogram
	batchRows prometheus.Histogram
	freshness prometheus.Histogram
}

// NewLoader returns a loader writing to sink.
func NewLoader(cfg LoaderConfig, sink Sink, log *slog.Logger) (*Loader, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, sink: sink, log: log, keyer: newKeyer(), reg: prometheus.NewRegistry()}
	l.m = loaderMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_loader_messages_total",
			Help: "Kafka messages by outcome: stored, rejected (parked with a reason), duplicate (same tenant and id seen before), redelivered (already stored).",
		}, []string{"outcome"}),
		insert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_loader_insert_seconds", Help: "Time to insert one batch into ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13),
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_loader_batch_rows", Help: "Rows per inserted batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_loader_freshness_seconds", Help: "Time from Kafka receiving an event to the event being queryable in ClickHouse.",
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300},
		}),
		groupMetrics: groupMetrics{
			lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "keel_loader_lag_messages", Help: "Messages between the loader's position and the end of each partition.",
			}, []string{"partition"}),
			partitions: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "keel_loader_partitions", Help: "Partitions this loader owns now.",
			}),
			errors: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "keel_loader_errors_total", Help: "Failed attempts by step (insert, commit, prepare); each is retried.",
			}, []string{"step"}),
		},
	}
	l.group = cfg.group(log)
	l.group.m = l.m.groupMetrics
	l.reg.MustRegister(l.m.messages, l.m.insert, l.m.batchRows, l.m.freshness, l.m.lag, l.m.partitions, l.m.errors,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return l, nil
}

// Handler serves GET /metrics, /healthz and /readyz (ready once the loader
// joined its consumer group). /metrics also serves the metrics of extra,
// so a process running more than the loader is scraped once.
func (l *Loader) Handler(extra ...prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(append(prometheus.Gatherers{l.reg}, extra...), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !l.group.ready.Load() {
			http.Error(w, "not in a consumer group generation yet", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// Run consumes until ctx ends. It returns nil on a clean shutdown; broker and
// ClickHouse outages are waited out, not returned.
func (l *Loader) Run(ctx context.Context) error {
	return l.group.run(ctx, func(ctx context.Context, gen *kafka.Generation, assigned []kafka.PartitionAssignment) {
		w := &worker{l: l, gen: gen, assigned: assigned, batch: Batch{Topic: l.cfg.Topic}}
		if w.prepare(ctx) {
			l.group.consume(ctx, assigned, w)
		}
	})
}

// worker loads the partitions of one consumer-group generation.
type worker struct {
	l        *Loader
	gen      *kafka.Generation
	assigned []kafka.PartitionAssignment

	stored map[int]*offsetSet  // positions at or after the commit already in ClickHouse
	recent map[int]*recentKeys // recent event keys per partition (DedupWindow)
	next   map[int]int64       // offset to commit per partition
	batch  Batch
	bytes  int
}

// prepare learns, for each assigned partition, which positions after the
// committed offset are already stored and which events were stored lately.
func (w *worker) prepare(ctx context.Context) bool {
	l := w.l
	w.stored, w.recent, w.next = map[int]*offsetSet{}, map[int]*recentKeys{}, map[int]int64{}
	storedRanges := map[int][2]int64{}
	recentFrom := map[int]int64{}
	for _, a := range w.assigned {
		from := max(a.Offset, 0) // no commit yet (kafka.FirstOffset): everything may be stored
		storedRanges[a.ID] = [2]int64{from, math.MaxInt64}
		recentFrom[a.ID] = max(from-int64(l.cfg.DedupWindow), 0)
	}
	backoff := newBackoff()
	for {
		stored, err := l.sink.Stored(ctx, l.cfg.Topic, storedRanges)
		if err == nil {
			for _, a := range w.assigned {
				w.recent[a.ID] = newRecentKeys(l.cfg.DedupWindow)
			}
			err = l.sink.RecentEvents(ctx, l.cfg.Topic, recentFrom, func(p int, tenant, id string) {
				if r := w.recent[p]; r != nil {
					r.add(l.keyer.key(tenant, id))
				}
			})
		}
		if err == nil {
			w.stored = stored
			var n int64
			for _, s := range stored {
				n += s.len()
			}
			if n > 0 {
				l.log.Info("loader: skipping messages already stored", "messages", n)
			}
			return true
		}
		l.m.errors.WithLabelValues("prepare").Inc()
		l.log.Warn("loader: read stored positions from clickhouse", "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// add judges one message and puts it in the batch, or skips it. It reports
// whether the batch is full.
func (w *worker) add(m *kafka.Message) (full bool) {
	l := w.l
	w.next[m.Partition] = m.Offset + 1
	if w.stored[m.Partition].has(m.Offset) {
		l.m.messages.WithLabelValues("redelivered").Inc()
		return false
	}
	received := receivedAt(m)
	pos := Position{Partition: m.Partition, Offset: m.Offset}
	ev, err := ingest.ParseEvent(m.Value)
	if err == nil {
		rules := l.cfg.Rules
		if d := collector.MaxAgeFromHeaders(m.Headers); d > 0 {
			rules.MaxAge = d
		}
		err = rules.Check(&ev, received)
	}
	if err == nil && string(m.Key) != ev.Tenant {
		err = fmt.Errorf("kafka message key %q is not the event's tenant %q; key events by tenant", truncateString(string(m.Key), 64), ev.Tenant)
	}
	if err != nil {
		raw := rejectedRaw(m.Value)
		w.batch.AddRejected(pos, received, string(m.Key), err.Error(), raw)
		w.bytes += len(raw)
	} else if w.recent[m.Partition].add(l.keyer.key(ev.Tenant, ev.ID)) {
		l.m.messages.WithLabelValues("duplicate").Inc()
		return false
	} else {
		w.batch.AddEvent(&ev, pos, received)
		w.bytes += len(m.Value)
	}
	return w.batch.Len() >= l.cfg.BatchRows || w.bytes >= l.cfg.BatchBytes
}

// flush stores the batch and commits the offsets it covers. It returns false
// when the generation ended before that could be done.
func (w *worker) flush(ctx context.Context) bool {
	l := w.l
	if w.batch.Len() > 0 {
		if !w.insert(ctx) {
			return false
		}
		l.m.messages.WithLabelValues("stored").Add(float64(len(w.batch.Events.ID)))
		l.m.messages.WithLabelValues("rejected").Add(float64(len(w.batch.Rejected.Reason)))
		now := time.Now()
		for _, t := range w.batch.Events.Ingested {
			l.m.freshness.Observe(now.Sub(t).Seconds())
		}
	}
	if !l.group.commit(ctx, w.gen, w.next) {
		return false
	}
	w.batch.Reset()
	w.bytes = 0
	return true
}

// insert writes the batch, retrying until it is stored or the generation
// ends. Before each retry it drops the rows a failed attempt did store.
func (w *worker) insert(ctx context.Context) bool {
	l := w.l
	backoff := newBackoff()
	rows := w.batch.Len()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			stored, err := l.sink.Stored(ctx, l.cfg.Topic, w.batch.Ranges())
			if err != nil {
				l.m.errors.WithLabelValues("insert").Inc()
				l.log.Warn("loader: reconcile after failed insert", "err", err)
				if !backoff.wait(ctx) {
					return false
				}
				continue
			}
			if n := w.batch.Drop(stored); n > 0 {
				l.log.Info("loader: a failed insert had stored rows; not inserting them again", "rows", n)
			}
			if w.batch.Len() == 0 {
				return true
			}
		}
		insCtx, cancel := l.group.insertContext(ctx)
		start := time.Now()
		err := l.sink.Insert(insCtx, &w.batch)
		cancel()
		if err == nil {
			l.m.insert.Observe(time.Since(start).Seconds())
			l.m.batchRows.Observe(float64(rows))
			return true
		}
		l.m.errors.WithLabelValues("insert").Inc()
		l.log.Warn("loader: insert batch", "rows", w.batch.Len(), "attempt", attempt+1, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}
