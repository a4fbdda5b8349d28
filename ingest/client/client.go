// Package client is the Go client product apps send events with: Send
// queues an event and background goroutines batch, POST and retry with the
// same ids until the collector has accepted or rejected every event,
// backing off on 429 and 503 as Retry-After asks; Close flushes what is
// left. It checks events with package ingest's own rules before queueing
// them, and imports nothing beyond the standard library and that package:
// an app that sends events compiles neither Kafka nor Prometheus.
package client

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/ingest"
)

// Defaults of Config.
const (
	defaultBatchSize     = 500
	defaultFlushInterval = time.Second
	defaultMaxBuffered   = 10000
	defaultConcurrency   = 2
	defaultHTTPTimeout   = 30 * time.Second
	defaultMaxBackoff    = 30 * time.Second
	firstBackoff         = 100 * time.Millisecond
	// maxRetryAfter only guards the conversion to a Duration against absurd
	// values; anything a real server sends is honoured.
	maxRetryAfter = 24 * time.Hour
	// maxAnswer bounds how much of an answer is read: a collector answer
	// for a full batch is far smaller.
	maxAnswer = 4 << 20
)

// ReasonNotSent is the reason given to OnRejected for events that Close gave
// up on because its ctx ended before the collector settled them. Such an
// event may or may not have reached the collector (its last attempt may have
// been cut off after the collector stored it); resending it with the same id
// is safe.
const ReasonNotSent = "not sent before close"

// ErrClosed is returned by Send and SendBatch after Close, and by a second
// Close.
var ErrClosed = errors.New("ingest client: closed")

// Event is an event as a product app builds it.
type Event struct {
	// ID is the event's idempotency key. When empty, the client fills a
	// unique id (ULID-like: 48-bit ms time and 80 random bits, Crockford
	// base32, 26 characters) before the first attempt, so that every retry
	// resends the same id and the collector stores the event once.
	ID     string
	Type   string
	Tenant string
	User   string
	Time   time.Time      // zero = now
	Props  map[string]any // string, bool, or numbers only
}

// Config configures a Client. Zero values mean the defaults.
type Config struct {
	URL           string        // collector base URL, e.g. http://127.0.0.1:8081 (required)
	Key           string        // ingest key (required)
	BatchSize     int           // events per POST; default 500; max ingest.MaxBatchEvents
	FlushInterval time.Duration // send a partial batch after this long; default 1s
	// MaxBuffered is how many events may be handed to Send and not yet
	// settled (accepted or rejected) before Send blocks: the back-pressure
	// that keeps a slow or absent collector from growing the app's memory
	// without bound. Events being retried count. Default 10,000.
	MaxBuffered int
	Concurrency int  // POSTs in flight at once; default 2
	Gzip        bool // gzip request bodies
	// HTTPClient sends the requests; default: a client with a 30s timeout.
	HTTPClient *http.Client
	// MaxBackoff caps the exponential back-off between retries; default 30s.
	MaxBackoff time.Duration
	// OnRejected is called for every event the collector rejected or that
	// can never be sent (a permanent failure of its batch, or ReasonNotSent
	// at Close), with the reason. It runs on the client's sending goroutines,
	// possibly several at once, so it must be quick and must not call Send.
	// May be nil; rejections are logged and counted either way.
	OnRejected func(ev Event, reason string)
	Logger     *slog.Logger // may be nil
}

