package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

var topicSeq atomic.Int64

// newTopic creates a fresh topic for one test.
func newTopic(t *testing.T, brokers []string, partitions int) string {
	t.Helper()
	name := fmt.Sprintf("test.%s.%d.%d", strings.NewReplacer("/", ".", "_", "-").Replace(t.Name()), time.Now().UnixNano()%1e6, topicSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := collector.EnsureTopic(ctx, brokers, name, partitions); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return name
}

// produce writes messages keyed by tenant, as the collector does.
func produce(t *testing.T, brokers []string, topic string, msgs ...kafka.Message) {
	t.Helper()
	// A transport of its own: the shared default one caches cluster metadata
	// and would not know a topic created a moment ago.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 5000, Transport: tr}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			t.Fatalf("produce: %v", err)
		}
		msgs = msgs[n:]
	}
}

func eventMsg(tenant, id, typ, user string, at time.Time) kafka.Message {
	v := fmt.Sprintf(`{"id":%q,"type":%q,"tenant":%q,"user":%q,"time":%q}`, id, typ, tenant, user, at.UTC().Format(time.RFC3339))
	return kafka.Message{Key: []byte(tenant), Value: []byte(v)}
}

// manyEvents returns n login events spread over tenants prefix-0..prefix-9.
func manyEvents(prefix string, n int, at time.Time) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range out {
		tenant := fmt.Sprintf("%s-%d", prefix, i%10)
		out[i] = eventMsg(tenant, fmt.Sprintf("e%d", i), ingest.TypeLogin, fmt.Sprintf("u%d", i%37), at.Add(-time.Duration(i)*time.Second))
	}
	return out
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("KEEL_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type runningLoader struct {
	*Loader
	stop func()
}

// startLoader runs a loader until the test ends or stop is called.
func startLoader(t *testing.T, cfg LoaderConfig, sink Sink) *runningLoader {
	t.Helper()
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 50 * time.Millisecond
	}
	l, err := NewLoader(cfg, sink, testLogger(t))
	if err != nil {
		t.Fatalf("NewLoader: %v", err)
	}
	return &runningLoader{Loader: l, stop: runInBackground(t, "loader", l.Run)}
}

// runInBackground calls run until the test ends or stop is called; stop
// waits for run to return and fails the test if it returned an error or did
// not stop within a minute.
func runInBackground(t *testing.T, name string, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(60 * time.Second):
				t.Errorf("%s did not stop within 60 s", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// counts returns the stored rows and distinct (tenant, id) of tenants with
// the prefix.
func counts(t *testing.T, s *Store, prefix string) (rows, distinct uint64) {
	t.Helper()
	err := s.Conn().QueryRow(context.Background(),
		"SELECT count(), uniqExact(tenant_id, event_id) FROM events WHERE startsWith(tenant_id, ?)", prefix).Scan(&rows, &distinct)
	if err != nil {
		t.Fatalf("count events: %v", err)
	}
	return rows, distinct
}

// waitRows waits until want rows of tenants with the prefix are stored, and
// then a little longer to catch any that should not be there.
func waitRows(t *testing.T, s *Store, prefix string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rows, _ := counts(t, s, prefix)
		if rows >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d rows for %s, want %d", rows, prefix, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	rows, distinct := counts(t, s, prefix)
	if rows != want || distinct != want {
		t.Fatalf("stored %d rows, %d distinct, want %d of each", rows, distinct, want)
	}
}

func TestLoaderStoresEventsAndParksBadMessages(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 4)
	now := time.Now().UTC()
	prefix := "park"
	good := manyEvents(prefix, 500, now)
	bad := []struct {
		msg        kafka.Message
		wantReason string
	}{
		{kafka.Message{Key: []byte(prefix + "-x"), Value: []byte(`{"id":"b1","type":"login"`)}, "invalid JSON"},
		{kafka.Message{Key: []byte(prefix + "-x"), Value: []byte(`{"id":"b2","type":"login","tenant":"park-x","time":"2026-11-23T08:00:00Z"}`)}, "user: required"},
		{kafka.Message{Key: []byte(prefix + "-x"), Value: []byte(`{"id":"b3","type":"signup","tenant":"park-x","user":"u","time":"2026-11-23T08:00:00Z"}`)}, "type: unknown"},
		{eventMsg(prefix+"-x", "b4", "login", "u", now.Add(-40*24*time.Hour)), "time: "},
		{eventMsg(prefix+"-x", "b5", "login", "u", now.Add(time.Hour)), "time: "},
		{kafka.Message{Key: []byte("someone-else"), Value: eventMsg(prefix+"-x", "b6", "login", "u", now).Value}, "kafka message key"},
		{kafka.Message{Key: []byte(prefix + "-x"), Value: nil}, ""},
	}
	msgs := append([]kafka.Message{}, good[:250]...)
	for _, b := range bad {
		msgs = append(msgs, b.msg)
	}
	msgs = append(msgs, good[250:]...)
	produce(t, brokers, topic, msgs...)

	startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	waitRows(t, s, prefix, 500)

	rows, err := s.Conn().Query(context.Background(),
		"SELECT reason, raw FROM rejected_events WHERE kafka_topic = ? ORDER BY kafka_offset", topic)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var reasons []string
	for rows.Next() {
		var reason, raw string
		if err := rows.Scan(&reason, &raw); err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, reason)
	}
	if len(reasons) < len(bad) {
		t.Fatalf("parked %d messages, want %d: %q", len(reasons), len(bad), reasons)
	}
	for _, b := range bad {
		found := false
		for _, r := range reasons {
			if strings.Contains(r, b.wantReason) {
				found = true
			}
		}
		if !found {
			t.Errorf("no parked message with a reason containing %q; reasons: %q", b.wantReason, reasons)
		}
	}
}

