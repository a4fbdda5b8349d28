package warehouse

// # The facts loader, and why a fact is counted exactly once
//
// Facts are Postgres changes the warehouse must know: an order approved or
// voided, a subscription changed, a customer created or updated, a tenant
// linked to a customer. Their message, kinds and payloads are the root
// package's contract (keel.Fact, fact.go), which the relay encodes with and
// this loader parses with. They reach ClickHouse in three hops, and each
// hop either cannot lose a fact or repeats it until it is through:
//
//  1. Postgres → outbox. The change and its fact are written by the same
//     transaction (postgres.AddFact): both commit or neither does.
//
//  2. Outbox → Kafka (keel relay, postgres/outbox.go). Unsent rows are
//     published and marked sent only after Kafka acknowledged them (acks =
//     all). A relay killed between the acknowledgement and the mark sends
//     them again, so a fact may be in Kafka more than once — always with
//     the same fact id (the outbox id) and the same key (the customer id),
//     hence on the same partition.
//
//  3. Kafka → ClickHouse (this loader). Offsets are committed only after the
//     batch they cover is stored, so a loader killed at any moment loses
//     nothing; the next owner of the partition reads the uncommitted
//     messages again. Before every insert the loader asks ClickHouse which
//     of the batch's fact ids it already has and drops those, and it drops
//     repeats inside the batch. That one check covers every source of
//     repeats: a relay's re-send, a re-delivery after a loader crash, and
//     an insert that failed half-way (it is made again before the retry).
//     It is exact because a fact id only ever arrives on one partition, and
//     a partition has one loader at a time: a consumer-group generation
//     ends only after every goroutine of the old one returned, so no check
//     races an insert of the same id.
//
// Underneath, facts is a ReplacingMergeTree keyed on (customer_id, fact_id)
// and every query counts distinct fact ids (uniqExact) or takes one row per
// id (argMax), so even a duplicate outside the check — a loader that was
// expelled from its group while its insert was still running, or partitions
// added to the topic so that a re-sent fact lands elsewhere — never changes
// a number.
//
// Malformed messages (keel.ParseFact's refusals, or a Kafka key that is not
// the fact's customer) are parked in rejected_events with the reason (kafka
// topic keel.facts, the message key in tenant_id) and the loader goes on;
// before parking it checks their Kafka positions so a re-delivered one is
// parked once.
//
// Tenant links (tenant_links) are written by the loader for every valid
// tenant.linked message it reads, new or seen before. A crash between
// storing the fact and storing its link therefore heals when the message is
// read again, and writing a link twice is harmless: a tenant belongs to the
// customer of its latest link, argMax(customer_id, fact_id).
//
// Memory is bounded whatever the backlog: each partition's reader holds at
// most three fetches of 512 KiB (the readers are the events loader's, see
// group.go), the batch at most BatchRows messages or BatchBytes bytes, and
// the in-batch dedup sets one id per fact of the batch.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// FactSink is what the facts loader needs from ClickHouse.
type FactSink interface {
	// InsertFacts stores a batch: facts, rejected messages and tenant links.
	InsertFacts(ctx context.Context, b *FactBatch) error
	// StoredFacts returns which of the given facts are stored.
	StoredFacts(ctx context.Context, keys []FactKey) (map[uint64]bool, error)
	// Stored returns which positions of topic within ranges are stored
	// (here: which rejected messages are parked already).
	Stored(ctx context.Context, topic string, ranges map[int][2]int64) (map[int]*offsetSet, error)
}

var _ FactSink = (*Store)(nil)

