package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// Fact ids are global in the facts table; each test takes its own billion.
var factSeq atomic.Uint64

func factBase() uint64 { return factSeq.Add(1) * 1_000_000_000 }

func factMsg(id uint64, kind keel.FactKind, customer uint64, tenant string, at time.Time, data string) kafka.Message {
	v := fmt.Sprintf(`{"id":%d,"kind":%q,"customer_id":%d,"tenant":%q,"at":%q,"data":%s}`, id, kind, customer, tenant, at.UTC().Format(time.RFC3339), data)
	return kafka.Message{Key: []byte(strconv.FormatUint(customer, 10)), Value: []byte(v)}
}

type runningFactLoader struct {
	*FactLoader
	stop func()
}

func startFactLoader(t *testing.T, cfg FactLoaderConfig, sink FactSink) *runningFactLoader {
	t.Helper()
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 50 * time.Millisecond
	}
	l, err := NewFactLoader(cfg, sink, testLogger(t))
	if err != nil {
		t.Fatalf("NewFactLoader: %v", err)
	}
	return &runningFactLoader{FactLoader: l, stop: runInBackground(t, "facts loader", l.Run)}
}

func (l *runningFactLoader) count(outcome string) float64 {
	return testutil.ToFloat64(l.m.messages.WithLabelValues(outcome))
}

