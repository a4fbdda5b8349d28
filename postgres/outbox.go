package postgres

// # The outbox and its relay
//
// A change that ClickHouse must learn about writes a fact into the outbox
// table in the same transaction (AddFact), so the fact exists exactly when
// the change committed. The relay publishes unsent facts to Kafka and marks
// them sent only after Kafka acknowledged them (acks = all):
//
//   - nothing is lost: a fact stays unsent, and is read again, until Kafka
//     has it;
//   - a relay killed between the acknowledgement and the mark sends the
//     batch again on its next turn (or its successor does). That is the only
//     way a fact reaches Kafka twice, and always with the same fact id (the
//     outbox id) and key, so the facts loader (warehouse/facts_loader.go)
//     stores it once.
//
// What the relay publishes is keel.Fact's message (fact.go in the root
// package holds the contract both sides share): the outbox row's id, kind
// and payload, encoded by keel.Fact.Encode, keyed by the customer id, with
// the id in the keel-fact-id header too.
//
// One relay works at a time: it holds a Postgres advisory lock on its own
// connection, and reads and marks rows on that same connection, so a relay
// that lost its connection — and with it the lock — cannot mark anything.
// Other relays wait for the lock and take over the moment the holder's
// connection goes away (a crash, kill -9, a network cut). Two relays could
// at worst overlap by one batch in flight, which is again a harmless
// re-send. One relay at a time keeps a customer's facts in id order in
// Kafka; ids follow the order transactions inserted them, so facts of one
// customer reach Kafka in the order they were made as long as the changes
// that make them are serialised (the domain locks the customer's or the
// order's row).
//
// The relay wakes on LISTEN/NOTIFY: a statement trigger on outbox notifies
// keel_outbox, which Postgres delivers at commit — a fact is on its way
// within milliseconds, and a rolled-back transaction wakes no one. It also
// looks every PollInterval (1 s) in case a notification was missed, e.g.
// while it was reconnecting.
//
// A fact that can never be published (its topic does not exist, it is too
// large for the broker) stops the relay at that fact, retried with back-off
// and logged, rather than being skipped: skipping would break the order and
// lose the fact. keel_relay_backlog shows it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
)