// Validate checks the configuration as given; zero values are fine, they
// mean the defaults.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("ingest client: URL is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("ingest client: URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("ingest client: URL %q must be http(s)://host[:port]", c.URL)
	}
	if c.Key == "" {
		return errors.New("ingest client: Key is required")
	}
	// The key travels in a header; a stray newline or space (from a file or
	// an env var) would make every request fail locally, and such a failure
	// would otherwise look like a network error and be retried forever.
	for i := 0; i < len(c.Key); i++ {
		if b := c.Key[i]; b <= ' ' || b >= 0x7f {
			return errors.New("ingest client: Key holds a space, control or non-ASCII character")
		}
	}
	switch {
	case c.BatchSize < 0 || c.BatchSize > ingest.MaxBatchEvents:
		return fmt.Errorf("ingest client: BatchSize must be between 1 and %d", ingest.MaxBatchEvents)
	case c.FlushInterval < 0:
		return errors.New("ingest client: FlushInterval must not be negative")
	case c.MaxBuffered < 0:
		return errors.New("ingest client: MaxBuffered must not be negative")
	case c.Concurrency < 0:
		return errors.New("ingest client: Concurrency must not be negative")
	case c.MaxBackoff < 0:
		return errors.New("ingest client: MaxBackoff must not be negative")
	}
	return nil
}

// Stats counts what a Client did. Sent is the number of events handed to
// Send; once everything is settled (after Flush or Close) it equals
// Accepted + Rejected, where Rejected includes events refused for good and
// events Close gave up on. Retries is the number of extra POST attempts,
// SendBatch's included. SendBatch's events are not counted in Sent,
// Accepted or Rejected: its caller gets them in the returned Response.
type Stats struct {
	Sent, Accepted, Rejected, Retries int64
}

// CollectorError is a permanent refusal by the collector (400, 401, 413 for a
// single event, or any other status that retrying cannot fix). It is what
// SendBatch returns, and its text is the reason OnRejected hears.
type CollectorError struct {
	Status  int    // the HTTP status
	Code    string // the error code of the answer, e.g. "unauthorized"; "" when the body had none
	Message string // the collector's message, or the start of the body
}

// Error says the status and the collector's message.
func (e *CollectorError) Error() string {
	code := ""
	if e.Code != "" {
		code = " (" + e.Code + ")"
	}
	return fmt.Sprintf("ingest client: collector answered %d %s%s: %s", e.Status, http.StatusText(e.Status), code, e.Message)
}

// Client sends events to the collector. Send queues them; background
// goroutines batch them and POST them, retrying with the same ids until the
// collector has accepted or rejected every event. It is safe for concurrent
// use.
type Client struct {
	cfg       Config
	endpoint  string
	log       *slog.Logger
	transport *http.Transport // the one New made, closed by Close; nil otherwise

	// slots holds one token per event handed to Send and not yet settled,
	// so a full channel is the MaxBuffered back-pressure.
	slots   chan struct{}
	closing chan struct{} // closed by Close, so that blocked Sends return
	runCtx  context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	queue      []*queued // events waiting for a sender, oldest first
	queueBytes int       // encoded bytes in queue
	seq        uint64    // sequence number of the last queued event
	flushTo    uint64    // events up to this sequence number go out without waiting for a full batch
	settledTo  uint64    // every event up to this sequence number is settled
	settled    map[uint64]struct{}
	wake       chan struct{} // closed when the queue may have a batch due; senders wait on it
	progress   chan struct{} // closed when settledTo moves; Flush waits on it

	sent, accepted, rejected, retries atomic.Int64
	unsent                            atomic.Int64 // events Close gave up on
}

// queued is one event between Send and its settlement.
type queued struct {
	ev     Event
	raw    []byte // its JSON, encoded once so every attempt sends the same bytes
	seq    uint64
	queued time.Time
	// done is set by the goroutine that owns the event when it is settled,
	// so that Close never reports it a second time.
	done bool
}