// FactLoaderConfig configures a FactLoader.
type FactLoaderConfig struct {
	Brokers []string
	Topic   string // default "keel.facts"
	Group   string // consumer group; default "keel-facts-loader"

	BatchRows     int           // flush at this many messages; default 5,000
	BatchBytes    int           // or this many bytes of messages; default 8 MiB
	FlushInterval time.Duration // or this long after the first message; default 200 ms

	InsertTimeout  time.Duration // one insert attempt; default 10 s
	SessionTimeout time.Duration // consumer group session; default 10 s

	// Registerer receives the loader's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// Validate checks the configuration after defaults are applied.
func (c FactLoaderConfig) Validate() error {
	return c.group(nil).validate()
}

// group returns the consumer-group settings. They are the same as the events
// loader's; only the defaults differ.
func (c FactLoaderConfig) group(log *slog.Logger) *group {
	return &group{name: "facts loader", brokers: c.Brokers, topic: c.Topic, id: c.Group,
		batchRows: c.BatchRows, batchBytes: c.BatchBytes, flushInterval: c.FlushInterval,
		insertTimeout: c.InsertTimeout, sessionTimeout: c.SessionTimeout, log: log}
}

func (c *FactLoaderConfig) defaults() {
	if c.Topic == "" {
		c.Topic = keel.FactsTopic
	}
	if c.Group == "" {
		c.Group = "keel-facts-loader"
	}
	if c.BatchRows == 0 {
		c.BatchRows = 5000
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 8 << 20
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.InsertTimeout == 0 {
		c.InsertTimeout = 10 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
}

// FactLoader moves facts from Kafka to ClickHouse. Run several with the same
// group: Kafka spreads the partitions over them. The comment at the top of
// this file explains why each fact is stored and counted exactly once.
type FactLoader struct {
	cfg   FactLoaderConfig
	sink  FactSink
	log   *slog.Logger
	m     factMetrics
	group *group
}

type factMetrics struct {
	groupMetrics
	messages  *prometheus.CounterVec
	insert    prometheus.Histogram
	batchRows prometheus.Histogram
}

// NewFactLoader returns a facts loader writing to sink. It fails on an
// invalid configuration or when its metrics cannot be registered.
func NewFactLoader(cfg FactLoaderConfig, sink FactSink, log *slog.Logger) (*FactLoader, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &FactLoader{cfg: cfg, sink: sink, log: log}
	l.m = factMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_facts_loader_messages_total",
			Help: "Facts messages by outcome: stored, duplicate (already stored or repeated in the batch: a relay re-send or a re-delivery), rejected (parked with a reason).",
		}, []string{"outcome"}),
		insert: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_facts_loader_insert_seconds", Help: "Time to check and store one batch of facts in ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13),
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_facts_loader_batch_rows", Help: "Messages per flushed batch of facts.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		groupMetrics: groupMetrics{
			lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "keel_facts_loader_lag_messages", Help: "Messages between the facts loader's position and the end of each partition.",
			}, []string{"partition"}),
			partitions: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "keel_facts_loader_partitions", Help: "Partitions of the facts topic this loader owns now.",
			}),
			errors: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "keel_facts_loader_errors_total", Help: "Failed attempts by step (insert, commit, topic); each is retried.",
			}, []string{"step"}),
		},
	}
	l.group = cfg.group(log)
	l.group.m = l.m.groupMetrics
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{l.m.messages, l.m.insert, l.m.batchRows, l.m.lag, l.m.partitions, l.m.errors} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("facts loader: register metrics: %w", err)
			}
		}
	}
	return l, nil
}

// Run consumes until ctx ends. It returns nil on a clean shutdown; a missing
// topic, broker and ClickHouse outages are waited out, not returned.
func (l *FactLoader) Run(ctx context.Context) error {
	if !l.waitTopic(ctx) {
		return nil
	}
	return l.group.run(ctx, func(ctx context.Context, gen *kafka.Generation, assigned []kafka.PartitionAssignment) {
		w := &factWorker{l: l, gen: gen, next: map[int]int64{}, seen: map[int64]struct{}{},
			links: map[int64]struct{}{}, batch: FactBatch{Topic: l.cfg.Topic}}
		l.group.consume(ctx, assigned, w)
	})
}

