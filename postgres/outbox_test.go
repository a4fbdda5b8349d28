package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/warehouse"
)

func TestOutboxPayload(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	at := time.Date(2026, 11, 20, 8, 0, 0, 500, time.FixedZone("CET", 3600))
	tests := []struct {
		name    string
		fact    keel.Fact
		want    string // the payload, or "" when an error is expected
		wantErr string
	}{
		{"full", keel.Fact{Kind: keel.FactOrderApproved, CustomerID: 12, Tenant: "t-1001", At: at, Data: json.RawMessage(`{"order_id":5,"paid":12000}`)},
			`{"customer_id":12,"tenant":"t-1001","at":"2026-11-20T07:00:00.0000005Z","data":{"order_id":5,"paid":12000}}`, ""},
		{"no data, no time", keel.Fact{Kind: keel.FactCustomerCreated, CustomerID: 3},
			`{"customer_id":3,"tenant":"","at":"2026-11-23T09:30:00Z","data":{}}`, ""},
		// keel.Fact.Check's own tests hold every refusal; these show that
		// AddFact makes them invalid-input errors naming the field.
		{"no kind", keel.Fact{CustomerID: 3}, "", "fact kind: required"},
		{"negative customer", keel.Fact{Kind: keel.FactCustomerCreated, CustomerID: -1}, "", "fact customer_id: required"},
		{"link without tenant", keel.Fact{Kind: keel.FactTenantLinked, CustomerID: 3}, "", "fact tenant: required for tenant.linked"},
		{"data not an object", keel.Fact{Kind: keel.FactCustomerUpdated, CustomerID: 3, Data: json.RawMessage(`[1]`)}, "", "fact data: must be a JSON object"},
		{"time out of range", keel.Fact{Kind: keel.FactCustomerUpdated, CustomerID: 3, At: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}, "", "fact at: 1969-12-31T00:00:00Z is outside 1970–2105"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := outboxPayload(tt.fact, now)
			if tt.wantErr != "" {
				if keel.ErrorCode(err) != keel.EINVALID || !strings.HasPrefix(keel.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("error %v, want an invalid error starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("payload\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestOutboxRowFact: the relay turns the outbox's columns into the fact it
// publishes, and names the row and field it cannot read.
func TestOutboxRowFact(t *testing.T) {
	data := `{"paid": 12000, "lines": [{"line_id": 3}], "order_id": 5}` // as jsonb prints it
	row := outboxRow{id: 41, kind: "order.approved", customer: "12", tenant: "t-1001", at: "2026-11-20T07:00:00.0000005Z", data: []byte(data)}
	got, err := row.fact()
	if err != nil {
		t.Fatal(err)
	}
	want := keel.Fact{ID: 41, Kind: keel.FactOrderApproved, CustomerID: 12, Tenant: "t-1001",
		At: time.Date(2026, 11, 20, 7, 0, 0, 500, time.UTC), Data: json.RawMessage(data)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v (data %s), want %+v (data %s)", got, got.Data, want, want.Data)
	}
	for _, bad := range []outboxRow{
		{id: 42, kind: "order.approved", customer: "", at: "2026-11-20T07:00:00Z", data: []byte("{}")},
		{id: 42, kind: "order.approved", customer: "12", at: "monday", data: []byte("{}")},
	} {
		if _, err := bad.fact(); err == nil || !strings.HasPrefix(err.Error(), "outbox row 42: payload ") {
			t.Errorf("%+v: error %v, want one naming outbox row 42 and the field", bad, err)
		}
	}
}

// TestOutboxRoundTrip: a fact of every kind, with its payload, goes into
// the outbox (AddFact), comes out as the relay reads it — the payload
// through jsonb, its keys reordered — and is encoded; the loader parses
// back the same fact and payload.
func TestOutboxRoundTrip(t *testing.T) {
	e := newFactEnv(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 8, 0, 0, 123456789, time.UTC)
	end := "2027-12-01"
	payloads := []struct {
		kind keel.FactKind
		data any // a pointer to the kind's payload
	}{
		{keel.FactCustomerCreated, &keel.CustomerFact{ID: 12, Name: "Acme <GmbH> & Co", TenantID: "t-1", CreatedAt: at, UpdatedAt: at}},
		{keel.FactCustomerUpdated, &keel.CustomerFact{ID: 12, Name: "Acme", TenantID: "t-1", Region: "EU", CreatedAt: at, UpdatedAt: at}},
		{keel.FactTenantLinked, &keel.TenantFact{CustomerID: 12, TenantID: "t-1", Previous: "t-0", Name: "Acme"}},
		{keel.FactOrderApproved, &keel.OrderFact{ID: 5, CustomerID: 12, Kind: keel.OrderNew, Status: keel.OrderApproved, Currency: "EUR", Total: 1200,
			Payment: &keel.PaymentFact{Amount: 1200, PaidAt: at, Reference: "INV-5"}, DecidedAt: &at, Lines: []keel.OrderLineFact{{ID: 9, Months: 12, Total: 1200, MonthlyAmount: 100}}}},
		{keel.FactOrderVoided, &keel.OrderFact{ID: 5, CustomerID: 12, Kind: keel.OrderNew, Status: keel.OrderVoid, Currency: "EUR", VoidedAt: &at, Lines: []keel.OrderLineFact{}}},
		{keel.FactSubscriptionChanged, &keel.SubscriptionFact{ID: 8, CustomerID: 12, ProductCode: "pro", Status: keel.SubActive, End: &end,
			Grants: []keel.GrantFact{{ID: 30, OrderID: 5, Start: "2026-12-01", End: &end, MonthlyAmount: 100, Currency: "EUR"}}}},
	}
	var want []keel.Fact
	for _, p := range payloads {
		f, err := keel.NewFact(p.kind, 12, "t-1", at, p.data)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	e.commit(t, want...)
	rows, err := e.db.Pool().Query(ctx, "SELECT "+outboxRowColumns+" FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var row outboxRow
		if err := rows.Scan(row.dest()...); err != nil {
			t.Fatal(err)
		}
		f, err := row.fact()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := keel.ParseFact(msg)
		if err != nil {
			t.Fatalf("ParseFact(%s): %v", msg, err)
		}
		w := want[i]
		if got.ID != e.base+int64(i) || got.Kind != w.Kind || got.CustomerID != w.CustomerID || got.Tenant != w.Tenant || !got.At.Equal(w.At) {
			t.Errorf("fact %d: got %+v, want %+v with id %d", i, got, w, e.base+int64(i))
		}
		payload := reflect.New(reflect.TypeOf(payloads[i].data).Elem())
		if err := json.Unmarshal(got.Data, payload.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(payload.Interface(), payloads[i].data) {
			t.Errorf("%s: payload came back as %s, want %+v", w.Kind, got.Data, payloads[i].data)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Errorf("%d outbox rows, want %d", i, len(want))
	}
}

func TestRelayConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  RelayConfig
		ok   bool
	}{
		{"defaults", RelayConfig{Brokers: []string{"b:9092"}}, true},
		{"no brokers", RelayConfig{}, false},
		{"negative batch", RelayConfig{Brokers: []string{"b:9092"}, BatchSize: -1}, false},
		{"huge batch", RelayConfig{Brokers: []string{"b:9092"}, BatchSize: 100000}, false},
	}
	for _, tt := range tests {
		cfg := tt.cfg
		cfg.defaults()
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// factEnv is one test's outbox: a database of its own (so that the relay
// lock, the outbox and its ids are the test's alone), a fresh Kafka topic
// that the outbox's rows default to, and a facts loader for that topic.
// Each test's ids start at a different billion, because the ClickHouse
// facts table is shared by all tests of the binary.
type factEnv struct {
	db      *DB
	url     string
	topic   string
	brokers []string
	base    int64
	store   *warehouse.Store
}

var envSeq atomic.Int64

func newFactEnv(t *testing.T) *factEnv {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	n := envSeq.Add(1)
	name := fmt.Sprintf("outbox_%d_%d", n, time.Now().UnixNano()%1e9)
	admin, err := pgx.Connect(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), st.Postgres.URL())
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	e := &factEnv{url: strings.Replace(st.Postgres.URL(), "/keel?", "/"+name+"?", 1), brokers: st.Kafka.Brokers(), base: n * 1_000_000_000}
	if e.db, err = Open(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.db.Close)
	if _, err := migrations.ApplyPostgres(ctx, e.db.Pool()); err != nil {
		t.Fatal(err)
	}
	e.topic = "test.facts." + name
	if err := collector.EnsureTopic(ctx, e.brokers, e.topic, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool().Exec(ctx, fmt.Sprintf("ALTER SEQUENCE outbox_id_seq RESTART WITH %d", e.base)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool().Exec(ctx, fmt.Sprintf("ALTER TABLE outbox ALTER COLUMN topic SET DEFAULT '%s'", e.topic)); err != nil {
		t.Fatal(err)
	}
	if e.store, err = warehouse.Open(ctx, st.ClickHouse.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	return e
}

func relayTestLogger() *slog.Logger {
	if os.Getenv("KEEL_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runUntilStopped runs fn until stop is called or the test ends.
func runUntilStopped(t *testing.T, what string, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", what, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop within 30 s", what)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type testRelay struct {
	*Relay
	stop func()
}

func (e *factEnv) startRelay(t *testing.T, cfg RelayConfig) *testRelay {
	t.Helper()
	cfg.Brokers = e.brokers
	r, err := NewRelay(cfg, e.db, relayTestLogger())
	if err != nil {
		t.Fatal(err)
	}
	return &testRelay{Relay: r, stop: runUntilStopped(t, "relay", r.Run)}
}

func (r *testRelay) active() bool     { return testutil.ToFloat64(r.m.active) == 1 }
func (r *testRelay) relayed() float64 { return testutil.ToFloat64(r.m.relayed) }

func (e *factEnv) startLoader(t *testing.T) {
	t.Helper()
	l, err := warehouse.NewFactLoader(warehouse.FactLoaderConfig{
		Brokers: e.brokers, Topic: e.topic, Group: e.topic, FlushInterval: 50 * time.Millisecond,
	}, e.store, relayTestLogger())
	if err != nil {
		t.Fatal(err)
	}
	runUntilStopped(t, "facts loader", l.Run)
}

// commit adds facts in one transaction and commits it.
func (e *factEnv) commit(t *testing.T, facts ...keel.Fact) {
	t.Helper()
	if err := e.tx(context.Background(), true, facts...); err != nil {
		t.Fatal(err)
	}
}

func (e *factEnv) tx(ctx context.Context, commit bool, facts ...keel.Fact) error {
	tx, err := e.db.Pool().Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, f := range facts {
		if err := AddFact(ctx, tx, f); err != nil {
			return err
		}
	}
	if !commit {
		return tx.Rollback(ctx)
	}
	return tx.Commit(ctx)
}

// outbox returns the ids in the outbox and how many are unsent.
func (e *factEnv) outbox(t *testing.T) (ids []uint64, unsent int) {
	t.Helper()
	rows, err := e.db.Pool().Query(context.Background(), "SELECT id, sent_at IS NULL FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var u bool
		if err := rows.Scan(&id, &u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, uint64(id))
		if u {
			unsent++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, unsent
}

// waitSent waits until the outbox has no unsent row.
func (e *factEnv) waitSent(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, unsent := e.outbox(t)
		if unsent == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d facts still unsent after %s", unsent, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stored returns the fact ids of this test stored in ClickHouse and how
// many extra copies hold them.
func (e *factEnv) stored(t *testing.T) ([]uint64, uint64) {
	t.Helper()
	ids, copies, err := e.store.StoredFactIDs(context.Background(), uint64(e.base), uint64(e.base)+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	return ids, copies
}

// waitStored waits until ClickHouse has every id of want and then checks
// that it has exactly those, each in one row.
func (e *factEnv) waitStored(t *testing.T, want []uint64) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, _ := e.stored(t)
		if len(got) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse has %d of %d facts after 90 s", len(got), len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.waitCaughtUp(t)
	got, copies := e.stored(t)
	if !slices.Equal(got, want) {
		t.Fatalf("stored fact ids differ from the outbox's:\n got %d ids %v\nwant %d ids %v", len(got), firstIDs(got), len(want), firstIDs(want))
	}
	if copies != 0 {
		t.Errorf("%d facts stored more than once; the loader's check should drop every repeat", copies)
	}
}

func firstIDs(ids []uint64) []uint64 {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}

// waitCaughtUp waits until the facts loader committed every message of the
// topic: after that, nothing it has read can still land.
func (e *factEnv) waitCaughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(e.brokers...), Transport: tr}
	parts := []int{0, 1, 2, 3}
	for {
		ends, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			e.topic: {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2), kafka.LastOffsetOf(3)}}})
		if err == nil {
			var committed *kafka.OffsetFetchResponse
			committed, err = c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: e.topic, Topics: map[string][]int{e.topic: parts}})
			if err == nil {
				done := map[int]int64{}
				for _, p := range committed.Topics[e.topic] {
					done[p.Partition] = p.CommittedOffset
				}
				behind := 0
				for _, p := range ends.Topics[e.topic] {
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
			t.Fatalf("facts loader did not catch up with the topic: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// topicMessages reads every message of the test's topic.
func (e *factEnv) topicMessages(t *testing.T) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	for p := 0; p < 4; p++ {
		conn, err := kafka.DialLeader(context.Background(), "tcp", e.brokers[0], e.topic, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
			t.Fatal(err)
		}
		for off := first; off < last; {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			b := conn.ReadBatch(1, 10<<20)
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				out = append(out, m)
				off = m.Offset + 1
			}
			if err := b.Close(); err != nil && off < last {
				t.Fatalf("read partition %d: %v", p, err)
			}
		}
		conn.Close()
	}
	return out
}

func TestCommittedFactIsRelayedAndStoredOnce(t *testing.T) {
	e := newFactEnv(t)
	ctx := context.Background()
	e.startLoader(t)
	// A poll interval of an hour: only the notification can wake the relay.
	r := e.startRelay(t, RelayConfig{PollInterval: time.Hour})
	waitUntil(t, "relay to take the lock", r.active)

	tenant := "t-" + e.topic
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	committed := time.Now()
	e.commit(t,
		keel.Fact{Kind: keel.FactCustomerCreated, CustomerID: 12, Tenant: tenant, At: at, Data: json.RawMessage(`{"name":"Acme"}`)},
		keel.Fact{Kind: keel.FactTenantLinked, CustomerID: 12, Tenant: tenant, At: at},
		keel.Fact{Kind: keel.FactOrderApproved, CustomerID: 12, Tenant: tenant, At: at.Add(time.Hour), Data: json.RawMessage(`{"order_id":5,"paid":12000,"currency":"EUR"}`)},
	)
	e.waitSent(t, 10*time.Second)
	if d := time.Since(committed); d > 2*time.Second {
		t.Errorf("relayed %s after commit; the notification should wake the relay at once", d.Round(time.Millisecond))
	}
	ids, _ := e.outbox(t)
	want := []uint64{uint64(e.base), uint64(e.base) + 1, uint64(e.base) + 2}
	if !slices.Equal(ids, want) {
		t.Fatalf("outbox ids %v, want %v", ids, want)
	}
	e.waitStored(t, ids)

	// What Kafka got: key, header and value as the contract says.
	msgs := e.topicMessages(t)
	if len(msgs) != 3 {
		t.Fatalf("%d messages in Kafka, want 3", len(msgs))
	}
	slices.SortFunc(msgs, func(a, b kafka.Message) int { return strings.Compare(factIDHeader(a), factIDHeader(b)) })
	wantKinds := []keel.FactKind{keel.FactCustomerCreated, keel.FactTenantLinked, keel.FactOrderApproved}
	for i, m := range msgs {
		v, err := keel.ParseFact(m.Value)
		if err != nil {
			t.Fatalf("message %s: %v", m.Value, err)
		}
		if string(m.Key) != "12" || factIDHeader(m) != strconv.FormatUint(ids[i], 10) || uint64(v.ID) != ids[i] ||
			v.Kind != wantKinds[i] || v.CustomerID != 12 || v.Tenant != tenant {
			t.Errorf("message %d: key %q, header %q, value %s; want key 12, id %d, kind %s", i, m.Key, factIDHeader(m), m.Value, ids[i], wantKinds[i])
		}
		if wantAt := at.Add(time.Duration(i/2) * time.Hour); !v.At.Equal(wantAt) || !strings.Contains(string(m.Value), `"at":"`+wantAt.Format(time.RFC3339)+`"`) {
			t.Errorf("message %d: value %s, want at %s (RFC 3339, UTC)", i, m.Value, wantAt.Format(time.RFC3339))
		}
	}

	// What ClickHouse has.
	byKind, total, err := e.store.FactCountsBetween(ctx, uint64(e.base), uint64(e.base)+999_999_999)
	if err != nil {
		t.Fatal(err)
	}
	if wantKinds := map[keel.FactKind]uint64{keel.FactCustomerCreated: 1, keel.FactTenantLinked: 1, keel.FactOrderApproved: 1}; total != 3 || !reflect.DeepEqual(byKind, wantKinds) {
		t.Errorf("fact counts %v (total %d), want %v (total 3)", byKind, total, wantKinds)
	}
	var kind, gotTenant, payload string
	var customer uint64
	var gotAt time.Time
	if err := e.store.Conn().QueryRow(ctx, "SELECT kind, customer_id, tenant, at, payload FROM facts WHERE fact_id = ?", ids[2]).
		Scan(&kind, &customer, &gotTenant, &gotAt, &payload); err != nil {
		t.Fatal(err)
	}
	if kind != string(keel.FactOrderApproved) || customer != 12 || gotTenant != tenant || !gotAt.Equal(at.Add(time.Hour)) ||
		payload != `{"paid":12000,"currency":"EUR","order_id":5}` {
		t.Errorf("stored %s %d %s %s %s", kind, customer, gotTenant, gotAt, payload)
	}
	links, err := e.store.TenantCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if links[tenant] != 12 {
		t.Errorf("tenant %s linked to customer %d, want 12", tenant, links[tenant])
	}
	if got := r.relayed(); got != 3 {
		t.Errorf("keel_relay_relayed_total = %v, want 3", got)
	}
}

func factIDHeader(m kafka.Message) string {
	for _, h := range m.Headers {
		if h.Key == keel.HeaderFactID {
			return string(h.Value)
		}
	}
	return ""
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRolledBackFactIsNeverRelayed(t *testing.T) {
	e := newFactEnv(t)
	ctx := context.Background()
	e.startLoader(t)
	e.startRelay(t, RelayConfig{})

	// Rolled back on purpose, and rolled back because a later statement
	// of the transaction failed.
	if err := e.tx(ctx, false, keel.Fact{Kind: keel.FactOrderApproved, CustomerID: 7}); err != nil {
		t.Fatal(err)
	}
	tx, err := e.db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := AddFact(ctx, tx, keel.Fact{Kind: keel.FactOrderVoided, CustomerID: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1/0"); err == nil {
		t.Fatal("division by zero succeeded")
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("commit of a failed transaction: %v, want ErrTxCommitRollback", err)
	}
	e.commit(t, keel.Fact{Kind: keel.FactOrderApproved, CustomerID: 8})

	// The two rolled-back facts took ids base and base+1 from the sequence.
	want := []uint64{uint64(e.base) + 2}
	e.waitSent(t, 10*time.Second)
	ids, _ := e.outbox(t)
	if !slices.Equal(ids, want) {
		t.Fatalf("outbox ids %v, want %v", ids, want)
	}
	e.waitStored(t, want)
	if msgs := e.topicMessages(t); len(msgs) != 1 || factIDHeader(msgs[0]) != strconv.FormatUint(want[0], 10) {
		t.Errorf("Kafka has %d messages, want only fact %d", len(msgs), want[0])
	}
}

// TestRelayHandOverStoresEveryFactOnce: facts are added by concurrent
// transactions while the working relay is stopped mid-way twice; each time
// the relay waiting on the lock takes over. Then half the facts are marked
// unsent again — what a relay killed between Kafka's acknowledgement and the
// mark leaves behind, and what a warehouse rebuild does on purpose — and
// sent again. Every fact is stored exactly once throughout.
func TestRelayHandOverStoresEveryFactOnce(t *testing.T) {
	const (
		writers     = 6
		txPerWriter = 120
	)
	e := newFactEnv(t)
	ctx := context.Background()
	e.startLoader(t)
	cfg := RelayConfig{BatchSize: 50}
	a := e.startRelay(t, cfg)
	waitUntil(t, "relay a to take the lock", a.active)
	b := e.startRelay(t, cfg)
	time.Sleep(300 * time.Millisecond)
	if b.active() {
		t.Fatal("relay b works while relay a holds the lock")
	}

	kinds := []keel.FactKind{keel.FactCustomerCreated, keel.FactCustomerUpdated, keel.FactOrderApproved, keel.FactOrderVoided, keel.FactSubscriptionChanged}
	var wg sync.WaitGroup
	var rolledBack atomic.Int64
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < txPerWriter; i++ {
				var facts []keel.Fact
				for j := 0; j <= i%3; j++ {
					facts = append(facts, keel.Fact{Kind: kinds[(i+j)%len(kinds)], CustomerID: int64(1 + (w*31+i)%40), Data: json.RawMessage(fmt.Sprintf(`{"writer":%d,"tx":%d}`, w, i))})
				}
				commit := i%10 != 9
				if !commit {
					rolledBack.Add(int64(len(facts)))
				}
				if err := e.tx(ctx, commit, facts...); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	waitUntil(t, "relay a to publish", func() bool { return a.relayed() >= 100 })
	a.stop()
	waitUntil(t, "relay b to take over", b.active)
	c := e.startRelay(t, cfg)
	waitUntil(t, "relay b to publish", func() bool { return b.relayed() >= 100 })
	b.stop()
	waitUntil(t, "relay c to take over", c.active)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.waitSent(t, 60*time.Second)
	ids, _ := e.outbox(t)
	if len(ids) == 0 || rolledBack.Load() == 0 {
		t.Fatalf("%d facts committed, %d rolled back; want some of each", len(ids), rolledBack.Load())
	}
	e.waitStored(t, ids)
	t.Logf("%d facts from %d transactions (%d facts rolled back); relays published %v + %v + %v",
		len(ids), writers*txPerWriter, rolledBack.Load(), a.relayed(), b.relayed(), c.relayed())

	// Counts by kind agree with the outbox.
	want := map[keel.FactKind]uint64{}
	rows, err := e.db.Pool().Query(ctx, "SELECT kind, count(*) FROM outbox GROUP BY kind")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		want[keel.FactKind(k)] = uint64(n)
	}
	rows.Close()
	checkCounts := func() {
		t.Helper()
		byKind, total, err := e.store.FactCountsBetween(ctx, uint64(e.base), uint64(e.base)+999_999_999)
		if err != nil {
			t.Fatal(err)
		}
		if total != uint64(len(ids)) || !reflect.DeepEqual(byKind, want) {
			t.Errorf("ClickHouse counts %v (total %d), want %v (total %d)", byKind, total, want, len(ids))
		}
	}
	checkCounts()

	// Replay half: sent again, counted once.
	before := len(e.topicMessages(t))
	tag, err := e.db.Pool().Exec(ctx, "UPDATE outbox SET sent_at = NULL WHERE id % 2 = 0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool().Exec(ctx, "NOTIFY keel_outbox"); err != nil {
		t.Fatal(err)
	}
	e.waitSent(t, 30*time.Second)
	if after := len(e.topicMessages(t)); after < before+int(tag.RowsAffected()) {
		t.Fatalf("Kafka has %d messages after the replay, want at least %d + %d", after, before, tag.RowsAffected())
	}
	e.waitStored(t, ids)
	checkCounts()
}