// New returns a client and starts its sending goroutines; Close stops
// them.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = defaultFlushInterval
	}
	if cfg.MaxBuffered == 0 {
		cfg.MaxBuffered = defaultMaxBuffered
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	c := &Client{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.URL, "/") + "/v1/events",
		log:      cfg.Logger,
		slots:    make(chan struct{}, cfg.MaxBuffered),
		closing:  make(chan struct{}),
		settled:  map[uint64]struct{}{},
		wake:     make(chan struct{}),
		progress: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.HTTPClient == nil {
		hc := &http.Client{Timeout: defaultHTTPTimeout}
		// An own transport, so that every sender keeps its connection
		// alive (the default keeps only 2 idle per host) and Close can
		// release them.
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			c.transport = t.Clone()
			c.transport.MaxIdleConnsPerHost = cfg.Concurrency + 1
			hc.Transport = c.transport
		}
		c.cfg.HTTPClient = hc
	}
	// The senders' context is the client's lifetime: only Close ends it,
	// so retries go on across Flush calls whatever their ctx.
	c.runCtx, c.stop = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		c.wg.Go(c.sender)
	}
	return c, nil
}

// Send queues one event. It fills an empty ID and a zero Time first, then
// checks the event against the collector's own rules (all but the time
// window, which depends on the collector's clock): an event that the
// collector would refuse for its shape is returned as an error wrapping a
// *ingest.FieldError and not queued. Send blocks while MaxBuffered events are
// unsettled, until ctx ends; after Close it returns ErrClosed.
func (c *Client) Send(ctx context.Context, ev Event) error {
	select {
	case <-c.closing:
		return fmt.Errorf("ingest client: send: %w", ErrClosed)
	default:
	}
	fillEvent(&ev, time.Now())
	raw, err := checkEvent(&ev)
	if err != nil {
		return fmt.Errorf("ingest client: invalid event: %w", err)
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("ingest client: send: waiting for room in the queue: %w", ctx.Err())
	case <-c.closing:
		return fmt.Errorf("ingest client: send: %w", ErrClosed)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.slots
		return fmt.Errorf("ingest client: send: %w", ErrClosed)
	}
	wasFull := c.batchFullLocked()
	c.seq++
	c.queue = append(c.queue, &queued{ev: ev, raw: raw, seq: c.seq, queued: time.Now()})
	c.queueBytes += len(raw)
	// Counted under the lock, so that Stats never shows an event accepted
	// before it was sent.
	c.sent.Add(1)
	// Wake the senders only when something they wait for happened: a first
	// event (start the flush timer) or a full batch.
	if len(c.queue) == 1 || !wasFull && c.batchFullLocked() {
		c.wakeLocked()
	}
	c.mu.Unlock()
	return nil
}

// Flush returns once every event queued before the call has been accepted or
// rejected by the collector, or when ctx ends (with an error saying how many
// are still unsettled). Partial batches go out at once. Events still being
// retried when ctx ends stay queued: retries go on across Flush calls until
// they succeed or Close gives up.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	target := c.seq
	if c.flushTo < target {
		c.flushTo = target
		c.wakeLocked()
	}
	c.mu.Unlock()
	if err := c.waitSettled(ctx, target); err != nil {
		return fmt.Errorf("ingest client: flush: %w", err)
	}
	return nil
}

// Close flushes the queue and stops the background goroutines. When ctx ends
// first, the events still unsent are reported to OnRejected with
// ReasonNotSent and Close returns an error saying how many (wrapping ctx's
// error).
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("ingest client: close: %w", ErrClosed)
	}
	c.closed = true
	close(c.closing)
	c.wakeLocked() // closing makes every queued event due
	target := c.seq
	c.mu.Unlock()

	waitErr := c.waitSettled(ctx, target)
	// Everything is settled, or ctx ended: either way the senders stop now,
	// and a delivery cut short hands its unsettled events to abandon.
	c.stop()
	c.wg.Wait()
	c.mu.Lock()
	left := slices.Clone(c.queue)
	clear(c.queue)
	c.queue, c.queueBytes = c.queue[:0], 0
	c.mu.Unlock()
	c.abandon(left)
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
	if n := c.unsent.Load(); n > 0 {
		if waitErr == nil {
			waitErr = ctx.Err()
		}
		return fmt.Errorf("ingest client: close: %d events not sent before close: %w", n, waitErr)
	}
	return nil
}

