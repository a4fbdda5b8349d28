// Package collector is the HTTP event collector (POST /v1/events): it checks
// ingest keys and per-key rate limits, validates each batch with package
// ingest's parser and rules, and answers 202 only after Kafka acknowledged
// every accepted event. It exports its counters for Prometheus on /metrics.
//
// Its answers (DESIGN.md, "Events"):
//
//   - 202 {"accepted": n, "rejected": [{"index", "id", "error"}]}: the valid
//     events are accepted even when others beside them are not, and only
//     once Kafka acknowledged all of them. A JSON array with some invalid
//     events gets an error per event; NDJSON with some bad lines gets those
//     lines rejected by index (the index counts the lines that are not
//     blank). An event repeated inside a batch (the same tenant and id as
//     an earlier valid event of it) is acknowledged as that same event: it
//     is not published again and not rejected, and accepted counts distinct
//     events, so accepted + len(rejected) falls short of the events sent by
//     the repeats. The first valid copy is the one kept, as the loader keeps
//     the first copy of an event sent twice. A key limited to some tenants
//     (keel.TenantLimit) gets each event of another tenant rejected
//     ("tenant: ingest key … may not send events of tenant …"), like an
//     invalid one.
//   - 400, nothing accepted, for a body that cannot be split into events:
//     an empty body, an array that is not valid JSON, or a body that is not
//     an array and in which no line is a JSON object — plain text, a bare
//     number or string (an array encoded twice), an object pretty-printed
//     over several lines (ingest.UnparsableError). A line that is a JSON
//     object is an event however wrong it is, so a body of one object that
//     is not an event gets a 202 rejecting it with the field named.
//   - 401 for a missing, unknown or expired key, 413 for more than
//     ingest.MaxBatchEvents events or ingest.MaxBatchBytes, 429 with
//     Retry-After over the key's rate, 503 with Retry-After when Kafka
//     cannot take the events or the collector is at capacity: nothing is
//     accepted, and the client retries with the same ids.
//
// Every error answer is {"error": {"code", "message"}}.
package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// Config configures the HTTP collector.
type Config struct {
	Rules ingest.Rules
	// Rate is the default events-per-second limit of one ingest key; a key
	// may override it. Default 50,000.
	Rate float64
	// MaxInFlight bounds the batches being published at once, and with it
	// the collector's memory; past it, requests wait up to a second and then
	// get a 503. Default 64.
	MaxInFlight int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Rules.MaxAge <= 0 || c.Rules.MaxAhead < 0 {
		return errors.New("collector: the late-arrival window must be positive")
	}
	if c.Rate < 0 || c.MaxInFlight < 0 {
		return errors.New("collector: rate and max in-flight must not be negative")
	}
	return nil
}

// Collector is the HTTP event collector (POST /v1/events).
type Collector struct {
	cfg      Config
	keys     *Keys
	pub      Publisher
	log      *slog.Logger
	sem      chan struct{}
	limiters sync.Map // key id → *rate.Limiter
	reg      *prometheus.Registry
	m        metrics
}

type metrics struct {
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
	publish  prometheus.Histogram
	inflight prometheus.Gauge
}

// New returns a collector that authenticates with keys and publishes with
// pub.
func New(cfg Config, keys *Keys, pub Publisher, log *slog.Logger) (*Collector, error) {
	if cfg.Rules == (ingest.Rules{}) {
		cfg.Rules = ingest.DefaultRules
	}
	if cfg.Rate == 0 {
		cfg.Rate = 50000
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, keys: keys, pub: pub, log: log, sem: make(chan struct{}, cfg.MaxInFlight), reg: prometheus.NewRegistry()}
	c.m = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_collector_requests_total", Help: "POST /v1/events requests by HTTP status.",
		}, []string{"status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_collector_events_total", Help: "Events by outcome: accepted (acknowledged by Kafka) or rejected.",
		}, []string{"outcome"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keel_collector_publish_seconds", Help: "Time from handing a batch to Kafka to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_collector_inflight_batches", Help: "Batches being published now.",
		}),
	}
	c.reg.MustRegister(c.m.requests, c.m.events, c.m.publish, c.m.inflight,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return c, nil
}

