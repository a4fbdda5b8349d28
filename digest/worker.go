package digest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

// Deliveries is what the Worker takes and records in Postgres.
type Deliveries interface {
	DeliverDigest(ctx context.Context, now time.Time, send func(context.Context, postgres.DigestSend) postgres.DigestAttempt) (bool, postgres.DigestAttempt, error)
}

var _ Deliveries = (*postgres.DB)(nil)

// Config configures a Worker.
type Config struct {
	// Backoff is the wait after each failed attempt; after the last, the
	// delivery is given up. Default keel.DigestBackoff.
	Backoff []time.Duration
	// Poll is how often the worker looks for due digests (default 10 s);
	// Wake makes it look at once.
	Poll time.Duration
	// Timeout bounds one attempt, from connecting to the answer's end
	// (default 10 s).
	Timeout time.Duration
	// Client sends the deliveries; nil is one that does not follow
	// redirects (a 3xx is a failed attempt: the URL is admin's to fix).
	Client *http.Client
	Now    func() time.Time // default time.Now
	// Registerer receives the worker's metrics; nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
}

// Validate checks the settings.
func (c Config) Validate() error {
	for i, d := range c.Backoff {
		if d <= 0 {
			return fmt.Errorf("digest: backoff %d is %s; each wait must be above 0", i+1, d)
		}
	}
	if c.Poll < 0 || c.Timeout < 0 {
		return errors.New("digest: poll and timeout must not be negative")
	}
	return nil
}

// Worker delivers due digests to the webhook. Run several (one per
// console): each digest is sent by one at a time.
type Worker struct {
	cfg  Config
	pg   Deliveries
	log  *slog.Logger
	wake chan struct{}

	attempts *prometheus.CounterVec
	failed   prometheus.Counter
}

// NewWorker returns a worker; it fails on a bad Config or when its
// metrics cannot be registered.
func NewWorker(cfg Config, pg Deliveries, log *slog.Logger) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Backoff == nil {
		cfg.Backoff = keel.DigestBackoff
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Worker{cfg: cfg, pg: pg, log: log, wake: make(chan struct{}, 1),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keel_digest_delivery_attempts_total",
			Help: "Attempts to deliver a digest to the webhook, by outcome (delivered, failed)."}, []string{"outcome"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "keel_digest_deliveries_failed_total",
			Help: "Digests given up after every attempt to deliver them failed."}),
	}
	for _, o := range []string{"delivered", "failed"} {
		w.attempts.WithLabelValues(o) // every series from the start, at 0
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{w.attempts, w.failed} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("digest: register metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Wake makes a running worker look for due digests now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers due digests until ctx ends, looking every Poll and when
// woken; it logs failures to reach Postgres and goes on. It returns nil
// when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("digest delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.wake:
		}
	}
}

// DeliverDue makes one attempt for every digest due now, one after the
// other, and returns how many it made.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		found, a, err := w.pg.DeliverDigest(ctx, w.cfg.Now(), w.send)
		if err != nil || !found {
			return n, err
		}
		n++
		switch {
		case a.Delivered:
			w.attempts.WithLabelValues("delivered").Inc()
		case a.Next == nil:
			w.attempts.WithLabelValues("failed").Inc()
			w.failed.Inc()
			w.log.Warn("digest delivery given up", "err", a.Error)
		default:
			w.attempts.WithLabelValues("failed").Inc()
		}
	}
	return n, ctx.Err()
}

// send makes one attempt: POST the body, signed, and judge the answer.
func (w *Worker) send(ctx context.Context, s postgres.DigestSend) postgres.DigestAttempt {
	start := time.Now()
	a := w.post(ctx, s)
	a.Took = time.Since(start)
	if !a.Delivered {
		if wait, again := keel.NextDigestAttempt(s.Attempt, w.cfg.Backoff); again {
			next := w.cfg.Now().Add(wait).UTC()
			a.Next = &next
		}
	}
	return a
}

func (w *Worker) post(ctx context.Context, s postgres.DigestSend) postgres.DigestAttempt {
	if s.URL == "" {
		return postgres.DigestAttempt{Error: "no webhook URL is set"}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(s.Body))
	if err != nil {
		return postgres.DigestAttempt{Error: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Keel-Digest/1")
	req.Header.Set(SignatureHeader, Sign(s.Secret, s.Body))
	req.Header.Set(DeliveryHeader, s.DeliveryID)
	req.Header.Set(AttemptHeader, fmt.Sprint(s.Attempt))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return postgres.DigestAttempt{Error: err.Error()}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	a := postgres.DigestAttempt{Status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		a.Delivered = true
	} else {
		a.Error = fmt.Sprintf("the webhook answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return a
}
