// Package client is the Go client product apps send events with: Send
// queues an event and background goroutines batch, POST and retry with the
// same ids until the collector has accepted or rejected every event,
// backing off on 429 and 503 as Retry-After asks; Close flushes what is
// left. It checks events with package ingest's own rules before queueing
// them, and imports nothing beyond the standard library and that package:
// an app that sends events compiles neither Kafka nor Prometheus.
package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelhq/keel/ingest"
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

// Stats counts what a Client did. Sent is the number of events handed to
// Send; once everything is settled (after Flush or Close) it equals
// Accepted + Rejected, where Rejected includes events refused for good and
// events Close gave up on; an event sent twice counts twice, as each Send
// was acknowledged. Retries is the number of extra POST attempts,
// SendBatch's included. SendBatch's events are not counted in Sent,
// Accepted or Rejected: its caller gets them in the returned Response.
type Stats struct {
	Sent, Accepted, Rejected, Retries int64
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
// Retries) or OnRejected. It fills empty IDs and zero Times in evs in place,
// so that a caller who sends the same slice again resends the same ids.
//
// The Response is the collector's, with the indexes of Rejected referring to
// evs even when the batch had to be split (because it was over
// ingest.MaxBatchBytes or the collector answered 413), and Accepted counting
// distinct events (an event repeated in evs is accepted once and not
// rejected). A permanent failure
// (400, 401, an event too large on its own, …) is returned as an error (a
// *CollectorError, or several joined, saying the status and the collector's
// message); the events it concerns are listed in Rejected too, so the
// Response always accounts for every event unless ctx ended.
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
	// Accepted counts distinct events, as the collector does: a repeat of an
	// event (the same tenant and id) is acknowledged as that same event,
	// even when the two went out in different POSTs.
	accepted := make(map[eventKey]struct{}, len(evs))
	fails, err := c.deliver(ctx, raws, func(rs []result) {
		for _, r := range rs {
			if r.accepted {
				accepted[eventKey{tenant: evs[r.index].Tenant, id: evs[r.index].ID}] = struct{}{}
			} else {
				resp.Rejected = append(resp.Rejected, ingest.Rejection{Index: r.index, ID: evs[r.index].ID, Error: r.reason})
			}
		}
	})
	resp.Accepted = len(accepted)
	slices.SortFunc(resp.Rejected, func(a, b ingest.Rejection) int { return cmp.Compare(a.Index, b.Index) })
	if err != nil {
		return resp, err
	}
	return resp, fails
}
