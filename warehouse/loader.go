// Package warehouse is Keel's ClickHouse side: the loaders that move events
// and facts from Kafka into ClickHouse, and the queries behind every number
// on a chart.
//
// Both loaders run one loop (worker.go, in the consumer group of
// group.go): read the partitions a generation assigns, cut batches by rows,
// bytes or time, store each batch with retries, then commit its offsets.
// What differs is each loader's batcher: what a message becomes, and how a
// repeat is recognised — by Kafka position and a window of recent ids for
// events (below), by a check of each batch's fact ids against ClickHouse
// for facts (facts_loader.go, which explains why a fact is counted once).
//
// # The events loader, and why an event is stored exactly once
//
// The collector answers 202 only after Kafka acknowledged an event, so from
// then on Kafka holds it. The loader's job is to get each such event into the
// events table once — not zero times, not twice — whatever crashes in
// between. Three mechanisms, each covering what the one before cannot:
//
//  1. Kafka offsets are committed only after the rows they cover are in
//     ClickHouse (the worker's rule, for both loaders). A loader killed at any moment loses nothing: the messages
//     after the last commit are delivered again, to it or to another loader
//     of the group.
//
//  2. Re-delivered messages are recognised by their Kafka position. Every
//     row records the topic, partition and offset it came from. When a
//     loader is given a partition, it asks ClickHouse which offsets at or
//     after the committed one are already stored, and skips those. The
//     same check runs before a failed insert is retried, because an insert
//     that spans two months writes two parts and can fail between them. Positions, not ids, make
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

// groupConfig returns the consumer-group settings, defaults applied.
func (c LoaderConfig) groupConfig() groupConfig {
	return groupConfig{c.Brokers, c.Topic, c.Group, c.BatchRows, c.BatchBytes, c.FlushInterval, c.InsertTimeout, c.SessionTimeout}.
		or(groupConfig{topic: "keel.events", id: "keel-loader", batchRows: 25000, batchBytes: 32 << 20})
}

// Validate checks the configuration. Unset consumer-group and batch
// settings take their defaults; Rules and DedupWindow are checked as given
// (NewLoader gives them their defaults first).
func (c LoaderConfig) Validate() error {
	if err := c.groupConfig().validate("loader"); err != nil {
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

func (c *LoaderConfig) defaults() {
	if c.Rules == (ingest.Rules{}) {
		c.Rules = ingest.DefaultRules
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 100000
	}
}

// Loader moves events from Kafka to ClickHouse. Run several with the same
// group: Kafka spreads the partitions over them.
type Loader struct {
	cfg       LoaderConfig
	sink      Sink
	log       *slog.Logger
	keyer     keyer
	reg       *prometheus.Registry
	m         *loadMetrics
	freshness prometheus.Histogram
	group     *group
}

// NewLoader returns a loader writing to sink. It fails on an invalid
// configuration.
func NewLoader(cfg LoaderConfig, sink Sink, log *slog.Logger) (*Loader, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, sink: sink, log: log, keyer: newKeyer(), reg: prometheus.NewRegistry()}
	l.m = newLoadMetrics("keel_loader", metricsHelp{
		messages:   "Kafka messages by outcome: stored, rejected (parked with a reason), duplicate (same tenant and id seen before), redelivered (already stored).",
		insert:     "Time to insert one batch into ClickHouse.",
		batchRows:  "Rows per inserted batch.",
		lag:        "Messages between the loader's position and the end of each partition.",
		partitions: "Partitions this loader owns now.",
		errors:     "Failed attempts by step (insert, commit, prepare); each is retried.",
	})
	l.freshness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "keel_loader_freshness_seconds", Help: "Time from Kafka receiving an event to the event being queryable in ClickHouse.",
		Buckets: []float64{.01, .025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300},
	})
	l.group = newGroup("loader", cfg.groupConfig(), log, l.m)
	l.reg.MustRegister(append(l.m.collectors(), l.freshness,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))...)
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
	return l.group.run(ctx, func(ctx context.Context, assigned []kafka.PartitionAssignment) batcher {
		b := &eventBatcher{l: l, batch: Batch{Topic: l.group.topic}}
		if !b.prepare(ctx, assigned) {
			return nil
		}
		return b
	})
}