func TestLoaderStoresAnIDOnce(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 4)
	now := time.Now().UTC()
	prefix := "dup"
	batch := manyEvents(prefix, 300, now)
	produce(t, brokers, topic, batch...)
	// The same batch re-sent (a client retry), and one event many times.
	produce(t, brokers, topic, batch...)
	for i := 0; i < 5; i++ {
		produce(t, brokers, topic, batch[7])
	}
	l := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	waitRows(t, s, prefix, 300)
	if got := testutil.ToFloat64(l.m.messages.WithLabelValues("duplicate")); got != 305 {
		t.Errorf("duplicates dropped = %v, want 305", got)
	}
	// A re-send after the first copies are stored, to a restarted loader
	// that must learn them from ClickHouse.
	l.stop()
	produce(t, brokers, topic, batch[:50]...)
	l2 := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(l2.m.messages.WithLabelValues("duplicate")) < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("restarted loader dropped %v duplicates, want 50", testutil.ToFloat64(l2.m.messages.WithLabelValues("duplicate")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rows, distinct := counts(t, s, prefix); rows != 300 || distinct != 300 {
		t.Errorf("after re-send: %d rows, %d distinct, want 300", rows, distinct)
	}
}

// TestLoaderSkipsWhatAPreviousLoaderStored plays a loader that inserted a
// batch and died before committing: the next loader must not insert it again.
func TestLoaderSkipsWhatAPreviousLoaderStored(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 1)
	now := time.Now().UTC()
	prefix := "redeliver"
	msgs := manyEvents(prefix, 200, now)
	produce(t, brokers, topic, msgs...)

	// Store offsets 0..119 as the dead loader did, without committing.
	b := Batch{Topic: topic}
	for i, m := range msgs[:120] {
		ev, err := ingest.ParseEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		b.AddEvent(&ev, Position{Partition: 0, Offset: int64(i)}, now)
	}
	if err := s.Insert(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	l := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	waitRows(t, s, prefix, 200)
	if got := testutil.ToFloat64(l.m.messages.WithLabelValues("redelivered")); got != 120 {
		t.Errorf("redelivered skipped = %v, want 120", got)
	}
	if got := testutil.ToFloat64(l.m.messages.WithLabelValues("stored")); got != 80 {
		t.Errorf("stored = %v, want 80", got)
	}
}

// flakySink stores only part of the first batch and then fails, as a
// ClickHouse that dies between the parts of a multi-month insert would.
type flakySink struct {
	*Store
	failed atomic.Bool
}

func (f *flakySink) Insert(ctx context.Context, b *Batch) error {
	if f.failed.Swap(true) {
		return f.Store.Insert(ctx, b)
	}
	half := Batch{Topic: b.Topic}
	for i := 0; i < len(b.Events.ID); i += 2 {
		e := &b.Events
		ev := ingest.Event{Tenant: e.Tenant[i], ID: e.ID[i], Type: e.Type[i], User: e.User[i], Time: e.Time[i], Props: e.Props[i]}
		half.AddEvent(&ev, Position{Partition: int(e.Partition[i]), Offset: int64(e.Offset[i])}, e.Ingested[i])
	}
	if err := f.Store.Insert(ctx, &half); err != nil {
		return err
	}
	return errors.New("connection reset by peer (injected)")
}

func TestLoaderCompletesAPartlyStoredBatch(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 2)
	prefix := "partial"
	produce(t, brokers, topic, manyEvents(prefix, 400, time.Now().UTC())...)
	sink := &flakySink{Store: s}
	l := startLoader(t, LoaderConfig{Brokers: brokers, Topic: topic, Group: topic, FlushInterval: 300 * time.Millisecond}, sink)
	waitRows(t, s, prefix, 400)
	if !sink.failed.Load() {
		t.Fatal("the injected failure never happened")
	}
	// The rows the failed attempt stored count as stored, not as repeats.
	waitGroupCaughtUp(t, brokers, topic, topic, 2)
	for outcome, want := range map[string]float64{"stored": 400, "duplicate": 0, "redelivered": 0} {
		if got := testutil.ToFloat64(l.m.messages.WithLabelValues(outcome)); got != want {
			t.Errorf("%s counter %v, want %v", outcome, got, want)
		}
	}
	if rows, distinct := counts(t, s, prefix); rows != 400 || distinct != 400 {
		t.Errorf("%d rows, %d distinct, want 400 once each", rows, distinct)
	}
}