// Stats returns the client's counters. Each is read atomically, but not all
// at the same instant; they add up once the client is idle.
func (c *Client) Stats() Stats {
	return Stats{
		Sent:     c.sent.Load(),
		Accepted: c.accepted.Load(),
		Rejected: c.rejected.Load(),
		Retries:  c.retries.Load(),
	}
}

// SendBatch posts up to ingest.MaxBatchEvents events synchronously, with
// the same retry rules as the queue, until the collector has settled every
// event or ctx ends; it does not go through the queue, Stats (except
// Retries) or OnRejected. It fills empty IDs and zero Times in evs in place, so that a
// caller who sends the same slice again resends the same ids.
//
// The Response is the collector's, with the indexes of Rejected referring to
// evs even when the batch had to be split (because it was over
// ingest.MaxBatchBytes or the collector answered 413). A permanent failure (400, 401, an event too
// large on its own, …) is returned as an error (a *CollectorError, or several
// joined, saying the status and the collector's message); the events it
// concerns are listed in Rejected too, so the Response always accounts for
// every event unless ctx ended.
func (c *Client) SendBatch(ctx context.Context, evs []Event) (ingest.Response, error) {
	if len(evs) > ingest.MaxBatchEvents {
		return ingest.Response{}, fmt.Errorf("ingest client: a batch holds at most %d events, got %d", ingest.MaxBatchEvents, len(evs))
	}
	select {
	case <-c.closing:
		return ingest.Response{}, fmt.Errorf("ingest client: send batch: %w", ErrClosed)
	default:
	}
	now := time.Now()
	raws := make([][]byte, len(evs))
	for i := range evs {
		fillEvent(&evs[i], now)
		// Only what stops the event from being encoded is checked here: the
		// collector judges the rest, and tools want its verdict.
		if err := checkProps(evs[i].Props); err != nil {
			return ingest.Response{}, fmt.Errorf("ingest client: event %d: %w", i, err)
		}
		raw, err := encodeEvent(&evs[i])
		if err != nil {
			return ingest.Response{}, fmt.Errorf("ingest client: event %d: %w", i, err)
		}
		raws[i] = raw
	}
	resp := ingest.Response{Rejected: []ingest.Rejection{}}
	fails, err := c.deliver(ctx, raws, func(rs []result) {
		for _, r := range rs {
			if r.accepted {
				resp.Accepted++
			} else {
				resp.Rejected = append(resp.Rejected, ingest.Rejection{Index: r.index, ID: evs[r.index].ID, Error: r.reason})
			}
		}
	})
	slices.SortFunc(resp.Rejected, func(a, b ingest.Rejection) int { return cmp.Compare(a.Index, b.Index) })
	if err != nil {
		return resp, err
	}
	return resp, fails
}

// sender is one of the background goroutines: it takes batches off the
// queue and delivers them until Close.
func (c *Client) sender() {
	for {
		batch := c.nextBatch()
		if batch == nil {
			return
		}
		c.deliverQueued(batch)
	}
}

// nextBatch waits until a batch is due — a full one, the oldest event older
// than FlushInterval, a Flush or Close waiting for queued events — and takes
// it off the queue. It returns nil when the client is closed and the queue
// is empty, or when Close gave up.
func (c *Client) nextBatch() []*queued {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.runCtx.Err() != nil || c.closed && len(c.queue) == 0 {
			c.mu.Unlock()
			return nil
		}
		var wait time.Duration
		if len(c.queue) > 0 {
			due := c.closed || c.batchFullLocked() || c.queue[0].seq <= c.flushTo
			if !due {
				wait = c.cfg.FlushInterval - time.Since(c.queue[0].queued)
				due = wait <= 0
			}
			if due {
				batch := c.takeLocked()
				c.mu.Unlock()
				return batch
			}
		}
		wake := c.wake
		c.mu.Unlock()
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-wake:
		case <-tick:
		case <-c.runCtx.Done():
			return nil
		}
		timer.Stop()
	}
}

