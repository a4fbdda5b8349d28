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
//  3. Kafka → ClickHouse (this loader). The worker both loaders share
//     (worker.go) commits offsets only after the batch they cover is
//     stored, so a loader killed at any moment loses nothing; the next
//     owner of the partition reads the uncommitted messages again. This
//     loader's batcher drops repeats inside the batch, and before every
//     insert attempt asks ClickHouse which of the batch's fact ids it
//     already has and drops those. That one check covers every source of
//     repeats: a relay's re-send, a re-delivery after a loader crash, and an
//     insert that failed half-way (it is made again before the retry). It
//     is exact because a fact id only ever arrives on one partition, and a
//     partition has one loader at a time: a consumer-group generation ends
//     only after every goroutine of the old one returned, so no check races
//     an insert of the same id. (The events loader cannot afford a
//     ClickHouse lookup per batch at its rate, and keeps a window of recent
//     ids per partition instead; facts are few enough, and the check also
//     catches re-sends at any distance.)
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
// most three fetches of 512 KiB (worker.go), the batch at most BatchRows
// rows or BatchBytes bytes, and the in-batch dedup sets one id per fact of
// the batch.

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
	"github.com/keelhq/keel/ingest/collector"
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
	// RecomputeRevenue computes customers' revenue again from their facts
	// (revenue.go), days cut in loc.
	RecomputeRevenue(ctx context.Context, customers []uint64, loc *time.Location) error
	// RevenueCustomers lists every customer with revenue facts.
	RevenueCustomers(ctx context.Context) ([]uint64, error)
	// InsertSpend stores spend.set facts.
	InsertSpend(ctx context.Context, facts []keel.Fact) error
}

var _ FactSink = (*Store)(nil)

