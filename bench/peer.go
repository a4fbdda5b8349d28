package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

// The peer of the ingest bench: what a user would set up instead of Keel —
// product apps producing to Kafka, and ClickHouse's own Kafka engine
// reading the topic through a materialized view into a table shaped like
// events. It is measured in the same run on the same machine, from the
// first message produced to the last row queryable, with the engine's
// defaults (one consumer, its block size and flush interval). The messages
// are shaped for it (props as a JSON string, the time as ClickHouse reads
// it), since ClickHouse 18.16's JSONEachRow cannot read an object into a
// String column. It is at-least-once: a consumer restart re-reads what it
// had not committed; the run reports what it stored.

// peerResult is what the peer run measured.
type peerResult struct {
	Skipped    string  // why the peer was not measured; "" when it was
	Rate       float64 // events/s, first message produced → last row queryable
	Stored     uint64
	Distinct   uint64
	ServerCPU  time.Duration // ClickHouse's CPU over the run
	ServerSeen bool          // whether ClickHouse's process was found to measure
}

// kafkaEnginePeer runs the peer on a topic and tables of the run's own.
func (r *ingestRun) kafkaEnginePeer(ctx context.Context, evs []ingest.Event) (peerResult, error) {
	var res peerResult
	topic := r.topic + ".peer"
	if err := collector.EnsureTopic(ctx, r.cfg.Brokers, topic, 8); err != nil {
		return res, err
	}
	r.topics = append(r.topics, topic)
	db, err := databaseOf(r.box.ClickHouse)
	if err != nil {
		return res, err
	}
	conn := r.store.Conn()
	stmts := []string{
		fmt.Sprintf("CREATE TABLE %s.peer_events AS %s.events", db, db),
		fmt.Sprintf(`CREATE TABLE %s.peer_queue (tenant_id String, event_id String, event_type String, user_id String, event_time DateTime('UTC'), props String)
ENGINE = Kafka SETTINGS kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s', kafka_format = 'JSONEachRow'`,
			db, strings.Join(r.cfg.Brokers, ","), topic, "keel-bench-"+r.id+"-peer"),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW %s.peer_view TO %s.peer_events AS
SELECT tenant_id, event_id, event_type, user_id, event_time, props, now() AS ingested_at, '%s' AS kafka_topic, toUInt32(0) AS kafka_partition, toUInt64(0) AS kafka_offset, toUInt64(0) AS key_id
FROM %s.peer_queue`, db, db, topic, db),
	}
	for _, s := range stmts {
		if err := conn.Exec(ctx, s); err != nil {
			return res, fmt.Errorf("peer: %w", err)
		}
	}
	// The engine stops reading when its tables go; the sandbox drops the
	// rest with its database.
	defer conn.Exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s.peer_view", db))
	defer conn.Exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s.peer_queue", db))

	w := &kafka.Writer{Addr: kafka.TCP(r.cfg.Brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: 16 << 20, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	count := func() (n, distinct uint64, err error) {
		err = conn.QueryRow(ctx, fmt.Sprintf("SELECT count(), uniqExact(event_id) FROM %s.peer_events", db)).Scan(&n, &distinct)
		return n, distinct, err
	}
	// A new consumer group starts at the end of the topic: a probe, seen
	// stored, says the engine is assigned and reading before the clock
	// starts.
	fmt.Fprintf(r.stderr, "bench: peer — ClickHouse's Kafka engine: waiting for it to join the topic …\n")
	probe := ingest.Event{ID: "bench-" + r.id + "-probe", Type: ingest.TypeLogin, Tenant: "bench-" + r.id + "-probe", User: "u", Time: time.Now().UTC().Truncate(time.Second), Props: "{}"}
	deadline := time.Now().Add(time.Minute)
	for {
		// A topic just made may not be known to every broker yet: the
		// probe is sent again until it is.
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(probe.Tenant), Value: peerMessage(&probe)}); err != nil {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("peer: produce: %w", err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if n, _, err := waitCount(ctx, count, 1, 10*time.Second); err != nil {
			return res, err
		} else if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("ClickHouse's Kafka engine stored nothing of topic %s in a minute (the ClickHouse server's log says why; ClickHouse 18.16's librdkafka cannot read Apache Kafka 4 brokers, which dropped the protocol versions it speaks)", topic)
		}
	}
	base, _, err := count()
	if err != nil {
		return res, err
	}
	msgs := make([]kafka.Message, len(evs))
	for i := range evs {
		msgs[i] = kafka.Message{Key: []byte(evs[i].Tenant), Value: peerMessage(&evs[i])}
	}
	fmt.Fprintf(r.stderr, "bench: peer — producing %d events to Kafka for ClickHouse's Kafka engine …\n", len(evs))
	chPID := listenerPID(r.clickhouseAddr())
	cpu := newCPUMeter(map[string]int{"clickhouse": chPID})
	start := time.Now()
	var g errgroup.Group
	const producers = 4
	per := (len(msgs) + producers - 1) / producers
	for p := 0; p < producers; p++ {
		part := msgs[min(p*per, len(msgs)):min((p+1)*per, len(msgs))]
		g.Go(func() error {
			for i := 0; i < len(part); i += 10000 {
				if err := w.WriteMessages(ctx, part[i:min(i+10000, len(part))]...); err != nil {
					return fmt.Errorf("peer: produce: %w", err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	n, distinct, err := waitCount(ctx, count, base+uint64(len(evs)), 10*time.Minute)
	if err != nil {
		return res, err
	}
	if n < base+uint64(len(evs)) {
		return res, fmt.Errorf("peer: ClickHouse's Kafka engine stored %d of %d events in 10 minutes", n-base, len(evs))
	}
	el := time.Since(start)
	cpu.stop()
	res.Rate = float64(len(evs)) / el.Seconds()
	res.Stored, res.Distinct = n-base, distinct-base
	res.ServerCPU, res.ServerSeen = cpu.Spent["clickhouse"], chPID != 0
	return res, nil
}

// waitCount polls count until it reaches want or timeout passes, and
// returns the last counts.
func waitCount(ctx context.Context, count func() (uint64, uint64, error), want uint64, timeout time.Duration) (uint64, uint64, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, d, err := count()
		if err != nil || n >= want || time.Now().After(deadline) {
			return n, d, err
		}
		select {
		case <-ctx.Done():
			return n, d, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// peerMessage is an event as the peer's product apps would produce it for
// the Kafka engine: the events table's columns.
func peerMessage(e *ingest.Event) []byte {
	b, _ := json.Marshal(struct {
		Tenant string `json:"tenant_id"`
		ID     string `json:"event_id"`
		Type   string `json:"event_type"`
		User   string `json:"user_id"`
		Time   string `json:"event_time"`
		Props  string `json:"props"`
	}{e.Tenant, e.ID, e.Type, e.User, e.Time.UTC().Format(time.DateTime), e.Props})
	return b
}

// databaseOf is the database a ClickHouse URL names ("default" when none).
func databaseOf(chURL string) (string, error) {
	u, err := url.Parse(chURL)
	if err != nil {
		return "", err
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		return db, nil
	}
	return "default", nil
}

// clickhouseAddr is the host:port of the ClickHouse server the run uses.
func (r *ingestRun) clickhouseAddr() string {
	u, err := url.Parse(r.box.ClickHouse)
	if err != nil {
		return ""
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return net.JoinHostPort(u.Host, "9000")
	}
	return u.Host
}