// waitTopic waits until the facts topic exists (keel migrate creates it),
// so that a loader started first does not join a group with nothing to
// read. It returns false when ctx ended first.
func (l *FactLoader) waitTopic(ctx context.Context) bool {
	backoff := newBackoff()
	for i := 0; ; i++ {
		err := ingest.TopicReady(ctx, l.cfg.Brokers, l.cfg.Topic)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		l.m.errors.WithLabelValues("topic").Inc()
		if i%10 == 0 { // once a minute or so, not on every attempt
			l.log.Warn("facts loader: waiting for the facts topic", "topic", l.cfg.Topic, "err", err)
		}
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// factWorker loads the partitions of one consumer-group generation. Unlike
// the events loader's worker it has nothing to prepare when it takes a
// partition: facts are few enough to check every batch's ids against
// ClickHouse, which also covers re-sends from the relay at any distance,
// where the events loader needs a window of recent ids per partition.
type factWorker struct {
	l   *FactLoader
	gen *kafka.Generation

	next  map[int]int64      // offset to commit per partition
	seen  map[int64]struct{} // fact ids in the batch
	links map[int64]struct{} // fact ids of the batch's links
	batch FactBatch
	msgs  int // messages since the last commit
	bytes int
}

// add judges one message and puts it in the batch, or counts it as a
// duplicate. It reports whether the batch is full.
func (w *factWorker) add(m *kafka.Message) (full bool) {
	l := w.l
	w.msgs++
	w.next[m.Partition] = m.Offset + 1
	pos := Position{Partition: m.Partition, Offset: m.Offset}
	f, err := keel.ParseFact(m.Value)
	var key [20]byte
	if err == nil && !bytes.Equal(m.Key, strconv.AppendInt(key[:0], f.CustomerID, 10)) {
		err = fmt.Errorf("kafka message key %q is not the fact's customer_id %d; key facts by customer", truncateString(string(m.Key), 64), f.CustomerID)
	}
	if err != nil {
		raw := rejectedRaw(m.Value)
		w.batch.AddRejected(pos, receivedAt(m), truncateString(string(m.Key), 128), err.Error(), raw)
		w.bytes += len(raw)
		return w.full()
	}
	if f.Kind == keel.FactTenantLinked {
		// Even for a fact seen before: its link may be what a crash lost.
		if _, dup := w.links[f.ID]; !dup {
			w.links[f.ID] = struct{}{}
			w.batch.AddLink(&f)
		}
	}
	if _, dup := w.seen[f.ID]; dup {
		l.m.messages.WithLabelValues("duplicate").Inc()
		return w.full()
	}
	w.seen[f.ID] = struct{}{}
	w.batch.AddFact(&f, pos, time.Now())
	w.bytes += len(m.Value)
	return w.full()
}

// full reports whether the batch reached BatchRows messages or BatchBytes.
func (w *factWorker) full() bool {
	return w.msgs >= w.l.cfg.BatchRows || w.bytes >= w.l.cfg.BatchBytes
}

// flush stores the batch and commits the offsets it covers. It returns false
// when the generation ended before that could be done.
func (w *factWorker) flush(ctx context.Context) bool {
	l := w.l
	if w.batch.Len() > 0 {
		if !w.store(ctx) {
			return false
		}
	}
	if !l.group.commit(ctx, w.gen, w.next) {
		return false
	}
	l.m.batchRows.Observe(float64(w.msgs))
	w.batch.Reset()
	clear(w.seen)
	clear(w.links)
	w.msgs, w.bytes = 0, 0
	return true
}

// store drops what ClickHouse already has and inserts the rest, retrying
// until it is stored or the generation ends. The check runs before every
// attempt: first it finds re-sent and re-delivered facts, later also the
// rows a failed attempt did store.
func (w *factWorker) store(ctx context.Context) bool {
	l := w.l
	backoff := newBackoff()
	// What the checks before the first insert attempt drop is a duplicate;
	// what they drop after one may be that attempt's own rows, which are
	// counted as stored.
	tried := false
	var facts, rejected int
	for attempt := 1; ; attempt++ {
		start := time.Now()
		dups, err := w.dropStored(ctx)
		if !tried {
			l.m.messages.WithLabelValues("duplicate").Add(float64(dups))
		}
		if err == nil {
			if !tried {
				facts, rejected = len(w.batch.Facts.ID), len(w.batch.Rejected.Reason)
			}
			if w.batch.Len() > 0 {
				tried = true
				insCtx, cancel := l.group.insertContext(ctx)
				err = l.sink.InsertFacts(insCtx, &w.batch)
				cancel()
			}
			if err == nil {
				l.m.insert.Observe(time.Since(start).Seconds())
				l.m.messages.WithLabelValues("stored").Add(float64(facts))
				l.m.messages.WithLabelValues("rejected").Add(float64(rejected))
				return true
			}
		}
		l.m.errors.WithLabelValues("insert").Inc()
		l.log.Warn("facts loader: store batch", "facts", len(w.batch.Facts.ID), "attempt", attempt, "err", err)
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// dropStored removes from the batch the facts and rejected messages that
// ClickHouse already has, and returns how many facts it removed (also with
// an error, for the check of the rejected messages can fail after). Facts are
// checked by id (a re-sent fact has a new Kafka position), rejected messages
// by position (they have no id to trust).
func (w *factWorker) dropStored(ctx context.Context) (int, error) {
	l := w.l
	n := 0
	if len(w.batch.Facts.ID) > 0 {
		stored, err := l.sink.StoredFacts(ctx, w.batch.Keys())
		if err != nil {
			return 0, err
		}
		if n = w.batch.DropFacts(stored); n > 0 {
			l.log.Debug("facts loader: dropped facts already stored", "facts", n)
		}
	}
	if len(w.batch.Rejected.Reason) > 0 {
		stored, err := l.sink.Stored(ctx, l.cfg.Topic, w.batch.RejectedRanges())
		if err != nil {
			return n, err
		}
		w.batch.DropRejected(stored)
	}
	return n, nil
}