// batchFullLocked reports whether the queue holds a full POST's worth.
func (c *Client) batchFullLocked() bool {
	n := len(c.queue)
	// The body is '[', the events, a ',' or ']' after each.
	return n >= c.cfg.BatchSize || 1+c.queueBytes+n > ingest.MaxBatchBytes
}

// takeLocked takes the oldest events that fit in one POST off the queue.
func (c *Client) takeLocked() []*queued {
	size, k := 1, 0
	for k < len(c.queue) && k < c.cfg.BatchSize {
		add := len(c.queue[k].raw) + 1
		if k > 0 && size+add > ingest.MaxBatchBytes {
			break
		}
		size += add
		k++
	}
	batch := slices.Clone(c.queue[:k])
	// Shift rather than reslice, so the queue's array never pins settled
	// events.
	n := copy(c.queue, c.queue[k:])
	clear(c.queue[n:])
	c.queue = c.queue[:n]
	c.queueBytes -= size - 1 - k
	return batch
}

// wakeLocked wakes every sender waiting in nextBatch.
func (c *Client) wakeLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// deliverQueued delivers one batch from the queue and settles its events.
func (c *Client) deliverQueued(batch []*queued) {
	raws := make([][]byte, len(batch))
	for i, q := range batch {
		raws[i] = q.raw
	}
	fails, err := c.deliver(c.runCtx, raws, func(rs []result) {
		done := make([]*queued, len(rs))
		nRejected, firstReason := 0, ""
		for k, r := range rs {
			q := batch[r.index]
			q.done = true
			done[k] = q
			if r.accepted {
				c.accepted.Add(1)
				continue
			}
			if nRejected == 0 {
				firstReason = r.reason
			}
			nRejected++
			c.reject(q.ev, r.reason)
		}
		if nRejected > 0 {
			c.log.Warn("ingest client: events rejected", "count", nRejected, "first_reason", firstReason)
		}
		// Settled only after OnRejected ran, so that a Flush that returns
		// has seen every callback of its events.
		c.markSettled(done)
	})
	if fails != nil {
		c.log.Error("ingest client: the collector refused a batch for good", "err", fails)
	}
	if err != nil {
		var left []*queued
		for _, q := range batch {
			if !q.done {
				left = append(left, q)
			}
		}
		c.abandon(left)
	}
}

// reject counts a rejected event and tells OnRejected.
func (c *Client) reject(ev Event, reason string) {
	c.rejected.Add(1)
	if c.cfg.OnRejected != nil {
		c.cfg.OnRejected(ev, reason)
	}
}

// abandon settles events Close gave up on, so none is dropped silently.
func (c *Client) abandon(qs []*queued) {
	if len(qs) == 0 {
		return
	}
	for _, q := range qs {
		q.done = true
		c.unsent.Add(1)
		c.reject(q.ev, ReasonNotSent)
	}
	c.log.Warn("ingest client: events not sent before close", "count", len(qs))
	c.markSettled(qs)
}

// markSettled records settled events, wakes Flush when the settled prefix of
// the sequence grows, and frees their room in the queue. Events settle out
// of order (several senders, split batches), hence the set above settledTo.
func (c *Client) markSettled(qs []*queued) {
	c.mu.Lock()
	moved := false
	for _, q := range qs {
		if q.seq != c.settledTo+1 {
			c.settled[q.seq] = struct{}{}
			continue
		}
		c.settledTo++
		moved = true
		for {
			if _, ok := c.settled[c.settledTo+1]; !ok {
				break
			}
			delete(c.settled, c.settledTo+1)
			c.settledTo++
		}
	}
	if moved {
		close(c.progress)
		c.progress = make(chan struct{})
	}
	c.mu.Unlock()
	for range qs {
		<-c.slots
	}
}