// FactLoaderConfig configures a FactLoader.
type FactLoaderConfig struct {
	Brokers []string
	Topic   string // default "keel.facts"
	Group   string // consumer group; default "keel-facts-loader"

	BatchRows     int           // flush at this many rows (facts, tenant links, parked messages); default 5,000
	BatchBytes    int           // or this many bytes of messages; default 8 MiB
	FlushInterval time.Duration // or this long after the first message; default 200 ms

	InsertTimeout  time.Duration // one insert attempt; default 10 s
	SessionTimeout time.Duration // consumer group session; default 10 s

	// Location is the reporting timezone revenue cuts days in (a void's
	// day); nil = UTC.
	Location *time.Location

	// Registerer receives the loader's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// groupConfig returns the consumer-group settings, defaults applied.
func (c FactLoaderConfig) groupConfig() groupConfig {
	return groupConfig{c.Brokers, c.Topic, c.Group, c.BatchRows, c.BatchBytes, c.FlushInterval, c.InsertTimeout, c.SessionTimeout}.
		or(groupConfig{topic: keel.FactsTopic, id: "keel-facts-loader", batchRows: 5000, batchBytes: 8 << 20})
}

// Validate checks the configuration; unset settings take their defaults.
func (c FactLoaderConfig) Validate() error {
	return c.groupConfig().validate("facts loader")
}

// FactLoader moves facts from Kafka to ClickHouse. Run several with the same
// group: Kafka spreads the partitions over them. The comment at the top of
// this file explains why each fact is stored and counted exactly once.
type FactLoader struct {
	sink  FactSink
	loc   *time.Location
	log   *slog.Logger
	m     *loadMetrics
	group *group
}

// NewFactLoader returns a facts loader writing to sink. It fails on an
// invalid configuration or when its metrics cannot be registered.
func NewFactLoader(cfg FactLoaderConfig, sink FactSink, log *slog.Logger) (*FactLoader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &FactLoader{sink: sink, log: log, loc: cfg.Location}
	l.m = newLoadMetrics("keel_facts_loader", metricsHelp{
		messages:   "Facts messages by outcome: stored, duplicate (already stored or repeated in the batch: a relay re-send or a re-delivery), rejected (parked with a reason).",
		insert:     "Time to check and store one batch of facts in ClickHouse.",
		batchRows:  "Rows (facts, tenant links, parked messages) per stored batch of facts.",
		lag:        "Messages between the facts loader's position and the end of each partition.",
		partitions: "Partitions of the facts topic this loader owns now.",
		errors:     "Failed attempts by step (insert, commit, topic); each is retried.",
	})
	l.group = newGroup("facts loader", cfg.groupConfig(), log, l.m)
	if cfg.Registerer != nil {
		for _, c := range l.m.collectors() {
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
	return l.group.run(ctx, func(context.Context, []kafka.PartitionAssignment) batcher {
		return &factBatcher{l: l, seen: map[int64]struct{}{}, links: map[int64]struct{}{}, revenue: map[uint64]struct{}{}, batch: FactBatch{Topic: l.group.topic}}
	})
}

// waitTopic waits until the facts topic exists (keel migrate creates it),
// so that a loader started first does not join a group with nothing to
// read. It returns false when ctx ended first.
func (l *FactLoader) waitTopic(ctx context.Context) bool {
	backoff := newBackoff()
	for i := 0; ; i++ {
		err := collector.TopicReady(ctx, l.group.brokers, l.group.topic)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		l.m.errors.WithLabelValues("topic").Inc()
		if i%10 == 0 { // once a minute or so, not on every attempt
			l.log.Warn("facts loader: waiting for the facts topic", "topic", l.group.topic, "err", err)
		}
		if !backoff.wait(ctx) {
			return false
		}
	}
}

// factBatcher is the facts loader's batcher for one generation. Unlike the
// events loader's it has nothing to prepare when it takes a partition: it
// drops a fact repeated within the batch by its id, and checks the batch's
// ids against ClickHouse before every insert attempt.
type factBatcher struct {
	l     *FactLoader
	seen  map[int64]struct{} // fact ids in the batch
	links map[int64]struct{} // fact ids of the batch's links
	batch FactBatch

	// What the batch's facts change beyond the facts table, new or seen
	// before (derive explains why both): customers whose revenue to
	// compute again, whether the settings changed (then everyone's), and
	// spend entered.
	revenue  map[uint64]struct{}
	settings bool
	spend    []keel.Fact
}

var _ batcher = (*factBatcher)(nil)

func (b *factBatcher) add(m *kafka.Message) (int, string) {
	f, err := keel.ParseFact(m.Value)
	var key [20]byte
	if err == nil && !bytes.Equal(m.Key, strconv.AppendInt(key[:0], f.CustomerID, 10)) {
		err = fmt.Errorf("kafka message key %q is not the fact's customer_id %d; key facts by customer", truncateString(string(m.Key), 64), f.CustomerID)
	}
	if err == nil {
		err = checkRevenueFact(f)
	}
	if err != nil {
		return b.batch.Rejected.park(m, err), ""
	}
	if f.Kind == keel.FactTenantLinked {
		// Even for a fact seen before: its link may be what a crash lost.
		if _, dup := b.links[f.ID]; !dup {
			b.links[f.ID] = struct{}{}
			b.batch.AddLink(&f)
		}
	}
	switch f.Kind {
	case keel.FactSubscriptionChanged:
		b.revenue[uint64(f.CustomerID)] = struct{}{}
	case keel.FactSettingsChanged:
		b.settings = true
	case keel.FactSpendSet:
		b.spend = append(b.spend, f)
	}
	if _, dup := b.seen[f.ID]; dup {
		return 0, outcomeDuplicate
	}
	b.seen[f.ID] = struct{}{}
	b.batch.AddFact(&f, Position{Partition: m.Partition, Offset: m.Offset}, time.Now())
	return len(m.Value), ""
}

// dropStored removes from the batch the facts and rejected messages that
// ClickHouse already has, before every attempt: first it finds re-sent and
// re-delivered facts, after a failed attempt also the rows that attempt did
// store. It returns how many facts it removed (also with an error, for the
// check of the rejected messages can fail after). Facts are checked by id
// (a re-sent fact has a new Kafka position), rejected messages by position
// (they have no id to trust).
func (b *factBatcher) dropStored(ctx context.Context, _ bool) (int, error) {
	l := b.l
	n := 0
	if len(b.batch.Facts.ID) > 0 {
		stored, err := l.sink.StoredFacts(ctx, b.batch.Keys())
		if err != nil {
			return 0, err
		}
		if n = b.batch.DropFacts(stored); n > 0 {
			l.log.Debug("facts loader: dropped facts already stored", "facts", n)
		}
	}
	if len(b.batch.Rejected.Reason) > 0 {
		stored, err := l.sink.Stored(ctx, l.group.topic, b.batch.RejectedRanges())
		if err != nil {
			return n, err
		}
		b.batch.DropRejected(stored)
	}
	return n, nil
}

func (b *factBatcher) insert(ctx context.Context) error { return b.l.sink.InsertFacts(ctx, &b.batch) }

// derive computes again the revenue of the batch's customers (of every
// customer after a settings change) and stores the spend entered. It does
// so for facts it had stored before too: a loader killed between storing
// facts and computing revenue left the offsets uncommitted, and this is
// where the re-delivered messages finish its work. Computing again is
// harmless: the same facts give the same rows.
func (b *factBatcher) derive(ctx context.Context) error {
	l := b.l
	var ids []uint64
	if b.settings {
		all, err := l.sink.RevenueCustomers(ctx)
		if err != nil {
			return err
		}
		ids = all
	} else {
		for id := range b.revenue {
			ids = append(ids, id)
		}
	}
	if err := l.sink.RecomputeRevenue(ctx, ids, l.loc); err != nil {
		return err
	}
	return l.sink.InsertSpend(ctx, b.spend)
}

func (b *factBatcher) len() int { return b.batch.Len() }

func (b *factBatcher) counts() (stored, rejected int) {
	return len(b.batch.Facts.ID), len(b.batch.Rejected.Reason)
}

func (b *factBatcher) reset() {
	b.batch.Reset()
	clear(b.seen)
	clear(b.links)
	clear(b.revenue)
	b.settings, b.spend = false, b.spend[:0]
}