// Handler returns the collector's routes: POST /v1/events, GET /healthz,
// GET /readyz and GET /metrics.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/events", c.handleEvents())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", c.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	return mux
}

func (c *Collector) handleReady(w http.ResponseWriter, r *http.Request) {
	if !c.keys.Loaded() {
		http.Error(w, "ingest keys not loaded yet", http.StatusServiceUnavailable)
		return
	}
	if err := c.pub.Ready(r.Context()); err != nil {
		http.Error(w, "kafka: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

func (c *Collector) handleEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := c.serveEvents(w, r)
		c.m.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	})
}

func (c *Collector) serveEvents(w http.ResponseWriter, r *http.Request) int {
	key, ok := c.authenticate(r)
	at := c.cfg.Now()
	if !ok || key.expired(at) {
		return writeError(w, http.StatusUnauthorized, keel.EUNAUTHORIZED, "missing, unknown or expired ingest key; send Authorization: Bearer <ingest key>")
	}
	c.keys.noteUse(key.ID, at)

	// Bound the work in progress before reading the body, so that a flood of
	// requests costs waiting goroutines, not buffered megabytes.
	wait := time.NewTimer(time.Second)
	defer wait.Stop()
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-wait.C:
		w.Header().Set("Retry-After", "1")
		return writeError(w, http.StatusServiceUnavailable, keel.EUNAVAILABLE, "the collector is at capacity; retry shortly")
	case <-r.Context().Done():
		return 499
	}

	buf := bodyPool.Get().(*bytes.Buffer)
	defer bodyPool.Put(buf)
	body, err := readBody(w, r, buf)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, errBodyTooLarge) {
			return writeError(w, http.StatusRequestEntityTooLarge, keel.ETOOLARGE, fmt.Sprintf("the body is over %d bytes; send smaller batches", ingest.MaxBatchBytes))
		}
		return writeError(w, http.StatusBadRequest, keel.EINVALID, "cannot read the body: "+err.Error())
	}
	items, err := ingest.ParseBatch(body)
	switch {
	case errors.Is(err, ingest.ErrBatchTooLarge):
		return writeError(w, http.StatusRequestEntityTooLarge, keel.ETOOLARGE, err.Error())
	case err != nil:
		return writeError(w, http.StatusBadRequest, keel.EINVALID, err.Error())
	}

	now := c.cfg.Now()
	rules := c.cfg.Rules
	if key.MaxAge > 0 {
		rules.MaxAge = key.MaxAge
	}
	headers := []kafka.Header{{Key: HeaderKey, Value: []byte(strconv.FormatInt(key.ID, 10))}}
	if key.MaxAge > 0 {
		headers = append(headers, maxAgeHeader(key.MaxAge))
	}
	limited := key.limited()
	resp := ingest.Response{Rejected: []ingest.Rejection{}}
	msgs := make([]kafka.Message, 0, len(items))
	seen := seenPool.Get().(map[eventKey]struct{})
	defer func() { clear(seen); seenPool.Put(seen) }()
	for i := range items {
		it := &items[i]
		if it.Err == nil {
			it.Err = rules.Check(&it.Event, now)
		}
		if it.Err == nil && limited && !key.allows(it.Event.Tenant) {
			it.Err = &ingest.FieldError{Field: "tenant", Problem: fmt.Sprintf("ingest key %q may not send events of tenant %q", key.Name, it.Event.Tenant)}
		}
		if it.Err != nil {
			resp.Rejected = append(resp.Rejected, ingest.Rejection{Index: i, ID: truncate(it.Event.ID, ingest.MaxIDLen), Error: it.Err.Error()})
			continue
		}
		// A repeat of an event already accepted in this batch is that same
		// event: not published again, not rejected, counted once.
		k := eventKey{tenant: it.Event.Tenant, id: it.Event.ID}
		if _, repeat := seen[k]; repeat {
			continue
		}
		seen[k] = struct{}{}
		msgs = append(msgs, kafka.Message{Key: []byte(it.Event.Tenant), Value: it.Raw, Headers: headers, Time: now})
	}

	if len(msgs) > 0 {
		if wait, ok := c.allow(key, len(msgs), now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return writeError(w, http.StatusTooManyRequests, keel.ERATELIMIT, fmt.Sprintf("ingest key %q is over its rate limit; retry after the Retry-After seconds", key.Name))
		}
		c.m.inflight.Inc()
		start := time.Now()
		err := c.pub.Publish(r.Context(), msgs)
		c.m.inflight.Dec()
		if err != nil {
			if r.Context().Err() != nil {
				return 499 // the client went away; it will retry with the same ids
			}
			c.log.Error("publish events", "err", err, "events", len(msgs))
			w.Header().Set("Retry-After", "1")
			return writeError(w, http.StatusServiceUnavailable, keel.EUNAVAILABLE, "the event stream cannot take events right now; nothing was accepted, retry with the same ids")
		}
		c.m.publish.Observe(time.Since(start).Seconds())
	}
	resp.Accepted = len(msgs)
	c.m.events.WithLabelValues("accepted").Add(float64(resp.Accepted))
	c.m.events.WithLabelValues("rejected").Add(float64(len(resp.Rejected)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
	return http.StatusAccepted
}

func (c *Collector) authenticate(r *http.Request) (Key, bool) {
	h := r.Header.Get("Authorization")
	plain, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || plain == "" {
		return Key{}, false
	}
	return c.keys.Lookup(r.Context(), strings.TrimSpace(plain))
}

// allow takes n events from the key's token bucket, or says how long to wait.
func (c *Collector) allow(key Key, n int, now time.Time) (time.Duration, bool) {
	limit := c.cfg.Rate
	if key.Rate != 0 {
		limit = key.Rate
	}
	if limit < 0 {
		return 0, true
	}
	v, ok := c.limiters.Load(key.ID)
	if !ok {
		// A burst of at least one full batch, so that a single batch is never
		// refused forever.
		burst := max(int(limit), ingest.MaxBatchEvents)
		v, _ = c.limiters.LoadOrStore(key.ID, rate.NewLimiter(rate.Limit(limit), burst))
	}
	l := v.(*rate.Limiter)
	res := l.ReserveN(now, n)
	if !res.OK() {
		return time.Second, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return max(d, time.Second), false
	}
	return 0, true
}

// eventKey is what makes two events the same event (DESIGN.md: the same id
// for the same tenant is stored and counted once).
type eventKey struct{ tenant, id string }

// seenPool recycles the sets of a batch's events, for the same reason as
// bodyPool: a set sized for a full batch on every request is garbage.
var seenPool = sync.Pool{New: func() any { return make(map[eventKey]struct{}, ingest.MaxBatchEvents) }}

var errBodyTooLarge = errors.New("body too large")

// bodyPool recycles request buffers: a body is held only until Kafka has
// acknowledged its events, and a fresh megabyte per request was a good part
// of the collector's garbage.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the request body into buf, gunzipping it when it says so,
// and refuses more than ingest.MaxBatchBytes either way. The result aliases
// buf.
func readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, ingest.MaxBatchBytes)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		rd = zr
	}
	buf.Reset()
	if n := r.ContentLength; n > 0 && n <= ingest.MaxBatchBytes {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(io.LimitReader(rd, ingest.MaxBatchBytes+1)); err != nil {
		return nil, err
	}
	if buf.Len() > ingest.MaxBatchBytes {
		return nil, errBodyTooLarge
	}
	return buf.Bytes(), nil
}

// writeError writes the JSON error shape of the API and returns the status.
func writeError(w http.ResponseWriter, status int, code, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return status
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