// waitSettled waits until every event up to sequence number target is
// settled, or ctx ends.
func (c *Client) waitSettled(ctx context.Context, target uint64) error {
	for {
		c.mu.Lock()
		if c.settledTo >= target {
			c.mu.Unlock()
			return nil
		}
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			c.mu.Lock()
			left := target - c.settledTo
			for s := range c.settled {
				if s <= target {
					left--
				}
			}
			c.mu.Unlock()
			return fmt.Errorf("%d events not settled yet: %w", left, ctx.Err())
		}
	}
}

// result is the outcome of one event of a delivery.
type result struct {
	index    int // position in the delivery's events
	accepted bool
	reason   string // why it was rejected
}

// deliver posts the encoded events raws, in as many POSTs as the count and
// size limits need, retrying until every event is settled or ctx ends.
// settle hears about each group of events as soon as the collector settles
// them, so that they are released while the rest is still being retried.
// It returns the permanent failures (joined), and an error wrapping ctx's
// when ctx ended first: events not yet handed to settle are then unsettled.
func (c *Client) deliver(ctx context.Context, raws [][]byte, settle func([]result)) (fails error, err error) {
	var failed []error
	todo, tooBig := chunk(raws)
	for _, i := range tooBig {
		e := fmt.Errorf("ingest client: the event is %d bytes encoded; a POST body holds at most %d", len(raws[i]), ingest.MaxBatchBytes)
		failed = append(failed, e)
		settle([]result{{index: i, reason: e.Error()}})
	}
	for len(todo) > 0 {
		idx := todo[0]
		todo = todo[1:]
		resp, fail, err := c.postRetrying(ctx, raws, idx)
		if err != nil {
			return errors.Join(failed...), err
		}
		if fail != nil {
			var ce *CollectorError
			if errors.As(fail, &ce) && ce.Status == http.StatusRequestEntityTooLarge && len(idx) > 1 {
				// The collector's limit is lower than ours (or counts
				// differently): halve until it fits.
				h := len(idx) / 2
				todo = append([][]int{idx[:h], idx[h:]}, todo...)
				continue
			}
			failed = append(failed, fail)
			rs := make([]result, len(idx))
			for k, i := range idx {
				rs[k] = result{index: i, reason: fail.Error()}
			}
			settle(rs)
			continue
		}
		settle(c.results(resp, idx))
	}
	return errors.Join(failed...), nil
}

// results maps a 202 answer for the events idx onto them.
func (c *Client) results(resp ingest.Response, idx []int) []result {
	reasons := make(map[int]string, len(resp.Rejected))
	for _, r := range resp.Rejected {
		if r.Index < 0 || r.Index >= len(idx) {
			c.log.Warn("ingest client: the collector rejected an index outside the batch", "index", r.Index, "events", len(idx))
			continue
		}
		if r.Error == "" {
			r.Error = "rejected by the collector"
		}
		reasons[r.Index] = r.Error
	}
	if resp.Accepted != len(idx)-len(reasons) {
		c.log.Warn("ingest client: the collector's counts do not add up", "events", len(idx), "accepted", resp.Accepted, "rejected", len(reasons))
	}
	rs := make([]result, len(idx))
	for k, i := range idx {
		reason, rejected := reasons[k]
		rs[k] = result{index: i, accepted: !rejected, reason: reason}
	}
	return rs
}