// AddFact records f in the outbox inside the caller's transaction, so the
// fact is published if and only if tx commits; a zero f.At means now. It
// returns a keel.EINVALID error naming the field for a fact that could
// never be stored (keel.Fact.Check), and the database's error otherwise.
func AddFact(ctx context.Context, tx pgx.Tx, f keel.Fact) error {
	payload, err := outboxPayload(f, time.Now())
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (key, kind, payload) VALUES ($1, $2, $3)`,
		strconv.FormatInt(f.CustomerID, 10), string(f.Kind), payload); err != nil {
		return fmt.Errorf("add fact %s for customer %d: %w", f.Kind, f.CustomerID, err)
	}
	return nil
}

// invalidFact is the refusal of a fact that keel.Fact.Check refuses.
func invalidFact(err error) error {
	return keel.Errorf(keel.EINVALID, "fact %v", err)
}

// storedPayload is the outbox's payload column: a fact without its id and
// kind, which are columns of their own. Rows written by earlier versions
// have this shape too, so it does not change.
type storedPayload struct {
	CustomerID int64           `json:"customer_id"`
	Tenant     string          `json:"tenant"`
	At         time.Time       `json:"at"`
	Data       json.RawMessage `json:"data"`
}

// outboxPayload checks f and returns its outbox payload; a zero f.At is now.
func outboxPayload(f keel.Fact, now time.Time) ([]byte, error) {
	if f.At.IsZero() {
		f.At = now
	}
	f.At = f.At.UTC()
	if err := f.Check(); err != nil {
		return nil, invalidFact(err)
	}
	if len(f.Data) == 0 {
		f.Data = json.RawMessage("{}")
	}
	return json.Marshal(storedPayload{CustomerID: f.CustomerID, Tenant: f.Tenant, At: f.At, Data: f.Data})
}

// outboxRow is an outbox row's fact as the relay reads it
// (outboxRowColumns): Postgres takes the payload apart, which costs less
// than decoding the JSON again here.
type outboxRow struct {
	id                         int64
	kind, customer, tenant, at string
	data                       []byte // as jsonb prints it: spaced, which Encode undoes
}

// outboxRowColumns select an outboxRow, in its fields' order.
const outboxRowColumns = `id, kind, coalesce(payload->>'customer_id', ''), coalesce(payload->>'tenant', ''),
    coalesce(payload->>'at', ''), coalesce(payload->'data', '{}')::text`

// dest returns where rows.Scan puts the columns.
func (r *outboxRow) dest() []any {
	return []any{&r.id, &r.kind, &r.customer, &r.tenant, &r.at, &r.data}
}

// fact returns the row's fact, as the relay publishes it.
func (r *outboxRow) fact() (keel.Fact, error) {
	customer, err := strconv.ParseInt(r.customer, 10, 64)
	if err != nil {
		return keel.Fact{}, fmt.Errorf("outbox row %d: payload customer_id %q is not an integer", r.id, r.customer)
	}
	at, err := time.Parse(time.RFC3339Nano, r.at)
	if err != nil {
		return keel.Fact{}, fmt.Errorf("outbox row %d: payload at %q is not an RFC 3339 time", r.id, r.at)
	}
	return keel.Fact{ID: r.id, Kind: keel.FactKind(r.kind), CustomerID: customer, Tenant: r.tenant, At: at.UTC(), Data: r.data}, nil
}

// RelayConfig configures a Relay.
type RelayConfig struct {
	Brokers      []string
	BatchSize    int           // rows read and published at a time; default 500
	PollInterval time.Duration // look for rows this often without a notification; default 1 s
	WriteTimeout time.Duration // one publish attempt; default 10 s
}

// Validate checks the configuration after defaults are applied.
func (c RelayConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("relay: no kafka brokers")
	case c.BatchSize <= 0 || c.BatchSize > 10000:
		return errors.New("relay: batch size must be between 1 and 10,000")
	case c.PollInterval <= 0 || c.WriteTimeout <= 0:
		return errors.New("relay: poll interval and write timeout must be positive")
	}
	return nil
}

func (c *RelayConfig) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// relayLockKey is the advisory lock that elects the working relay
// ("keelrly"). Advisory locks are per database, so each Keel database has
// its own relay.
const relayLockKey int64 = 0x6b65656c726c79

// relayChannel is what the outbox trigger notifies.
const relayChannel = "keel_outbox"

// Relay publishes the outbox to Kafka. Run one or several: one works, the
// others stand by.
type Relay struct {
	cfg    RelayConfig
	connCf *pgx.ConnConfig
	log    *slog.Logger
	w      *kafka.Writer
	reg    *prometheus.Registry
	m      relayMetrics
	ready  atomic.Bool
}

type relayMetrics struct {
	relayed prometheus.Counter
	backlog prometheus.Gauge
	active  prometheus.Gauge
	publish prometheus.Histogram
	errors  *prometheus.CounterVec
}

// NewRelay returns a relay for db's outbox. It connects to Postgres with
// db's settings on a connection of its own (the one holding the lock).
func NewRelay(cfg RelayConfig, db *DB, log *slog.Logger) (*Relay, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, connCf: db.pool.Config().ConnConfig.Copy(), log: log, reg: prometheus.NewRegistry()}
	r.w = &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...),
		// No Writer.Topic: each message carries its row's topic.
		// murmur2, the Java client's default, so that every client agrees
		// on a customer's partition.
		Balancer:        &kafka.Murmur2Balancer{},
		RequiredAcks:    kafka.RequireAll,
		BatchSize:       cfg.BatchSize,
		BatchTimeout:    2 * time.Millisecond,
		WriteTimeout:    cfg.WriteTimeout,
		ReadTimeout:     cfg.WriteTimeout,
		MaxAttempts:     3,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       &kafka.Transport{DialTimeout: 3 * time.Second, MetadataTTL: 10 * time.Second},
	}
	r.m = relayMetrics{
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keel_relay_relayed_total", Help: "Facts published to Kafka and marked sent (re-sends after a crash count again).",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_relay_backlog", Help: "Outbox rows not yet sent, as last counted (about once a second).",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_relay_active", Help: "1 while this relay holds the lock and publishes, 0 while it stands by.",
		}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_relay_publish_seconds", Help: "Time to publish one batch and mark it sent.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_relay_errors_total", Help: "Failed attempts by step (postgres, publish); each is retried.",
		}, []string{"step"}),
	}
	r.reg.MustRegister(r.m.relayed, r.m.backlog, r.m.active, r.m.publish, r.m.errors,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return r, nil
}

// Handler serves GET /metrics, /healthz and /readyz (ready while connected to
// Postgres, working or standing by).
func (r *Relay) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.ready.Load() {
			http.Error(w, "not connected to postgres", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// Run relays until ctx ends and returns nil then. Postgres and Kafka
// outages are waited out with back-off, never returned.
func (r *Relay) Run(ctx context.Context) error {
	defer r.w.Close()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		started := time.Now()
		err := r.session(ctx)
		r.ready.Store(false)
		r.m.active.Set(0)
		if ctx.Err() != nil {
			break
		}
		r.m.errors.WithLabelValues("postgres").Inc()
		if time.Since(started) > time.Minute {
			backoff = 0 // a new outage, not the same one going on
		}
		backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
		r.log.Warn("relay: postgres connection lost; reconnecting", "err", err, "in", backoff)
		relaySleep(ctx, backoff)
	}
	return nil
}

// session connects, waits for the lock and relays until the connection
// fails or ctx ends. Closing the connection releases the lock.
func (r *Relay) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, r.connCf)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn.Close(cctx)
		cancel()
	}()
	r.ready.Store(true)
	if err := r.lock(ctx, conn); err != nil {
		return err
	}
	r.m.active.Set(1)
	r.log.Info("relay: holding the outbox lock; relaying")
	if _, err := conn.Exec(ctx, "LISTEN "+relayChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	publishBackoff := time.Duration(0)
	lastCount := time.Time{}
	for {
		n, err := r.relayBatch(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		var pubErr *publishError
		switch {
		case errors.As(err, &pubErr):
			// Kafka is down or refuses: keep the lock (no one else would do
			// better) and try the same rows again.
			r.m.errors.WithLabelValues("publish").Inc()
			publishBackoff = min(max(2*publishBackoff, 100*time.Millisecond), 5*time.Second)
			r.log.Warn("relay: publish to kafka", "err", pubErr.err, "retry_in", publishBackoff)
			if !relaySleep(ctx, publishBackoff) {
				return nil
			}
			continue
		case err != nil:
			return err
		}
		publishBackoff = 0
		if time.Since(lastCount) >= time.Second {
			if err := r.countBacklog(ctx, conn); err != nil {
				return err
			}
			lastCount = time.Now()
		}
		if n == r.cfg.BatchSize {
			continue // more are waiting
		}
		if err := r.waitForFacts(ctx, conn); err != nil {
			return err
		}
	}
}

// lock waits for the relay lock. The wait is cut into lock_timeout slices
// so that a relay told to stop leaves the queue at once rather than holding
// a place in it, and so it can report the backlog while it stands by.
func (r *Relay) lock(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SET lock_timeout = '1s'"); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	logged := false
	for {
		_, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", relayLockKey)
		if err == nil {
			break
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" { // lock_not_available
			return fmt.Errorf("wait for the relay lock: %w", err)
		}
		if !logged {
			r.log.Info("relay: another relay holds the outbox lock; standing by")
			logged = true
		}
		if err := r.countBacklog(ctx, conn); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "SET lock_timeout = 0"); err != nil {
		return fmt.Errorf("reset lock_timeout: %w", err)
	}
	return nil
}

func (r *Relay) countBacklog(ctx context.Context, conn *pgx.Conn) error {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE sent_at IS NULL").Scan(&n); err != nil {
		return fmt.Errorf("count unsent facts: %w", err)
	}
	r.m.backlog.Set(float64(n))
	return nil
}

// waitForFacts returns when a notification arrives or PollInterval passed.
func (r *Relay) waitForFacts(ctx context.Context, conn *pgx.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	if err != nil && wctx.Err() != nil {
		return nil // timed out (the connection survives a timeout) or told to stop
	}
	if err != nil {
		return fmt.Errorf("wait for notifications: %w", err)
	}
	return nil
}

// publishError is a failure to publish; the relay keeps its lock and retries.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }

// relayBatch publishes the oldest unsent rows and marks them sent. It
// returns how many rows it relayed.
func (r *Relay) relayBatch(ctx context.Context, conn *pgx.Conn) (int, error) {
	start := time.Now()
	rows, err := conn.Query(ctx, `SELECT topic, key, `+outboxRowColumns+`
FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read unsent facts: %w", err)
	}
	var (
		ids  []int64
		msgs []kafka.Message
	)
	for rows.Next() {
		var topic, key string
		var row outboxRow
		if err := rows.Scan(append([]any{&topic, &key}, row.dest()...)...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read unsent facts: %w", err)
		}
		f, err := row.fact()
		var value []byte
		if err == nil {
			value, err = f.Encode()
		}
		if err != nil {
			// Like a fact Kafka refuses, it stops the relay here: skipping
			// it would break the order and lose it.
			rows.Close()
			return 0, &publishError{fmt.Errorf("encode fact %d: %w", row.id, err)}
		}
		ids = append(ids, row.id)
		msgs = append(msgs, kafka.Message{
			Topic:   topic,
			Key:     []byte(key),
			Value:   value,
			Headers: []kafka.Header{{Key: keel.HeaderFactID, Value: []byte(strconv.FormatInt(row.id, 10))}},
		})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read unsent facts: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// All or nothing: on any failure no row is marked, so the batch is sent
	// again whole and a customer's facts never overtake each other.
	if err := r.w.WriteMessages(ctx, msgs...); err != nil {
		return 0, &publishError{fmt.Errorf("publish facts %d–%d: %w", ids[0], ids[len(ids)-1], err)}
	}
	// From here a failure only means the batch is sent again.
	if _, err := conn.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("mark facts %d–%d sent: %w", ids[0], ids[len(ids)-1], err)
	}
	r.m.relayed.Add(float64(len(ids)))
	r.m.publish.Observe(time.Since(start).Seconds())
	r.log.Debug("relay: published facts", "from", ids[0], "to", ids[len(ids)-1], "count", len(ids))
	return len(ids), nil
}

// relaySleep waits d or until ctx ends; it returns false if ctx ended.
func relaySleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
