package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Kafka headers the collector puts on every message. The loader reads them;
// a producer writing straight to Kafka may set them too.
const (
	HeaderKey    = "keel-key"     // id of the ingest key that sent the event
	HeaderMaxAge = "keel-max-age" // late-arrival window in seconds, when the key overrides it
)

// Publisher hands messages to Kafka. Publish returns nil only when every
// message was acknowledged by all in-sync replicas. A message's key is the
// tenant id (all of a tenant's events share a partition), its value the
// event's JSON as sent, its time the ingest time.
type Publisher interface {
	Publish(ctx context.Context, msgs []kafka.Message) error
	Ready(ctx context.Context) error
}

// KafkaConfig configures a KafkaPublisher.
type KafkaConfig struct {
	Brokers      []string
	Topic        string
	BatchTimeout time.Duration // how long the writer waits to fill a batch; default 2 ms
	WriteTimeout time.Duration // per attempt; default 5 s
	MaxAttempts  int           // default 3: a broker that is down turns into a 503 within seconds
}

// Validate checks the configuration.
func (c KafkaConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	if c.Topic == "" {
		return errors.New("kafka: no topic")
	}
	return nil
}

// KafkaPublisher is the Publisher for a Kafka cluster.
type KafkaPublisher struct {
	w     *kafka.Writer
	cfg   KafkaConfig
	mu    sync.Mutex
	ready time.Time // when Ready last succeeded
}

var _ Publisher = (*KafkaPublisher)(nil)

// NewKafkaPublisher returns a publisher writing to cfg.Topic. Partitions are
// chosen with murmur2 of the key, the Java client's default, so events of a
// tenant land on the same partition whichever client produced them.
func NewKafkaPublisher(cfg KafkaConfig) (*KafkaPublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 2 * time.Millisecond
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	w := &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Murmur2Balancer{},
		RequiredAcks:    kafka.RequireAll,
		BatchSize:       512,
		BatchBytes:      16 << 20,
		BatchTimeout:    cfg.BatchTimeout,
		WriteTimeout:    cfg.WriteTimeout,
		ReadTimeout:     cfg.WriteTimeout,
		MaxAttempts:     cfg.MaxAttempts,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       &kafka.Transport{DialTimeout: 2 * time.Second, MetadataTTL: 10 * time.Second},
	}
	return &KafkaPublisher{w: w, cfg: cfg}, nil
}

// Publish writes msgs and waits for the acknowledgement of all of them.
func (p *KafkaPublisher) Publish(ctx context.Context, msgs []kafka.Message) error {
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d events to %s: %w", len(msgs), p.cfg.Topic, err)
	}
	return nil
}

// Ready checks that the topic's partitions have leaders. Success is cached
// for a second so that probes do not hammer the broker.
func (p *KafkaPublisher) Ready(ctx context.Context) error {
	p.mu.Lock()
	fresh := time.Since(p.ready) < time.Second
	p.mu.Unlock()
	if fresh {
		return nil
	}
	if err := TopicReady(ctx, p.cfg.Brokers, p.cfg.Topic); err != nil {
		return err
	}
	p.mu.Lock()
	p.ready = time.Now()
	p.mu.Unlock()
	return nil
}

// Close flushes and closes the writer.
func (p *KafkaPublisher) Close() error { return p.w.Close() }

// TopicReady returns nil when topic exists and every partition has a leader.
func TopicReady(ctx context.Context, brokers []string, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, done := adminClient(brokers)
	defer done()
	res, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	for _, t := range res.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return fmt.Errorf("kafka topic %s: %w", topic, t.Error)
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("kafka topic %s has no partitions", topic)
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return fmt.Errorf("kafka topic %s partition %d has no leader", topic, p.ID)
			}
		}
		return nil
	}
	return fmt.Errorf("kafka topic %s does not exist (run keel migrate)", topic)
}

// adminClient returns a client with a transport of its own, so a pooled
// connection to a broker that restarted since is never reused (it would fail
// with EOF), and a function that closes it.
func adminClient(brokers []string) (*kafka.Client, func()) {
	tr := &kafka.Transport{DialTimeout: 3 * time.Second, IdleTimeout: time.Second}
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}, tr.CloseIdleConnections
}

// EnsureTopic creates topic with the given number of partitions unless it
// exists. Replication is 1 for a single broker and 3 otherwise.
func EnsureTopic(ctx context.Context, brokers []string, topic string, partitions int) error {
	c, done := adminClient(brokers)
	defer done()
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	for _, t := range meta.Topics {
		if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
			return nil
		}
	}
	rf := 1
	if len(meta.Brokers) >= 3 {
		rf = 3
	}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: rf,
	}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	// A new topic's partitions need a moment to get leaders.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := TopicReady(ctx, brokers, topic)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// maxAgeHeader is the header carrying a key's own late-arrival window.
func maxAgeHeader(d time.Duration) kafka.Header {
	return kafka.Header{Key: HeaderMaxAge, Value: []byte(strconv.FormatInt(int64(d/time.Second), 10))}
}

// MaxAgeFromHeaders returns the late-arrival window a message asks for, or 0.
func MaxAgeFromHeaders(hs []kafka.Header) time.Duration {
	for _, h := range hs {
		if h.Key == HeaderMaxAge {
			if s, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil && s > 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	return 0
}

// KeyFromHeaders returns the id of the ingest key a message says sent it,
// or 0 when it names none (a producer writing straight to Kafka). It is
// on the loader's path for every message, so it parses the digits itself
// rather than make a string of them.
func KeyFromHeaders(hs []kafka.Header) uint64 {
	for _, h := range hs {
		if h.Key != HeaderKey {
			continue
		}
		if len(h.Value) == 0 || len(h.Value) > 19 {
			return 0
		}
		var n uint64
		for _, c := range h.Value {
			if c < '0' || c > '9' {
				return 0
			}
			n = n*10 + uint64(c-'0')
		}
		return n
	}
	return 0
}
