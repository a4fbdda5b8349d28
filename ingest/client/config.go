package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

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
