package warehouse

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/keelhq/keel/migrations"
)

// Store is Keel's ClickHouse: it stores what the loader reads from Kafka and
// answers the metric queries.
type Store struct {
	conn   driver.Conn
	opts   *clickhouse.Options // how conn was opened, for Dial
	zone   zoneCache
	router *shardRouter // with InsertLocal on a cluster: where each row goes (cluster.go)
}

// Open connects to ClickHouse at url (clickhouse://host:9000/database) over
// the native protocol — the only one ClickHouse 18.16 speaks to
// clickhouse-go — and checks that the server answers.
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, 60*time.Second)
}

// OpenForMigrations is Open for `keel migrate`: a statement may wait up
// to an hour for the server's answer (a migration's backfill rebuilds a
// rollup from every event, minutes at tens of millions), unless the URL
// sets read_timeout.
func OpenForMigrations(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, time.Hour)
}

func open(ctx context.Context, url string, readTimeout time.Duration) (*Store, error) {
	opts, err := clickhouse.ParseDSN(url)
	if err != nil {
		return nil, fmt.Errorf("clickhouse url %q: %w", url, err)
	}
	if opts.DialTimeout == 0 || opts.DialTimeout == 30*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ReadTimeout == 0 {
		// clickhouse-go waits five minutes by default; a server that hangs
		// (starting up, or overloaded) should fail a request much sooner so
		// that callers retry or report it.
		opts.ReadTimeout = readTimeout
	}
	opts.MaxOpenConns = max(opts.MaxOpenConns, 8)
	// On a cluster (migrations/cluster.go) an insert through a
	// Distributed table must return only once every shard has its rows:
	// the loaders check what is stored before they commit offsets. On a
	// single server, which has no Distributed table, it changes nothing.
	// A URL's own setting wins.
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	if _, ok := opts.Settings["insert_distributed_sync"]; !ok {
		opts.Settings["insert_distributed_sync"] = 1
	}
	conn, err := connect(ctx, opts, url)
	if err != nil {
		return nil, err
	}
	return &Store{conn: conn, opts: opts}, nil
}

// connect opens a connection pool and checks that the server answers;
// where names the server in errors.
func connect(ctx context.Context, opts *clickhouse.Options, where string) (driver.Conn, error) {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", where, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to clickhouse %s: %w", where, err)
	}
	return conn, nil
}

// Dial opens a connection to database ("" for the server's default) on
// the server at addr (host:port, native protocol), with the store's
// credentials and settings: how `keel migrate --clickhouse-cluster`
// reaches every node of a cluster (migrations.Dial), and the loaders
// every shard.
func (s *Store) Dial(ctx context.Context, addr, database string) (driver.Conn, error) {
	opts := *s.opts
	opts.Addr = []string{addr}
	opts.Auth.Database = database
	return connect(ctx, &opts, addr+"/"+database)
}

// Conn returns the underlying connection (for migrations and tests).
func (s *Store) Conn() driver.Conn { return s.conn }

// Close closes the connection pools.
func (s *Store) Close() error {
	if s.router != nil {
		s.router.close()
	}
	return s.conn.Close()
}

// CheckSchema returns an error when the ClickHouse schema is not the one this
// binary was built for.
func (s *Store) CheckSchema(ctx context.Context) error {
	return migrations.CheckClickHouse(ctx, s.conn)
}

const (
	insertEvents   = "INSERT INTO events (tenant_id, event_id, event_type, user_id, event_time, props, ingested_at, kafka_topic, kafka_partition, kafka_offset, key_id)"
	insertRejected = "INSERT INTO rejected_events (received_at, kafka_topic, kafka_partition, kafka_offset, tenant_id, reason, raw)"
)

// Insert stores a batch: its events in one insert, its rejected messages in
// another. An insert of one block into one table partition is atomic in
// ClickHouse; a batch spanning months is several parts, so a failure can
// leave part of it stored — which is why the loader reconciles by Kafka
// position before it retries.
func (s *Store) Insert(ctx context.Context, b *Batch) error {
	e := &b.Events
	if err := s.sendRows(ctx, len(e.ID), "events", insertEvents,
		e.Tenant, e.ID, e.Type, e.User, e.Time, e.Props, e.Ingested, repeat(b.Topic, len(e.ID)), e.Partition, e.Offset, e.Key); err != nil {
		return err
	}
	return s.parkRejected(ctx, b.Topic, &b.Rejected)
}

// parkRejected inserts the rejected messages of topic, for both loaders.
func (s *Store) parkRejected(ctx context.Context, topic string, r *RejectedColumns) error {
	return s.sendRows(ctx, len(r.Reason), "rejected messages of "+topic, insertRejected,
		r.Received, repeat(topic, len(r.Reason)), r.Partition, r.Offset, r.Tenant, r.Reason, r.Raw)
}