// eventBatcher is the events loader's batcher for one generation. It
// recognises a re-delivered message by its Kafka position (the positions at
// or after each partition's commit that ClickHouse holds, read when the
// generation starts) and an event sent twice by its (tenant, id) among the
// last DedupWindow of its partition.
type eventBatcher struct {
	l      *Loader
	stored map[int]*offsetSet  // positions at or after the commit already in ClickHouse
	recent map[int]*recentKeys // recent event keys per partition (DedupWindow)
	batch  Batch
}

var _ batcher = (*eventBatcher)(nil)

// prepare learns, for each assigned partition, which positions after the
// committed offset are already stored and which events were stored lately.
// It returns false when the generation ended first.
func (b *eventBatcher) prepare(ctx context.Context, assigned []kafka.PartitionAssignment) bool {
	l := b.l
	storedRanges := map[int][2]int64{}
	recentFrom := map[int]int64{}
	for _, a := range assigned {
		from := max(a.Offset, 0) // no commit yet (kafka.FirstOffset): everything may be stored
		storedRanges[a.ID] = [2]int64{from, math.MaxInt64}
		recentFrom[a.ID] = max(from-int64(l.cfg.DedupWindow), 0)
	}
	backoff := newBackoff()
	for {
		stored, err := l.sink.Stored(ctx, l.group.topic, storedRanges)
		if err == nil {
			b.recent = map[int]*recentKeys{}
			for _, a := range assigned {
				b.recent[a.ID] = newRecentKeys(l.cfg.DedupWindow)
			}
			err = l.sink.RecentEvents(ctx, l.group.topic, recentFrom, func(p int, tenant, id string) {
				if r := b.recent[p]; r != nil {
					r.add(l.keyer.key(tenant, id))
				}
			})
		}
		if err == nil {
			b.stored = stored
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

func (b *eventBatcher) add(m *kafka.Message) (int, string) {
	l := b.l
	if b.stored[m.Partition].has(m.Offset) {
		return 0, outcomeRedelivered
	}
	received := receivedAt(m)
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
		return b.batch.Rejected.park(m, err), ""
	}
	if b.recent[m.Partition].add(l.keyer.key(ev.Tenant, ev.ID)) {
		return 0, outcomeDuplicate
	}
	b.batch.AddEventByKey(&ev, Position{Partition: m.Partition, Offset: m.Offset}, received, collector.KeyFromHeaders(m.Headers))
	return len(m.Value), ""
}

// dropStored has nothing to find before the first attempt: prepare and the
// window already left out every repeat they can know. After a failed
// attempt it drops the rows stored at the batch's positions.
func (b *eventBatcher) dropStored(ctx context.Context, retried bool) (int, error) {
	if !retried {
		return 0, nil
	}
	stored, err := b.l.sink.Stored(ctx, b.l.group.topic, b.batch.Ranges())
	if err != nil {
		return 0, err
	}
	return b.batch.Drop(stored), nil
}

func (b *eventBatcher) insert(ctx context.Context) error {
	if err := b.l.sink.Insert(ctx, &b.batch); err != nil {
		return err
	}
	now := time.Now()
	for _, t := range b.batch.Events.Ingested {
		b.l.freshness.Observe(now.Sub(t).Seconds())
	}
	return nil
}

func (b *eventBatcher) len() int { return b.batch.Len() }

func (b *eventBatcher) counts() (stored, rejected int) {
	return len(b.batch.Events.ID), len(b.batch.Rejected.Reason)
}

func (b *eventBatcher) reset() { b.batch.Reset() }

func (b *eventBatcher) derive(context.Context) error { return nil }