// waitGroupCaughtUp waits until group committed every message of topic.
func waitGroupCaughtUp(t *testing.T, brokers []string, topic, group string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	var reqs []kafka.OffsetRequest
	var parts []int
	for p := 0; p < partitions; p++ {
		reqs = append(reqs, kafka.LastOffsetOf(p))
		parts = append(parts, p)
	}
	for {
		ends, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err == nil {
			var committed *kafka.OffsetFetchResponse
			if committed, err = c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}}); err == nil {
				done := map[int]int64{}
				for _, p := range committed.Topics[topic] {
					done[p.Partition] = p.CommittedOffset
				}
				behind := 0
				for _, p := range ends.Topics[topic] {
					if p.LastOffset > 0 && done[p.Partition] < p.LastOffset {
						behind++
					}
				}
				if behind == 0 {
					return
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s did not catch up with %s: %v", group, topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func rejectedReasons(t *testing.T, s *Store, topic string) []string {
	t.Helper()
	rows, err := s.Conn().Query(context.Background(), "SELECT reason FROM rejected_events WHERE kafka_topic = ? ORDER BY kafka_partition, kafka_offset", topic)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestFactLoaderStoresOnceAndParksMalformed sends good facts, the same
// facts again (within a batch and batches later, as a relay re-sends them)
// and malformed messages. Each fact is stored once and each malformed
// message parked with its reason. A second loader in a new group then reads
// the whole topic again — a re-delivery of everything — and changes nothing.
func TestFactLoaderStoresOnceAndParksMalformed(t *testing.T) {
	stack, s := testStack(t)
	ctx := context.Background()
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 4)
	base := factBase()
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	kinds := []keel.FactKind{keel.FactCustomerCreated, keel.FactOrderApproved, keel.FactOrderVoided, keel.FactSubscriptionChanged}
	const good = 300
	var msgs []kafka.Message
	var want []uint64
	wantKinds := map[keel.FactKind]uint64{}
	for i := uint64(1); i <= good; i++ {
		k := kinds[i%uint64(len(kinds))]
		msgs = append(msgs, factMsg(base+i, k, 1+i%17, "", at.Add(time.Duration(i)*time.Minute), fmt.Sprintf(`{"n": %d}`, i)))
		want = append(want, base+i)
		wantKinds[k]++
	}
	// Re-sends: a run of 50 several batches later, and one right after itself.
	msgs = append(msgs, msgs[:50]...)
	msgs = slices.Insert(msgs, 100, msgs[99])
	const resent = 51
	bad := []struct {
		msg        kafka.Message
		wantReason string
	}{
		{kafka.Message{Key: []byte("1"), Value: []byte(`{"id":`)}, "invalid JSON"},
		{kafka.Message{Key: []byte("1"), Value: []byte(`{"kind":"order.approved","customer_id":1,"at":"2026-11-20T08:00:00Z"}`)}, "id: required"},
		{kafka.Message{Key: []byte("1"), Value: []byte(`{"id":1,"customer_id":1,"at":"2026-11-20T08:00:00Z"}`)}, "kind: required"},
		{kafka.Message{Key: []byte("1"), Value: []byte(`{"id":1,"kind":"order.approved","customer_id":1,"at":"Monday"}`)}, "at: not an RFC 3339 time"},
		{kafka.Message{Key: []byte("1"), Value: []byte(`{"id":1,"kind":"order.approved","customer_id":1,"at":"2026-11-20T08:00:00Z","data":"x"}`)}, "data: must be a JSON object"},
		{factMsg(base+900, "tenant.linked", 5, "", at, "{}"), "tenant: required for tenant.linked"},
		{kafka.Message{Key: []byte("6"), Value: factMsg(base+901, "order.approved", 5, "", at, "{}").Value}, `kafka message key "6" is not the fact's customer_id 5`},
		{kafka.Message{Key: []byte("1"), Value: nil}, "invalid JSON"},
	}
	for i, b := range bad {
		msgs = slices.Insert(msgs, 20+i*40, b.msg)
	}
	produce(t, brokers, topic, msgs...)

	l := startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topic, Group: topic, BatchRows: 64}, s)
	waitGroupCaughtUp(t, brokers, topic, topic, 4)
	ids, copies, err := s.StoredFactIDs(ctx, base, base+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, want) || copies != 0 {
		t.Fatalf("stored %d distinct facts (%d extra copies), want the %d sent, once each", len(ids), copies, good)
	}
	byKind, total, err := s.FactCountsBetween(ctx, base, base+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	if total != good || fmt.Sprint(byKind) != fmt.Sprint(wantKinds) {
		t.Errorf("counts %v (total %d), want %v (total %d)", byKind, total, wantKinds, good)
	}
	if got := l.count("stored"); got != good {
		t.Errorf("stored counter %v, want %d", got, good)
	}
	if got := l.count("duplicate"); got != resent {
		t.Errorf("duplicate counter %v, want %d", got, resent)
	}
	if got := l.count("rejected"); got != float64(len(bad)) {
		t.Errorf("rejected counter %v, want %d", got, len(bad))
	}
	reasons := rejectedReasons(t, s, topic)
	if len(reasons) != len(bad) {
		t.Fatalf("parked %d messages, want %d: %q", len(reasons), len(bad), reasons)
	}
	for _, b := range bad {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, b.wantReason) }) {
			t.Errorf("no parked message with reason %q in %q", b.wantReason, reasons)
		}
	}

	// Everything again, through a group that has never committed.
	l.stop()
	again := startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topic, Group: topic + ".again"}, s)
	waitGroupCaughtUp(t, brokers, topic, topic+".again", 4)
	ids, copies, err = s.StoredFactIDs(ctx, base, base+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != good || copies != 0 {
		t.Errorf("after re-reading the topic: %d distinct facts, %d extra copies; want %d and 0", len(ids), copies, good)
	}
	if got := again.count("duplicate"); got != good+resent {
		t.Errorf("re-reading loader dropped %v duplicates, want %d", got, good+resent)
	}
	if n := len(rejectedReasons(t, s, topic)); n != len(bad) {
		t.Errorf("after re-reading the topic %d parked messages, want %d", n, len(bad))
	}
}