func TestTwoLoadersShareTheWork(t *testing.T) {
	stack, s := testStack(t)
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 8)
	prefix := "shared"
	now := time.Now().UTC()
	// Forty tenants spread over the partitions.
	msgs := make([]kafka.Message, 20000)
	for i := range msgs {
		tenant := fmt.Sprintf("%s-%d", prefix, i%40)
		msgs[i] = eventMsg(tenant, fmt.Sprintf("e%d", i), ingest.TypeFeatureUsed, fmt.Sprintf("u%d", i%50), now.Add(-time.Duration(i)*time.Second))
	}
	cfg := LoaderConfig{Brokers: brokers, Topic: topic, Group: topic}
	a := startLoader(t, cfg, s)
	b := startLoader(t, cfg, s)
	// Let both join before the events arrive, so both get partitions.
	deadline := time.Now().Add(60 * time.Second)
	for testutil.ToFloat64(a.m.partitions)+testutil.ToFloat64(b.m.partitions) != 8 ||
		testutil.ToFloat64(a.m.partitions) == 0 || testutil.ToFloat64(b.m.partitions) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("partitions: loader a %v, loader b %v; want all 8 shared", testutil.ToFloat64(a.m.partitions), testutil.ToFloat64(b.m.partitions))
		}
		time.Sleep(100 * time.Millisecond)
	}
	produce(t, brokers, topic, msgs...)
	waitRows(t, s, prefix, 20000)
	sa, sb := testutil.ToFloat64(a.m.messages.WithLabelValues("stored")), testutil.ToFloat64(b.m.messages.WithLabelValues("stored"))
	if sa == 0 || sb == 0 || sa+sb != 20000 {
		t.Errorf("stored by a: %v, by b: %v; want both > 0 and 20000 together", sa, sb)
	}
	// One loader leaves: the other takes over its partitions and new events.
	b.stop()
	more := make([]kafka.Message, 2000)
	for i := range more {
		tenant := fmt.Sprintf("%s-%d", prefix, i%40)
		more[i] = eventMsg(tenant, fmt.Sprintf("f%d", i), ingest.TypeFeatureUsed, "u1", now)
	}
	produce(t, brokers, topic, more...)
	waitRows(t, s, prefix, 22000)
}
