package collector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func TestMain(m *testing.M) { teststack.Main(m) }

var topicSeq atomic.Int64

// pipeline is a collector in front of real Kafka and Postgres, with a real
// loader behind it writing to real ClickHouse.
type pipeline struct {
	url   string
	key   string
	db    *postgres.DB
	store *warehouse.Store
	topic string
	keys  *collector.Keys
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	return newPipelineWith(t, collector.Config{})
}

// newPipelineWith is newPipeline with the collector configured by cfg.
func newPipelineWith(t *testing.T, cfg collector.Config) *pipeline {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	brokers := st.Kafka.Brokers()
	topic := fmt.Sprintf("test.collector.%d.%d", time.Now().UnixNano()%1e6, topicSeq.Add(1))
	if err := collector.EnsureTopic(ctx, brokers, topic, 4); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	_, key, err := db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: "test-app"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := collector.NewKafkaPublisher(collector.KafkaConfig{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	keys := collector.NewKeys(db, log)
	kctx, stopKeys := context.WithCancel(ctx)
	t.Cleanup(stopKeys)
	go keys.Run(kctx, time.Second)
	c, err := collector.New(cfg, keys, pub, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)

	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := warehouse.NewLoader(warehouse.LoaderConfig{Brokers: brokers, Topic: topic, Group: topic, FlushInterval: 50 * time.Millisecond}, store, log)
	if err != nil {
		t.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.Run(lctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return &pipeline{url: srv.URL, key: key, db: db, store: store, topic: topic, keys: keys}
}

func (p *pipeline) post(t *testing.T, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// storedIDs returns the event ids stored for a tenant.
func (p *pipeline) storedIDs(t *testing.T, tenant string) map[string]int {
	t.Helper()
	rows, err := p.store.Conn().Query(context.Background(), "SELECT event_id FROM events WHERE tenant_id = ?", tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	return out
}

func ev(id, typ, tenant, user string, at time.Time, extra string) string {
	return fmt.Sprintf(`{"id":%q,"type":%q,"tenant":%q,"user":%q,"time":%q%s}`, id, typ, tenant, user, at.UTC().Format(time.RFC3339), extra)
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestCollectorBadInput sends each kind of bad input next to a good event:
// the bad one gets the documented status and a message naming the problem,
// the good one is stored — unless the whole request is refused, in which
// case nothing is.
func TestCollectorBadInput(t *testing.T) {
	p := newPipeline(t)
	now := time.Now().UTC()
	const tenant = "bad-input"
	good := func(i int) string { return ev(fmt.Sprintf("good-%d", i), "login", tenant, "u1", now, "") }
	many := make([]string, ingest.MaxBatchEvents+1)
	for i := range many {
		many[i] = ev(fmt.Sprintf("many-%d", i), "login", tenant, "u1", now, "")
	}
	tests := []struct {
		name       string
		body       []byte
		header     map[string]string
		wantStatus int
		wantMsg    string // in the error message, or in the first rejection
		goodIndex  int    // index of the good event in an accepted batch (-1: none)
	}{
		{"bad JSON", []byte(`[` + good(1) + `, {"id": `), nil, 400, "invalid JSON", -1},
		{"empty body", nil, nil, 400, "empty body", -1},
		{"NDJSON with a broken line", []byte("{\"id\": \n" + good(2) + "\n"), nil, 202, "invalid JSON", 1},
		{"element not an object", []byte(`["login", ` + good(3) + `]`), nil, 202, "must be a JSON object", 1},
		{"missing id", []byte(`[` + good(4) + `, {"type":"login","tenant":"bad-input","user":"u","time":"` + now.Format(time.RFC3339) + `"}]`), nil, 202, "id: required", 0},
		{"id too long", []byte(`[` + good(5) + `,` + ev(strings.Repeat("x", 65), "login", tenant, "u", now, "") + `]`), nil, 202, "id: longer than 64", 0},
		{"missing tenant", []byte(`[` + good(6) + `, {"id":"x","type":"login","user":"u","time":"` + now.Format(time.RFC3339) + `"}]`), nil, 202, "tenant: required", 0},
		{"user is a number", []byte(`[` + good(7) + `, {"id":"x","type":"login","tenant":"bad-input","user":7,"time":"` + now.Format(time.RFC3339) + `"}]`), nil, 202, "user: must be a string", 0},
		{"unknown type", []byte(`[` + good(8) + `,` + ev("x", "signup", tenant, "u", now, "") + `]`), nil, 202, "type: unknown type", 0},
		{"missing time", []byte(`[` + good(9) + `, {"id":"x","type":"login","tenant":"bad-input","user":"u"}]`), nil, 202, "time: required", 0},
		{"time not RFC 3339", []byte(`[` + good(10) + `, {"id":"x","type":"login","tenant":"bad-input","user":"u","time":"yesterday"}]`), nil, 202, "not an RFC 3339 time", 0},
		{"time in the future", []byte(`[` + good(11) + `,` + ev("x", "login", tenant, "u", now.Add(time.Hour), "") + `]`), nil, 202, "in the future", 0},
		{"time too old", []byte(`[` + good(12) + `,` + ev("x", "login", tenant, "u", now.Add(-31*24*time.Hour), "") + `]`), nil, 202, "older than the late-arrival window", 0},
		{"nested props", []byte(`[` + good(13) + `,` + ev("x", "login", tenant, "u", now, `,"props":{"a":{"b":1}}`) + `]`), nil, 202, "props.a: must be a string, number or bool", 0},
		{"props too large", []byte(`[` + good(14) + `,` + ev("x", "login", tenant, "u", now, `,"props":{"a":"`+strings.Repeat("y", 9000)+`"}`) + `]`), nil, 202, "props: ", 0},
		{"unknown field", []byte(`[` + good(15) + `,` + ev("x", "login", tenant, "u", now, `,"tenat":"t"`) + `]`), nil, 202, "tenat: unknown field", 0},
		{"seat snapshot without seats", []byte(`[` + good(16) + `,` + ev("x", "seat_snapshot", tenant, "", now, "") + `]`), nil, 202, "props.seats: required", 0},
		{"too many events", []byte("[" + strings.Join(many, ",") + "]"), nil, 413, "at most 1000 events", -1},
		{"body over 1 MiB", []byte(`[` + good(17) + `,"` + strings.Repeat("z", ingest.MaxBatchBytes) + `"]`), nil, 413, "over 1048576 bytes", -1},
		{"no key", []byte(`[` + good(18) + `]`), map[string]string{"Authorization": ""}, 401, "ingest key", -1},
		{"unknown key", []byte(`[` + good(19) + `]`), map[string]string{"Authorization": "Bearer keel_ingest_nosuchkey"}, 401, "ingest key", -1},
		{"not gzip", []byte(`[` + good(20) + `]`), map[string]string{"Content-Encoding": "gzip"}, 400, "gzip", -1},
		{"gzip body", gz(`[` + good(21) + `,` + ev("x", "bogus", tenant, "u", now, "") + `]`), map[string]string{"Content-Encoding": "gzip"}, 202, "type: unknown type", 0},
		// Neither a JSON array nor NDJSON with a line that is an object.
		{"not JSON at all", []byte("not json at all"), nil, 400, "unparsable body", -1},
		{"a JSON string holding the array", []byte(strconv.Quote("[" + good(22) + "]")), nil, 400, "unparsable body", -1},
		{"a bare number", []byte("42"), nil, 400, "unparsable body", -1},
		{"an event split over lines", []byte(strings.ReplaceAll(good(23), ",", ",\n")), nil, 400, "unparsable body", -1},
		// A line that is an object is an event, however wrong.
		{"NDJSON with an object that is not an event", []byte(good(24) + "\n" + `{"events":[` + good(25) + "]}"), nil, 202, "events: unknown field", 0},
	}
	wantStored := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := p.post(t, tt.body, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, body, tt.wantStatus)
			}
			if status == http.StatusAccepted {
				var r ingest.Response
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				if r.Accepted != 1 || len(r.Rejected) != 1 {
					t.Fatalf("accepted %d, rejected %v; want 1 and 1", r.Accepted, r.Rejected)
				}
				if !strings.Contains(r.Rejected[0].Error, tt.wantMsg) {
					t.Errorf("rejection %q does not say %q", r.Rejected[0].Error, tt.wantMsg)
				}
				if r.Rejected[0].Index == tt.goodIndex {
					t.Errorf("the good event at index %d was rejected", tt.goodIndex)
				}
				wantStored[goodID(t, tt.body, tt.header)] = true
				return
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not the JSON error shape: %v", body, err)
			}
			if !strings.Contains(e.Error.Message, tt.wantMsg) || e.Error.Code == "" {
				t.Errorf("error %+v does not say %q", e.Error, tt.wantMsg)
			}
		})
	}
	// Every good event of an accepted batch is stored once; nothing else is.
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := p.storedIDs(t, tenant)
		if len(got) >= len(wantStored) {
			for id, n := range got {
				if !wantStored[id] || n != 1 {
					t.Errorf("stored %q %d times; want only the good events, once", id, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", got, wantStored)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCollectorRepeatsInABatch: an id sent twice in one batch for the same
// tenant is one event, as it is across batches: accepted counts it once,
// neither copy is rejected, and the first valid copy is the one stored. The
// same id of another tenant is another event.
func TestCollectorRepeatsInABatch(t *testing.T) {
	p := newPipeline(t)
	now := time.Now().UTC()
	const tenant, other = "repeats", "repeats-other"
	body := "[" + strings.Join([]string{
		ev("r1", "login", tenant, "u1", now, ""),
		ev("r2", "login", tenant, "u1", now, ""),
		ev("r1", "login", tenant, "u1", now, ""),                // the same event again
		ev("r1", "page_view", tenant, "u2", now, ""),            // the same id, changed: still the first event
		ev("r1", "login", other, "u1", now, ""),                 // another tenant's r1
		ev("r3", "login", tenant, "u1", now.Add(time.Hour), ""), // rejected: in the future
		ev("r3", "logout", tenant, "u1", now, ""),               // so this copy is r3
	}, ",") + "]"
	status, _, b := p.post(t, []byte(body), nil)
	if status != http.StatusAccepted {
		t.Fatalf("status %d %s, want 202", status, b)
	}
	var r ingest.Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 4 || len(r.Rejected) != 1 || r.Rejected[0].Index != 5 {
		t.Fatalf("accepted %d, rejected %+v; want 4 distinct events accepted and index 5 rejected", r.Accepted, r.Rejected)
	}
	want := map[string]string{tenant + "/r1": "login", tenant + "/r2": "login", tenant + "/r3": "logout", other + "/r1": "login"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := p.storedTypes(t, tenant, other)
		if len(got) >= len(want) {
			if !maps.Equal(got, want) {
				t.Errorf("stored %v, want %v", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tn := range []string{tenant, other} {
		for id, n := range p.storedIDs(t, tn) {
			if n != 1 {
				t.Errorf("%s/%s stored %d times, want once", tn, id, n)
			}
		}
	}
}

// storedTypes returns the type stored for each tenant/id of two tenants.
func (p *pipeline) storedTypes(t *testing.T, a, b string) map[string]string {
	t.Helper()
	rows, err := p.store.Conn().Query(context.Background(), "SELECT tenant_id, event_id, event_type FROM events WHERE tenant_id IN (?, ?)", a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var tenant, id, typ string
		if err := rows.Scan(&tenant, &id, &typ); err != nil {
			t.Fatal(err)
		}
		out[tenant+"/"+id] = typ
	}
	return out
}

// goodID finds the id of the good event in a test body.
func goodID(t *testing.T, body []byte, header map[string]string) string {
	t.Helper()
	if header["Content-Encoding"] == "gzip" {
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(r)
	}
	i := bytes.Index(body, []byte(`"good-`))
	j := bytes.IndexByte(body[i+1:], '"')
	return string(body[i+1 : i+1+j])
}

func TestCollectorRevokedKey(t *testing.T) {
	p := newPipeline(t)
	ctx := context.Background()
	k, key, err := p.db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: "to-revoke"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[` + ev("r1", "login", "revoked", "u", time.Now(), "") + `]`)
	if status, _, b := p.post(t, body, map[string]string{"Authorization": "Bearer " + key}); status != 202 {
		t.Fatalf("fresh key: status %d %s, want 202", status, b)
	}
	if _, err := p.db.RevokeIngestKey(ctx, keel.System, k.ID); err != nil {
		t.Fatal(err)
	}
	// The collector reloads keys every few seconds; a revoked key stops
	// working within that interval.
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _, _ := p.post(t, body, map[string]string{"Authorization": "Bearer " + key})
		if status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still accepted (status %d)", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestCollectorRateLimit(t *testing.T) {
	p := newPipeline(t)
	_, key, err := p.db.CreateIngestKey(context.Background(), keel.System, keel.IngestKey{Name: "slow-app", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	batch := func(n, from int) []byte {
		evs := make([]string, n)
		for i := range evs {
			evs[i] = ev(fmt.Sprintf("rl-%d", from+i), "page_view", "rate-limit", "u", now, "")
		}
		return []byte("[" + strings.Join(evs, ",") + "]")
	}
	auth := map[string]string{"Authorization": "Bearer " + key}
	// The burst is one full batch; the next batch has to wait ~10 s at 100/s.
	if status, _, b := p.post(t, batch(1000, 0), auth); status != 202 {
		t.Fatalf("first batch: %d %s", status, b)
	}
	status, h, b := p.post(t, batch(500, 1000), auth)
	if status != http.StatusTooManyRequests {
		t.Fatalf("second batch: %d %s, want 429", status, b)
	}
	if ra := h.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want seconds to wait", ra)
	}
	// Other keys are not affected.
	if status, _, b := p.post(t, batch(10, 5000), nil); status != 202 {
		t.Errorf("another key: %d %s, want 202", status, b)
	}
}

// TestCollectorBrokerDown: with Kafka gone the collector answers 503 and
// accepts nothing; once Kafka is back the same batch goes through and is
// stored once.
func TestCollectorBrokerDown(t *testing.T) {
	p := newPipeline(t)
	st := teststack.Get(t)
	body := []byte(`[` + ev("down-1", "login", "broker-down", "u", time.Now(), "") + `]`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.Kafka.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	status, h, b := p.post(t, body, nil)
	if err := st.Kafka.Start(ctx); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("with the broker down: %d %s (Retry-After %q), want 503 with Retry-After", status, b, h.Get("Retry-After"))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, _, b = p.post(t, body, nil)
		if status == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the broker came back: %d %s", status, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		if got := p.storedIDs(t, "broker-down"); got["down-1"] == 1 && len(got) == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("stored %v, want down-1 once", p.storedIDs(t, "broker-down"))
}

func TestCollectorHealthAndMetrics(t *testing.T) {
	p := newPipeline(t)
	if status, _, b := p.post(t, []byte(`[`+ev("m1", "login", "metrics", "u", time.Now(), "")+`]`), nil); status != 202 {
		t.Fatalf("post: %d %s", status, b)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(p.url + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				if path == "/metrics" && !bytes.Contains(b, []byte(`keel_collector_events_total{outcome="accepted"} 1`)) {
					t.Errorf("/metrics does not count the accepted event:\n%s", b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s, want %d", path, resp.StatusCode, b, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	resp, err := http.Get(p.url + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/events: %d, want 405", resp.StatusCode)
	}
}

// TestCollectorKeysAndTenantLimits: events from two keys are stored with
// the id of the key that sent them; a key limited to some tenants gets
// each event of another tenant rejected naming the tenant, the rest of its
// batch stored; the keys' last uses reach Postgres when the cache records
// them.
func TestCollectorKeysAndTenantLimits(t *testing.T) {
	p := newPipeline(t)
	ctx := context.Background()
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	open, openKey, err := p.db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: "any-" + run})
	if err != nil {
		t.Fatal(err)
	}
	own, eu, other := "lim-"+run, "eu-"+run+"-1", "foreign-"+run
	limited, limitedKey, err := p.db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: "eu-app-" + run,
		Limit: keel.TenantLimit{Tenants: []string{own}, Prefix: "eu-" + run}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	post := func(key string, evs ...string) ingest.Response {
		t.Helper()
		status, _, b := p.post(t, []byte("["+strings.Join(evs, ",")+"]"), map[string]string{"Authorization": "Bearer " + key})
		if status != http.StatusAccepted {
			t.Fatalf("status %d %s, want 202", status, b)
		}
		var r ingest.Response
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := post(openKey, ev("a1", "login", other, "u1", now, ""), ev("a2", "login", own, "u1", now, ""))
	if r.Accepted != 2 || len(r.Rejected) != 0 {
		t.Fatalf("the open key: %+v, want both accepted", r)
	}
	r = post(limitedKey,
		ev("b1", "login", own, "u1", now, ""),
		ev("b2", "login", other, "u1", now, ""),
		ev("b3", "feature_used", eu, "u2", now, `,"props":{"feature":"export"}`),
		ev("b4", "login", "eu-"+run[:1], "u3", now, ""), // shorter than the prefix
	)
	if r.Accepted != 2 || len(r.Rejected) != 2 || r.Rejected[0].Index != 1 || r.Rejected[1].Index != 3 {
		t.Fatalf("the limited key: %+v, want b1 and b3 accepted, b2 and b4 rejected", r)
	}
	want := fmt.Sprintf("tenant: ingest key %q may not send events of tenant %q", "eu-app-"+run, other)
	if r.Rejected[0].Error != want || r.Rejected[0].ID != "b2" {
		t.Errorf("rejection %+v, want %q", r.Rejected[0], want)
	}

	// Stored with the key that sent each; the refused events are not.
	wantKeys := map[string]uint64{other + "/a1": uint64(open.ID), own + "/a2": uint64(open.ID), own + "/b1": uint64(limited.ID), eu + "/b3": uint64(limited.ID)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]uint64{}
		rows, err := p.store.Conn().Query(ctx, "SELECT tenant_id, event_id, key_id FROM events WHERE tenant_id IN (?, ?, ?)", own, eu, other)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var tenant, id string
			var key uint64
			if err := rows.Scan(&tenant, &id, &key); err != nil {
				t.Fatal(err)
			}
			got[tenant+"/"+id] = key
		}
		rows.Close()
		if len(got) >= len(wantKeys) {
			if !maps.Equal(got, wantKeys) {
				t.Errorf("stored %v, want %v", got, wantKeys)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", got, wantKeys)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Last uses: in the cache until it records them, then in Postgres.
	lastUsed := func() map[int64]*time.Time {
		t.Helper()
		list, _, err := p.db.ListIngestKeys(ctx, keel.System, keel.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]*time.Time{}
		for _, k := range list {
			out[k.ID] = k.LastUsedAt
		}
		return out
	}
	if got := lastUsed(); got[open.ID] != nil || got[limited.ID] != nil {
		t.Errorf("last uses written before the cache recorded them: %v", got)
	}
	if err := p.keys.RecordUses(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{open.ID, limited.ID} {
		if at := lastUsed()[id]; at == nil || at.Before(now.Add(-time.Second)) || at.After(time.Now()) {
			t.Errorf("key %d last used %v, want about %v", id, at, now)
		}
	}
}

// TestCollectorExpiredKey: a key whose expiry passed is refused with 401
// by the collector's own clock, before the cache reloads it.
func TestCollectorExpiredKey(t *testing.T) {
	// Minutes, not hours: the collector stamps messages with its clock, and
	// Kafka refuses timestamps more than an hour ahead of its own.
	later := time.Now().Add(2 * time.Minute)
	p := newPipelineWith(t, collector.Config{Now: func() time.Time { return later }})
	until := time.Now().Add(time.Minute)
	_, key, err := p.db.CreateIngestKey(context.Background(), keel.System, keel.IngestKey{Name: "expiring", ExpiresAt: &until})
	if err != nil {
		t.Fatal(err)
	}
	status, _, b := p.post(t, []byte(`[`+ev("x1", "login", "expired-key", "u", time.Now(), "")+`]`), map[string]string{"Authorization": "Bearer " + key})
	if status != http.StatusUnauthorized || !strings.Contains(string(b), "expired") {
		t.Errorf("an expired key: %d %s, want 401", status, b)
	}
	if status, _, b := p.post(t, []byte(`[`+ev("x2", "login", "expired-key", "u", time.Now(), "")+`]`), nil); status != http.StatusAccepted {
		t.Errorf("a key without an expiry: %d %s, want 202", status, b)
	}
}

func TestKeyFromHeaders(t *testing.T) {
	tests := []struct {
		value string
		want  uint64
	}{
		{"42", 42}, {"0", 0}, {"18446744073709551615", 0}, {"9223372036854775807", 9223372036854775807},
		{"", 0}, {"-1", 0}, {"4x", 0}, {" 4", 0},
	}
	for _, tt := range tests {
		hs := []kafka.Header{{Key: collector.HeaderMaxAge, Value: []byte("60")}, {Key: collector.HeaderKey, Value: []byte(tt.value)}}
		if got := collector.KeyFromHeaders(hs); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.value, got, tt.want)
		}
	}
	if got := collector.KeyFromHeaders(nil); got != 0 {
		t.Errorf("no headers: %d, want 0", got)
	}
}