// TestFactLoaderRestoresLostLink: a loader that stored a tenant.linked fact
// and died before storing its link finds the fact stored when the message
// comes again — and must still write the link.
func TestFactLoaderRestoresLostLink(t *testing.T) {
	stack, s := testStack(t)
	ctx := context.Background()
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 2)
	base := factBase()
	tenant := "heal-" + topic
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	f := keel.Fact{ID: int64(base + 1), Kind: keel.FactTenantLinked, CustomerID: int64(base + 7), Tenant: tenant, At: at, Data: json.RawMessage("{}")}
	b := FactBatch{Topic: topic}
	b.AddFact(&f, Position{Partition: 0, Offset: 0}, at)
	if err := s.InsertFacts(ctx, &b); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, topic, factMsg(uint64(f.ID), f.Kind, uint64(f.CustomerID), tenant, at, "{}"))
	startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topic, Group: topic}, s)
	waitGroupCaughtUp(t, brokers, topic, topic, 2)
	links, err := s.TenantCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if links[tenant] != uint64(f.CustomerID) {
		t.Errorf("tenant %s linked to %d, want %d", tenant, links[tenant], f.CustomerID)
	}
	if _, copies, err := s.StoredFactIDs(ctx, base, base+999_999_999); err != nil || copies != 0 {
		t.Errorf("fact stored again: %d extra copies (%v)", copies, err)
	}
}

// TestTenantLinkAttribution: events arrive keyed by product tenant; facts
// link tenants to customers, a tenant may be linked again to another
// customer, and link facts may arrive twice. A customer's event counts are
// those of the tenants whose latest link is to it.
func TestTenantLinkAttribution(t *testing.T) {
	stack, s := testStack(t)
	ctx := context.Background()
	brokers := stack.Kafka.Brokers()
	eventsTopic := newTopic(t, brokers, 4)
	factsTopic := newTopic(t, brokers, 4)
	base := factBase()
	prefix := fmt.Sprintf("attr%d", base/1_000_000_000)
	ta, tb, tc := prefix+"-a", prefix+"-b", prefix+"-c"
	c1, c2, c3, nobody := base+1, base+2, base+3, base+4
	now := time.Now().UTC().Truncate(time.Second)

	// a: 10 events by 3 users, 4 of them logins; b: 5 by 1 user, 2 logins;
	// c: 7 by 2 users, no logins. One of a's events is a day old.
	var events []kafka.Message
	for i := 0; i < 10; i++ {
		typ := ingest.TypeFeatureUsed
		if i < 4 {
			typ = ingest.TypeLogin
		}
		at := now.Add(-time.Duration(i) * time.Minute)
		if i == 9 {
			at = now.Add(-24 * time.Hour)
		}
		events = append(events, eventMsg(ta, fmt.Sprintf("a%d", i), typ, fmt.Sprintf("u%d", i%3), at))
	}
	for i := 0; i < 5; i++ {
		typ := ingest.TypeFeatureUsed
		if i < 2 {
			typ = ingest.TypeLogin
		}
		events = append(events, eventMsg(tb, fmt.Sprintf("b%d", i), typ, "u0", now.Add(-time.Duration(i)*time.Minute)))
	}
	for i := 0; i < 7; i++ {
		events = append(events, eventMsg(tc, fmt.Sprintf("c%d", i), ingest.TypePageView, fmt.Sprintf("u%d", i%2), now.Add(-time.Duration(i)*time.Minute)))
	}
	produce(t, brokers, eventsTopic, events...)
	startLoader(t, LoaderConfig{Brokers: brokers, Topic: eventsTopic, Group: eventsTopic}, s)

	at := now.Add(-time.Hour)
	linkA := factMsg(base+1, keel.FactTenantLinked, c1, ta, at, "{}")
	produce(t, brokers, factsTopic,
		linkA,
		factMsg(base+2, keel.FactTenantLinked, c1, tb, at, "{}"),
		factMsg(base+3, keel.FactTenantLinked, c2, tc, at, "{}"),
		factMsg(base+4, "customer.created", c3, "", at, "{}"),
		linkA,
		factMsg(base+5, keel.FactTenantLinked, c3, tb, at.Add(time.Minute), "{}"), // b moves to c3
	)
	startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: factsTopic, Group: factsTopic}, s)
	waitRows(t, s, prefix+"-", 22)
	waitGroupCaughtUp(t, brokers, factsTopic, factsTopic, 4)

	links, err := s.TenantCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for tenant, want := range map[string]uint64{ta: c1, tb: c3, tc: c2} {
		if links[tenant] != want {
			t.Errorf("tenant %s linked to %d, want %d", tenant, links[tenant], want)
		}
	}
	from, to := now.Add(-2*time.Hour), now.Add(time.Minute)
	tests := []struct {
		customer uint64
		from, to time.Time
		want     CustomerEvents
	}{
		{c1, from, to, CustomerEvents{Events: 9, Users: 3, Logins: 4}}, // a's last 2 hours; b is no longer c1's
		{c1, now.Add(-48 * time.Hour), to, CustomerEvents{Events: 10, Users: 3, Logins: 4}},
		{c2, from, to, CustomerEvents{Events: 7, Users: 2, Logins: 0}},
		{c3, from, to, CustomerEvents{Events: 5, Users: 1, Logins: 2}},
		{nobody, from, to, CustomerEvents{}},
	}
	for _, tt := range tests {
		got, err := s.CustomerEventCounts(ctx, tt.customer, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("customer %d from %s: %+v, want %+v", tt.customer-base, tt.from.Format(time.RFC3339), got, tt.want)
		}
	}
}