// sendRows inserts n rows given as columns, if there are any; what names
// them in the error.
func (s *Store) sendRows(ctx context.Context, n int, what, insert string, cols ...any) error {
	if n == 0 {
		return nil
	}
	if err := s.send(ctx, insert, cols...); err != nil {
		return fmt.Errorf("insert %d %s: %w", n, what, err)
	}
	return nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// send inserts whole columns, the cheapest way through clickhouse-go:
// through the store's connection, or on a cluster with InsertLocal
// straight to each row's shard.
func (s *Store) send(ctx context.Context, insert string, cols ...any) error {
	if s.router != nil {
		return s.router.send(ctx, insert, cols)
	}
	return sendTo(ctx, s.conn, insert, cols...)
}

// sendTo inserts whole columns through conn.
func sendTo(ctx context.Context, conn driver.Conn, insert string, cols ...any) error {
	batch, err := conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			batch.Abort()
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}

// positionFilter is the WHERE clause selecting, per partition of topic,
// offsets in [lo, hi]. Partitions are sorted so the SQL is stable.
func positionFilter(topic string, ranges map[int][2]int64) (string, []any) {
	parts := make([]int, 0, len(ranges))
	for p := range ranges {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	var sb strings.Builder
	sb.WriteString("kafka_topic = ? AND (")
	args := make([]any, 0, 1+3*len(parts))
	args = append(args, topic)
	for i, p := range parts {
		if i > 0 {
			sb.WriteString(" OR ")
		}
		sb.WriteString("(kafka_partition = ? AND kafka_offset BETWEEN ? AND ?)")
		r := ranges[p]
		args = append(args, uint32(p), uint64(max(r[0], 0)), uint64(max(r[1], 0)))
	}
	sb.WriteString(")")
	return sb.String(), args
}

// storedQuery selects the Kafka positions already stored, in events or
// rejected_events, within the given ranges.
func storedQuery(topic string, ranges map[int][2]int64) (string, []any) {
	where, args := positionFilter(topic, ranges)
	sql := "SELECT kafka_partition, kafka_offset FROM events WHERE " + where +
		" UNION ALL SELECT kafka_partition, kafka_offset FROM rejected_events WHERE " + where
	return sql, append(args, args...)
}

// Stored returns the positions of topic within ranges (inclusive, per
// partition) that are already in ClickHouse.
func (s *Store) Stored(ctx context.Context, topic string, ranges map[int][2]int64) (map[int]*offsetSet, error) {
	out := map[int]*offsetSet{}
	if len(ranges) == 0 {
		return out, nil
	}
	sql, args := storedQuery(topic, ranges)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read stored kafka positions: %w", err)
	}
	defer rows.Close()
	var p uint32
	var o uint64
	for rows.Next() {
		if err := rows.Scan(&p, &o); err != nil {
			return nil, fmt.Errorf("read stored kafka positions: %w", err)
		}
		set := out[int(p)]
		if set == nil {
			set = &offsetSet{}
			out[int(p)] = set
		}
		set.add(int64(o))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored kafka positions: %w", err)
	}
	return out, nil
}

// recentQuery selects the identities of the events stored at or after the
// given offset of each partition, oldest first.
func recentQuery(topic string, from map[int]int64) (string, []any) {
	ranges := make(map[int][2]int64, len(from))
	for p, o := range from {
		ranges[p] = [2]int64{o, math.MaxInt64}
	}
	where, args := positionFilter(topic, ranges)
	return "SELECT kafka_partition, tenant_id, event_id FROM events WHERE " + where +
		" ORDER BY kafka_partition, kafka_offset", args
}

// RecentEvents calls fn with the identity of every event of topic stored at
// or after the given offset of each partition, in Kafka order.
func (s *Store) RecentEvents(ctx context.Context, topic string, from map[int]int64, fn func(partition int, tenant, id string)) error {
	if len(from) == 0 {
		return nil
	}
	sql, args := recentQuery(topic, from)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("read recent event ids: %w", err)
	}
	defer rows.Close()
	var (
		p          uint32
		tenant, id string
	)
	for rows.Next() {
		if err := rows.Scan(&p, &tenant, &id); err != nil {
			return fmt.Errorf("read recent event ids: %w", err)
		}
		fn(int(p), tenant, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read recent event ids: %w", err)
	}
	return nil
}

// EventCount returns how many events are stored (duplicates the merges
// have not removed yet included): enough to tell when a load has settled.
func (s *Store) EventCount(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}