// chunk groups raws, in order, into POSTs of at most ingest.MaxBatchEvents
// events and ingest.MaxBatchBytes bytes. An event too large for a POST of
// its own goes to tooBig.
func chunk(raws [][]byte) (chunks [][]int, tooBig []int) {
	var cur []int
	size := 1
	for i, raw := range raws {
		add := len(raw) + 1
		if 1+add > ingest.MaxBatchBytes {
			tooBig = append(tooBig, i)
			continue
		}
		if len(cur) > 0 && (len(cur) == ingest.MaxBatchEvents || size+add > ingest.MaxBatchBytes) {
			chunks = append(chunks, cur)
			cur, size = nil, 1
		}
		cur = append(cur, i)
		size += add
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks, tooBig
}

// postRetrying posts the events idx until the collector settles them: a 2xx
// answer, or a permanent failure (fail). It returns err only when ctx ends.
func (c *Client) postRetrying(ctx context.Context, raws [][]byte, idx []int) (resp ingest.Response, fail error, err error) {
	body := make([]byte, 0, 2+len(idx))
	body = append(body, '[')
	for k, i := range idx {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, raws[i]...)
	}
	body = append(body, ']')
	gzipped := false
	if c.cfg.Gzip {
		// Compressed once: every retry sends the same bytes.
		if z, err := gzipBody(body); err != nil {
			c.log.Warn("ingest client: gzip failed; sending uncompressed", "err", err)
		} else {
			body, gzipped = z, true
		}
	}
	for attempt := 0; ; attempt++ {
		ans := c.post(ctx, body, gzipped)
		if ans.retry == nil {
			return ans.resp, ans.fail, nil
		}
		if ctx.Err() != nil {
			return ingest.Response{}, nil, fmt.Errorf("ingest client: %d events unsettled: %w", len(idx), ctx.Err())
		}
		// Wait at least what the server asked for; back off on our own
		// schedule when it asked for less.
		wait := max(c.backoff(attempt), ans.retryAfter)
		c.log.Warn("ingest client: retrying a batch", "events", len(idx), "attempt", attempt+2, "wait", wait, "err", ans.retry)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ingest.Response{}, nil, fmt.Errorf("ingest client: %d events unsettled: %w", len(idx), ctx.Err())
		}
		c.retries.Add(1)
	}
}

// backoff is the wait before retry number attempt+1: exponential from 100 ms
// up to MaxBackoff, with "equal jitter" (half fixed, half random) so that
// many clients recovering from the same outage do not retry in lockstep, yet
// the wait still grows.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MaxBackoff
	if attempt < 30 {
		d = min(d, firstBackoff<<attempt)
	}
	half := d / 2
	return half + mrand.N(d-half+1)
}

// answer is what one POST came to.
type answer struct {
	resp       ingest.Response
	fail       error         // a permanent failure
	retry      error         // why the POST must be retried; nil when it settled the events
	retryAfter time.Duration // what the server asked to wait
}