func TestFactLoaderConfigValidate(t *testing.T) {
	cfg := FactLoaderConfig{Brokers: []string{"b:9092"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	bad := cfg
	bad.Brokers = nil
	if bad.Validate() == nil {
		t.Error("no brokers: Validate() = nil")
	}
	bad = cfg
	bad.BatchRows = -1
	if bad.Validate() == nil {
		t.Error("negative batch: Validate() = nil")
	}
}

// flakyFactSink stores only the facts of the first batch and then fails, as
// a ClickHouse that dies between the inserts of one batch would.
type flakyFactSink struct {
	*Store
	failed atomic.Bool
}

func (f *flakyFactSink) InsertFacts(ctx context.Context, b *FactBatch) error {
	if f.failed.Swap(true) {
		return f.Store.InsertFacts(ctx, b)
	}
	factsOnly := FactBatch{Topic: b.Topic, Facts: b.Facts}
	if err := f.Store.InsertFacts(ctx, &factsOnly); err != nil {
		return err
	}
	return errors.New("connection reset by peer (injected)")
}

// TestFactLoaderCompletesAPartlyStoredBatch: an insert that stored the
// facts and failed before the rest is retried without them. Each fact is
// stored once, the malformed message parked once, and the facts the failed
// attempt stored count as stored, not as duplicates.
func TestFactLoaderCompletesAPartlyStoredBatch(t *testing.T) {
	stack, s := testStack(t)
	ctx := context.Background()
	brokers := stack.Kafka.Brokers()
	topic := newTopic(t, brokers, 1)
	base := factBase()
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	const good = 40
	var msgs []kafka.Message
	for i := uint64(1); i <= good; i++ {
		msgs = append(msgs, factMsg(base+i, "customer.created", 1+i%5, "", at, "{}"))
	}
	msgs = slices.Insert(msgs, 10, kafka.Message{Key: []byte("1"), Value: []byte(`{"id":`)})
	produce(t, brokers, topic, msgs...)

	sink := &flakyFactSink{Store: s}
	l := startFactLoader(t, FactLoaderConfig{Brokers: brokers, Topic: topic, Group: topic, FlushInterval: 300 * time.Millisecond}, sink)
	waitGroupCaughtUp(t, brokers, topic, topic, 1)
	if !sink.failed.Load() {
		t.Fatal("the injected failure never happened")
	}
	ids, copies, err := s.StoredFactIDs(ctx, base, base+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != good || copies != 0 {
		t.Errorf("stored %d distinct facts (%d extra copies), want %d once each", len(ids), copies, good)
	}
	if n := len(rejectedReasons(t, s, topic)); n != 1 {
		t.Errorf("parked %d messages, want 1", n)
	}
	if got := l.count("stored"); got != good {
		t.Errorf("stored counter %v, want %d", got, good)
	}
	if got := l.count("duplicate"); got != 0 {
		t.Errorf("duplicate counter %v, want 0", got)
	}
	if got := l.count("rejected"); got != 1 {
		t.Errorf("rejected counter %v, want 1", got)
	}
}