// post makes one attempt.
func (c *Client) post(ctx context.Context, body []byte, gzipped bool) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		// The URL was validated, so nothing a retry could fix.
		return answer{fail: fmt.Errorf("ingest client: new request: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	req.Header.Set("Content-Type", "application/json")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// Network errors and timeouts: whether the collector stored the
		// events is unknown, and resending is safe because of the ids.
		return answer{retry: fmt.Errorf("ingest client: post: %w", err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return answer{retry: fmt.Errorf("ingest client: reading the %d answer: %w", res.StatusCode, err)}
	}
	switch st := res.StatusCode; {
	case st >= 200 && st < 300:
		var ans struct {
			Accepted *int               `json:"accepted"`
			Rejected []ingest.Rejection `json:"rejected"`
		}
		if err := json.Unmarshal(data, &ans); err != nil || ans.Accepted == nil {
			// Not the collector (a proxy or a wrong URL): assuming the
			// events were stored would lose them silently.
			return answer{fail: fmt.Errorf("ingest client: %s answered %d with a body that is not a collector response: %q",
				c.endpoint, st, truncate(string(data), 200))}
		}
		return answer{resp: ingest.Response{Accepted: *ans.Accepted, Rejected: ans.Rejected}}
	case st == http.StatusTooManyRequests || st == http.StatusRequestTimeout || st >= 500:
		return answer{retry: newCollectorError(st, data), retryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now())}
	default:
		return answer{fail: newCollectorError(st, data)}
	}
}

// newCollectorError reads the API's error shape, falling back to the start
// of the body for answers that do not come from the collector.
func newCollectorError(status int, data []byte) *CollectorError {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &CollectorError{Status: status}
	if json.Unmarshal(data, &body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = truncate(strings.TrimSpace(string(data)), 200)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(s, 0), int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

func gzipBody(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// fillEvent gives ev the id and time it keeps across every attempt.
func fillEvent(ev *Event, now time.Time) {
	if ev.ID == "" {
		ev.ID = newEventID(now)
	}
	if ev.Time.IsZero() {
		ev.Time = now.Round(0) // without the monotonic reading, which means nothing to anyone else
	}
}

// checkEvent encodes ev and checks it the way the collector will, with
// package ingest's parser, so that Send refuses exactly what the collector
// would refuse for its shape.
func checkEvent(ev *Event) ([]byte, error) {
	// These are checked before encoding because encoding/json would quietly
	// replace invalid UTF-8, and the collector would store a different id.
	if err := ingest.CheckID("id", ev.ID, ingest.MaxIDLen); err != nil {
		return nil, err
	}
	if ev.Type == "" {
		return nil, fieldErr("type", "required")
	}
	if err := ingest.CheckID("tenant", ev.Tenant, ingest.MaxTenantLen); err != nil {
		return nil, err
	}
	if ev.User != "" {
		if err := ingest.CheckID("user", ev.User, ingest.MaxUserLen); err != nil {
			return nil, err
		}
	}
	if err := checkProps(ev.Props); err != nil {
		return nil, err
	}
	raw, err := encodeEvent(ev)
	if err != nil {
		return nil, err
	}
	if _, err := ingest.ParseEvent(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkProps accepts the value types the contract allows in props:
// strings, bools and finite numbers (of any Go kind, so named types such as
// `type Plan string` work too).
func checkProps(props map[string]any) error {
	for k, v := range props {
		field := "props." + truncate(k, 40)
		if !utf8.ValidString(k) {
			return fieldErr("props", "a key is not valid UTF-8")
		}
		rv := reflect.ValueOf(v)
		if !rv.IsValid() {
			return fieldErr(field, "must be a string, number or bool, not nil")
		}
		if _, ok := v.(json.Number); ok {
			continue // encoding/json checks its syntax
		}
		switch rv.Kind() {
		case reflect.String:
			if !utf8.ValidString(rv.String()) {
				return fieldErr(field, "not valid UTF-8")
			}
		case reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		case reflect.Float32, reflect.Float64:
			if f := rv.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				return fieldErr(field, "must be a finite number")
			}
		default:
			return fieldErr(field, "must be a string, number or bool, not %T", v)
		}
	}
	return nil
}

// wireEvent is the contract's event JSON.
type wireEvent struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Tenant string         `json:"tenant"`
	User   string         `json:"user,omitempty"`
	Time   string         `json:"time"`
	Props  map[string]any `json:"props,omitempty"`
}

// encodeEvent encodes ev as the collector expects it: time in RFC 3339
// UTC with as many fraction digits as it needs, props (sorted keys, so the
// same event always encodes the same) omitted when empty.
func encodeEvent(ev *Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" need not cost six bytes in a props value
	err := enc.Encode(wireEvent{
		ID: ev.ID, Type: ev.Type, Tenant: ev.Tenant, User: ev.User,
		Time:  ev.Time.UTC().Format(time.RFC3339Nano),
		Props: ev.Props,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// crockford is Crockford's base32 alphabet, as ULIDs use it: no I, L, O or U,
// so ids survive being read aloud or retyped.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newEventID returns a ULID-like id: 48 bits of Unix milliseconds then 80
// random bits, as 26 Crockford base32 characters. The time prefix makes ids
// sort roughly by creation, which keeps the collector's and warehouse's
// dedup indexes local; the random part makes a collision between any two
// clients negligible.
func newEventID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16) // the top 48 bits
	// crypto/rand.Read never fails (it crashes the program instead).
	rand.Read(b[6:])
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	// 26 five-bit symbols hold 130 bits; the first symbol holds the top 3.
	var out [26]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

func fieldErr(field, format string, args ...any) *ingest.FieldError {
	return &ingest.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
