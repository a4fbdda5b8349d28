package client

import (
	"github.com/segmentio/kafka-go"

	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

// fakeCollector imitates the collector: it checks the key, gunzips, parses the
// body with ingest.ParseBatch (so the client's JSON meets the real parser), records
// every request, and answers as the test's script says.
type fakeCollector struct {
	t   *testing.T
	key string
	// answer scripts the answer to request n (0-based); nil, or a zero
	// answer, means a 202 like the collector's. It runs without the lock,
	// so it may block.
	answer func(n int, items []ingest.Item) fakeAnswer

	mu     sync.Mutex
	reqs   []fakeRequest
	stored map[string]int // id → times accepted
}

type fakeRequest struct {
	at   time.Time
	ids  []string
	gzip bool
}

type fakeAnswer struct {
	status     int // 0 or 202: accept, except reject and items the parser refused
	retryAfter string
	reject     map[int]string // index → reason, for a 202
	message    string         // for an error status
}

const testKey = "keel_ingest_testkey"

func newFakeCollector(t *testing.T, answer func(n int, items []ingest.Item) fakeAnswer) *fakeCollector {
	return &fakeCollector{t: t, key: testKey, answer: answer, stored: map[string]int{}}
}

// start serves f on a fresh local port and returns the base URL.
func (f *fakeCollector) start(t *testing.T) (*httptest.Server, string) {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv, srv.URL
}

func (f *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
		f.t.Errorf("fake collector: unexpected %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, keel.ENOTFOUND, "no such route")
		return
	}
	var rd io.Reader = r.Body
	gz := r.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			f.t.Errorf("fake collector: gzip: %v", err)
			writeError(w, http.StatusBadRequest, keel.EINVALID, err.Error())
			return
		}
		rd = zr
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		f.t.Errorf("fake collector: read body: %v", err)
		writeError(w, http.StatusBadRequest, keel.EINVALID, err.Error())
		return
	}
	if len(body) > ingest.MaxBatchBytes {
		f.t.Errorf("fake collector: body of %d bytes is over ingest.MaxBatchBytes", len(body))
	}
	items, err := ingest.ParseBatch(body)
	if err != nil {
		f.t.Errorf("fake collector: ingest.ParseBatch: %v", err)
		writeError(w, http.StatusBadRequest, keel.EINVALID, err.Error())
		return
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.Event.ID
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, fakeRequest{at: time.Now(), ids: ids, gzip: gz})
	f.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+f.key {
		writeError(w, http.StatusUnauthorized, keel.EUNAUTHORIZED, "missing or unknown ingest key")
		return
	}
	var ans fakeAnswer
	if f.answer != nil {
		ans = f.answer(n, items)
	}
	if ans.status != 0 && ans.status != http.StatusAccepted {
		if ans.retryAfter != "" {
			w.Header().Set("Retry-After", ans.retryAfter)
		}
		writeError(w, ans.status, "test", ans.message)
		return
	}
	resp := ingest.Response{Rejected: []ingest.Rejection{}}
	f.mu.Lock()
	for i, it := range items {
		reason, bad := ans.reject[i]
		if it.Err != nil {
			reason, bad = it.Err.Error(), true
		}
		if bad {
			resp.Rejected = append(resp.Rejected, ingest.Rejection{Index: i, ID: it.Event.ID, Error: reason})
			continue
		}
		f.stored[it.Event.ID]++
		resp.Accepted++
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(resp)
}

// writeError answers in the collector's error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeCollector) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// checkStoredOnce checks that exactly ids were accepted, each once.
func (f *fakeCollector) checkStoredOnce(t *testing.T, ids []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stored) != len(ids) {
		t.Errorf("collector accepted %d distinct ids, want %d", len(f.stored), len(ids))
	}
	for _, id := range ids {
		if f.stored[id] != 1 {
			t.Errorf("id %s accepted %d times, want 1", id, f.stored[id])
		}
	}
}

// newTestClient returns a client of url with fast test settings, closed at
// the end of the test.
func newTestClient(t *testing.T, url string, cfg Config) *Client {
	t.Helper()
	cfg.URL = url
	if cfg.Key == "" {
		cfg.Key = testKey
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 20 * time.Millisecond
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour // tests Flush explicitly unless they test the timer
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func testEvent(i int) Event {
	return Event{Type: ingest.TypeFeatureUsed, Tenant: "t-1042", User: fmt.Sprintf("u-%d", i),
		Props: map[string]any{"feature": "export", "n": i}}
}

func sendN(t *testing.T, c *Client, n int) {
	t.Helper()
	for i := range n {
		if err := c.Send(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// checkStats checks the counters and that Sent = Accepted + Rejected.
func checkStats(t *testing.T, c *Client, accepted, rejected int64) {
	t.Helper()
	st := c.Stats()
	if st.Accepted != accepted || st.Rejected != rejected {
		t.Errorf("stats = %+v, want accepted %d, rejected %d", st, accepted, rejected)
	}
	if st.Sent != st.Accepted+st.Rejected {
		t.Errorf("stats = %+v: sent != accepted + rejected", st)
	}
}

// rejections collects what OnRejected hears.
type rejections struct {
	mu     sync.Mutex
	events []Event
	reason []string
}

func (r *rejections) record(ev Event, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.reason = append(r.reason, reason)
}

func (r *rejections) byID() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]string{}
	for i, ev := range r.events {
		m[ev.ID] = r.reason[i]
	}
	return m
}

func TestClientConfigValidate(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:8081", Key: testKey}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"minimal", func(*Config) {}, ""},
		{"all set", func(c *Config) {
			c.BatchSize, c.FlushInterval, c.MaxBuffered, c.Concurrency, c.MaxBackoff = ingest.MaxBatchEvents, time.Second, 5, 3, time.Second
		}, ""},
		{"no URL", func(c *Config) { c.URL = "" }, "URL is required"},
		{"not http", func(c *Config) { c.URL = "ftp://x" }, "http(s)"},
		{"no host", func(c *Config) { c.URL = "http://" }, "http(s)"},
		{"no key", func(c *Config) { c.Key = "" }, "Key is required"},
		{"key with newline", func(c *Config) { c.Key += "\n" }, "Key holds"},
		{"batch too large", func(c *Config) { c.BatchSize = ingest.MaxBatchEvents + 1 }, "BatchSize"},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "BatchSize"},
		{"negative interval", func(c *Config) { c.FlushInterval = -1 }, "FlushInterval"},
		{"negative buffer", func(c *Config) { c.MaxBuffered = -1 }, "MaxBuffered"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "Concurrency"},
		{"negative backoff", func(c *Config) { c.MaxBackoff = -1 }, "MaxBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestClientSendChecksEvents(t *testing.T) {
	f := newFakeCollector(t, nil)
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	type plan string
	tests := []struct {
		name      string
		edit      func(*Event)
		wantField string // "" = valid
	}{
		{"valid", func(*Event) {}, ""},
		{"scalar kinds", func(ev *Event) {
			ev.Props = map[string]any{"plan": plan("pro"), "a": int8(1), "b": uint64(2), "c": float32(1.5), "d": true, "e": json.Number("7")}
		}, ""},
		{"api call without user", func(ev *Event) { ev.Type, ev.User = ingest.TypeAPICall, "" }, ""},
		{"given id", func(ev *Event) { ev.ID = "my-own-id" }, ""},
		{"missing type", func(ev *Event) { ev.Type = "" }, "type"},
		{"unknown type", func(ev *Event) { ev.Type = "logn" }, "type"},
		{"missing tenant", func(ev *Event) { ev.Tenant = "" }, "tenant"},
		{"login without user", func(ev *Event) { ev.Type, ev.User = ingest.TypeLogin, "" }, "user"},
		{"id too long", func(ev *Event) { ev.ID = strings.Repeat("x", ingest.MaxIDLen+1) }, "id"},
		{"tenant not UTF-8", func(ev *Event) { ev.Tenant = "t-\xff" }, "tenant"},
		{"props slice", func(ev *Event) { ev.Props = map[string]any{"tags": []string{"a"}} }, "props.tags"},
		{"props nil", func(ev *Event) { ev.Props = map[string]any{"x": nil} }, "props.x"},
		{"props object", func(ev *Event) { ev.Props = map[string]any{"m": map[string]any{"a": 1}} }, "props.m"},
		{"props NaN", func(ev *Event) { ev.Props = map[string]any{"n": math.NaN()} }, "props.n"},
		{"props time", func(ev *Event) { ev.Props = map[string]any{"at": time.Now()} }, "props.at"},
		{"props too big", func(ev *Event) { ev.Props = map[string]any{"s": strings.Repeat("x", ingest.MaxPropsBytes)} }, "props"},
		{"seat snapshot without seats", func(ev *Event) { ev.Type, ev.Props = ingest.TypeSeatSnapshot, nil }, "props.seats"},
	}
	valid := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(1)
			tt.edit(&ev)
			err := c.Send(context.Background(), ev)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				valid++
				return
			}
			var fe *ingest.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("Send = %v, want a *ingest.FieldError for %q", err, tt.wantField)
			}
		})
	}
	flush(t, c)
	if got := c.Stats().Sent; got != int64(valid) {
		t.Errorf("Sent = %d, want %d: invalid events must not be queued", got, valid)
	}
	checkStats(t, c, int64(valid), 0)
}

func TestClientEncoding(t *testing.T) {
	var got []ingest.Item
	var mu sync.Mutex
	f := newFakeCollector(t, func(_ int, items []ingest.Item) fakeAnswer {
		mu.Lock()
		got = append(got, items...)
		mu.Unlock()
		return fakeAnswer{}
	})
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	at := time.Date(2026, 11, 23, 9, 30, 0, 123456000, time.FixedZone("CET", 3600))
	err := c.Send(context.Background(), Event{Type: ingest.TypeAPICall, Tenant: "t-1042", Time: at,
		Props: map[string]any{"feature": "<export>", "n": 3, "beta": true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), Event{Type: ingest.TypeLogin, Tenant: "t-1042", User: "u-77"}); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if len(got) != 2 {
		t.Fatalf("collector got %d events, want 2", len(got))
	}
	ev := got[0].Event
	if !ev.Time.Equal(at) || ev.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", ev.Time, at)
	}
	if want := `"time":"2026-11-23T08:30:00.123456Z"`; !strings.Contains(string(got[0].Raw), want) {
		t.Errorf("raw %s does not hold %s", got[0].Raw, want)
	}
	if want := `{"beta":true,"feature":"<export>","n":3}`; ev.Props != want {
		t.Errorf("props = %s, want %s", ev.Props, want)
	}
	if strings.Contains(string(got[0].Raw), `"user"`) {
		t.Errorf("raw %s: an empty user should be omitted", got[0].Raw)
	}
	if len(ev.ID) != 26 {
		t.Errorf("filled id %q is not 26 characters", ev.ID)
	}
	// Zero time = now; no props = no props field.
	if d := time.Since(got[1].Event.Time); d < 0 || d > time.Minute {
		t.Errorf("zero time was filled with %v, not now", got[1].Event.Time)
	}
	if strings.Contains(string(got[1].Raw), `"props"`) || got[1].Event.Props != "{}" {
		t.Errorf("raw %s: empty props should be omitted", got[1].Raw)
	}
}

func TestClientEventID(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for range 1000 {
		id := newEventID(now)
		if len(id) != 26 {
			t.Fatalf("id %q has %d characters, want 26", id, len(id))
		}
		var ms uint64
		for i, r := range id {
			v := strings.IndexRune(crockford, r)
			if v < 0 {
				t.Fatalf("id %q holds %q, not Crockford base32", id, r)
			}
			if i < 10 {
				ms = ms<<5 | uint64(v)
			}
		}
		if ms != uint64(now.UnixMilli()) {
			t.Fatalf("id %q encodes time %d, want %d", id, ms, now.UnixMilli())
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
	if a, b := newEventID(now), newEventID(now.Add(time.Millisecond)); a >= b {
		t.Errorf("ids do not sort by time: %s >= %s", a, b)
	}
}

// TestClientRetrySameIDs: a retryable answer and then a 202; the retry must
// carry the very same ids, through the queue and through SendBatch.
func TestClientRetrySameIDs(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway} {
		for _, path := range []string{"queue", "SendBatch"} {
			t.Run(fmt.Sprintf("%d/%s", status, path), func(t *testing.T) {
				f := newFakeCollector(t, func(n int, _ []ingest.Item) fakeAnswer {
					if n == 0 {
						return fakeAnswer{status: status, retryAfter: "0", message: "try again"}
					}
					return fakeAnswer{}
				})
				_, url := f.start(t)
				c := newTestClient(t, url, Config{})
				if path == "queue" {
					sendN(t, c, 5)
					flush(t, c)
					checkStats(t, c, 5, 0)
				} else {
					evs := []Event{testEvent(0), testEvent(1), testEvent(2), testEvent(3), testEvent(4)}
					resp, err := c.SendBatch(context.Background(), evs)
					if err != nil || resp.Accepted != 5 || len(resp.Rejected) != 0 {
						t.Fatalf("SendBatch = %+v, %v", resp, err)
					}
					reqs := f.requests()
					for i, ev := range evs {
						if ev.ID != reqs[0].ids[i] {
							t.Errorf("evs[%d].ID = %q, want the id sent, %q", i, ev.ID, reqs[0].ids[i])
						}
					}
				}
				reqs := f.requests()
				if len(reqs) != 2 {
					t.Fatalf("%d requests, want 2", len(reqs))
				}
				if !slices.Equal(reqs[0].ids, reqs[1].ids) {
					t.Errorf("retry sent ids %v, first attempt %v", reqs[1].ids, reqs[0].ids)
				}
				for _, id := range reqs[0].ids {
					if len(id) != 26 {
						t.Errorf("id %q was not filled", id)
					}
				}
				f.checkStoredOnce(t, reqs[0].ids)
				if got := c.Stats().Retries; got != 1 {
					t.Errorf("Retries = %d, want 1", got)
				}
			})
		}
	}
}

// TestClientRetriesOutliveFlush: a Flush that times out leaves the retries
// going; a later Flush sees them through with the same ids.
func TestClientRetriesOutliveFlush(t *testing.T) {
	var up atomic.Bool
	f := newFakeCollector(t, func(int, []ingest.Item) fakeAnswer {
		if !up.Load() {
			return fakeAnswer{status: http.StatusServiceUnavailable, retryAfter: "0", message: "kafka down"}
		}
		return fakeAnswer{}
	})
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	sendN(t, c, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := c.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 events not settled") {
		t.Fatalf("Flush against a down collector = %v, want a deadline error counting 3 events", err)
	}
	up.Store(true)
	flush(t, c)
	reqs := f.requests()
	for _, r := range reqs[1:] {
		if !slices.Equal(r.ids, reqs[0].ids) {
			t.Fatalf("a retry sent ids %v, first attempt %v", r.ids, reqs[0].ids)
		}
	}
	f.checkStoredOnce(t, reqs[0].ids)
	checkStats(t, c, 3, 0)
	if st := c.Stats(); st.Retries != int64(len(reqs)-1) {
		t.Errorf("Retries = %d, want %d (requests - 1)", st.Retries, len(reqs)-1)
	}
}

func TestClientRetryAfter(t *testing.T) {
	f := newFakeCollector(t, func(n int, _ []ingest.Item) fakeAnswer {
		if n == 0 {
			return fakeAnswer{status: http.StatusTooManyRequests, retryAfter: "1", message: "over the rate limit"}
		}
		return fakeAnswer{}
	})
	_, url := f.start(t)
	c := newTestClient(t, url, Config{})
	resp, err := c.SendBatch(context.Background(), []Event{testEvent(0), testEvent(1)})
	if err != nil || resp.Accepted != 2 {
		t.Fatalf("SendBatch = %+v, %v", resp, err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried after %v; Retry-After asked for 1s", gap)
	}
	if got := c.Stats().Retries; got != 1 {
		t.Errorf("Retries = %d, want 1", got)
	}
}

func TestClientParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 30 ", 30 * time.Second},
		{"-5", 0},
		{"soon", 0},
		{"99999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestClientBackoff(t *testing.T) {
	c := &Client{cfg: Config{MaxBackoff: time.Second}}
	for attempt, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		for range 50 {
			if got := c.backoff(attempt); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
	if got := c.backoff(1000); got > time.Second {
		t.Errorf("backoff(1000) = %v, over MaxBackoff", got)
	}
}

func TestClientPartialRejection(t *testing.T) {
	answer := func(n int, items []ingest.Item) fakeAnswer {
		if n == 0 {
			return fakeAnswer{reject: map[int]string{1: "time: too old", 3: "user: unknown"}}
		}
		return fakeAnswer{}
	}
	t.Run("queue", func(t *testing.T) {
		f := newFakeCollector(t, answer)
		_, url := f.start(t)
		var rej rejections
		c := newTestClient(t, url, Config{OnRejected: rej.record})
		sendN(t, c, 5)
		flush(t, c) // OnRejected has run for every rejected event once Flush returns
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		ids := reqs[0].ids
		want := map[string]string{ids[1]: "time: too old", ids[3]: "user: unknown"}
		if got := rej.byID(); !maps.Equal(got, want) {
			t.Errorf("OnRejected heard %v, want %v", got, want)
		}
		flush(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("%d requests after Flush and Close, want 1: nothing may be resent", n)
		}
		f.checkStoredOnce(t, []string{ids[0], ids[2], ids[4]})
		checkStats(t, c, 3, 2)
	})
	t.Run("SendBatch", func(t *testing.T) {
		f := newFakeCollector(t, answer)
		_, url := f.start(t)
		c := newTestClient(t, url, Config{})
		evs := []Event{testEvent(0), testEvent(1), testEvent(2), testEvent(3), testEvent(4)}
		evs[4].Tenant = "" // SendBatch leaves judging to the collector
		resp, err := c.SendBatch(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		want := []ingest.Rejection{
			{Index: 1, ID: evs[1].ID, Error: "time: too old"},
			{Index: 3, ID: evs[3].ID, Error: "user: unknown"},
			{Index: 4, ID: evs[4].ID, Error: "tenant: required"},
		}
		if resp.Accepted != 2 || !slices.Equal(resp.Rejected, want) {
			t.Errorf("SendBatch = %+v, want 2 accepted and rejected %+v", resp, want)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// TestClientSplitsOn413: the fake takes at most 2 events per POST and
// refuses one event whatever; the client halves until it fits and gives up
// on that one event only.
func TestClientSplitsOn413(t *testing.T) {
	answer := func(_ int, items []ingest.Item) fakeAnswer {
		for _, it := range items {
			if it.Event.Tenant == "t-big" {
				return fakeAnswer{status: http.StatusRequestEntityTooLarge, message: "the body is too large"}
			}
		}
		if len(items) > 2 {
			return fakeAnswer{status: http.StatusRequestEntityTooLarge, message: "the body is too large"}
		}
		return fakeAnswer{}
	}
	events := func() []Event {
		evs := make([]Event, 8)
		for i := range evs {
			evs[i] = testEvent(i)
		}
		evs[5].Tenant = "t-big"
		return evs
	}
	checkRequests := func(t *testing.T, f *fakeCollector, accepted []string) {
		t.Helper()
		var sizes []int
		for _, r := range f.requests() {
			sizes = append(sizes, len(r.ids))
		}
		// 8 → 4+4 → 2+2 | 2+2 → 1+1 for the pair holding the big one.
		if want := []int{8, 4, 2, 2, 4, 2, 1, 1, 2}; !slices.Equal(sizes, want) {
			t.Errorf("request sizes %v, want %v", sizes, want)
		}
		f.checkStoredOnce(t, accepted)
	}
	t.Run("SendBatch", func(t *testing.T) {
		f := newFakeCollector(t, answer)
		_, url := f.start(t)
		c := newTestClient(t, url, Config{})
		evs := events()
		resp, err := c.SendBatch(context.Background(), evs)
		var ce *CollectorError
		if !errors.As(err, &ce) || ce.Status != http.StatusRequestEntityTooLarge || !strings.Contains(err.Error(), "the body is too large") {
			t.Fatalf("SendBatch error = %v, want a 413 CollectorError with the server's message", err)
		}
		if resp.Accepted != 7 || len(resp.Rejected) != 1 || resp.Rejected[0].Index != 5 || resp.Rejected[0].ID != evs[5].ID {
			t.Errorf("SendBatch = %+v, want 7 accepted and event 5 rejected", resp)
		}
		var accepted []string
		for i, ev := range evs {
			if i != 5 {
				accepted = append(accepted, ev.ID)
			}
		}
		checkRequests(t, f, accepted)
	})
	t.Run("queue", func(t *testing.T) {
		f := newFakeCollector(t, answer)
		_, url := f.start(t)
		var rej rejections
		c := newTestClient(t, url, Config{OnRejected: rej.record})
		evs := events()
		for i := range evs {
			evs[i].ID = fmt.Sprintf("ev-%d", i)
			if err := c.Send(context.Background(), evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, c)
		got := rej.byID()
		if len(got) != 1 || !strings.Contains(got["ev-5"], "413") {
			t.Errorf("OnRejected heard %v, want ev-5 with a 413 reason", got)
		}
		checkRequests(t, f, []string{"ev-0", "ev-1", "ev-2", "ev-3", "ev-4", "ev-6", "ev-7"})
		checkStats(t, c, 7, 1)
	})
}

// TestClientSplitsLargeBatches: a batch over ingest.MaxBatchBytes is split before
// it is sent.
func TestClientSplitsLargeBatches(t *testing.T) {
	f := newFakeCollector(t, nil)
	_, url := f.start(t)
	c := newTestClient(t, url, Config{BatchSize: ingest.MaxBatchEvents})
	evs := make([]Event, 300)
	big := strings.Repeat("x", 7000)
	for i := range evs {
		evs[i] = testEvent(i)
		evs[i].Props = map[string]any{"blob": big}
	}
	resp, err := c.SendBatch(context.Background(), evs)
	if err != nil || resp.Accepted != len(evs) {
		t.Fatalf("SendBatch = %+v, %v", resp, err)
	}
	if n := len(f.requests()); n < 3 {
		t.Errorf("%d requests for ~2 MB of events, want at least 3", n)
	}
	// The same through the queue.
	for i := range evs {
		evs[i].ID = ""
		if err := c.Send(context.Background(), evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	checkStats(t, c, int64(len(evs)), 0)
}

func TestClientUnauthorizedIsPermanent(t *testing.T) {
	f := newFakeCollector(t, nil)
	_, url := f.start(t)
	var rej rejections
	c := newTestClient(t, url, Config{Key: "keel_ingest_wrong", OnRejected: rej.record})

	_, err := c.SendBatch(context.Background(), []Event{testEvent(0)})
	var ce *CollectorError
	if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized ||
		!strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "missing or unknown ingest key") {
		t.Fatalf("SendBatch error = %v, want a 401 CollectorError with the server's message", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests, want 1: a 401 is not retried", n)
	}

	sendN(t, c, 3)
	flush(t, c)
	got := rej.byID()
	if len(got) != 3 {
		t.Fatalf("OnRejected heard %d events, want 3", len(got))
	}
	for id, reason := range got {
		if !strings.Contains(reason, "401") {
			t.Errorf("event %s rejected with %q, want the 401", id, reason)
		}
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if got := c.Stats().Retries; got != 0 {
		t.Errorf("Retries = %d, want 0", got)
	}
	checkStats(t, c, 0, 3)
}

// TestClientNetworkError: the collector goes away; the client retries until
// it is back on the same address.
func TestClientNetworkError(t *testing.T) {
	f := newFakeCollector(t, nil)
	srv, url := f.start(t)
	addr := srv.Listener.Addr().String()
	c := newTestClient(t, url, Config{})
	sendN(t, c, 2)
	flush(t, c)
	srv.Close()

	sendN(t, c, 3)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- c.Flush(ctx)
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Flush returned %v while the collector was down", err)
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := httptest.NewUnstartedServer(f)
	srv2.Listener.Close()
	srv2.Listener = ln
	srv2.Start()
	defer srv2.Close()
	if err := <-done; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := c.Stats().Retries; got < 1 {
		t.Errorf("Retries = %d, want at least 1", got)
	}
	reqs := f.requests()
	if len(reqs) != 2 || len(reqs[1].ids) != 3 {
		t.Fatalf("collector got %d requests, want 2 (the second with 3 events)", len(reqs))
	}
	f.checkStoredOnce(t, append(reqs[0].ids, reqs[1].ids...))
	checkStats(t, c, 5, 0)
}

func TestClientClose(t *testing.T) {
	t.Run("flushes", func(t *testing.T) {
		f := newFakeCollector(t, nil)
		_, url := f.start(t)
		c := newTestClient(t, url, Config{})
		sendN(t, c, 10)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		var ids []string
		for _, r := range f.requests() {
			ids = append(ids, r.ids...)
		}
		if len(ids) != 10 {
			t.Fatalf("collector got %d events, want 10", len(ids))
		}
		f.checkStoredOnce(t, ids)
		checkStats(t, c, 10, 0)
		if err := c.Send(ctx, testEvent(0)); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after Close = %v, want ErrClosed", err)
		}
		if err := c.Close(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v, want ErrClosed", err)
		}
	})
	t.Run("gives up when ctx ends", func(t *testing.T) {
		f := newFakeCollector(t, func(int, []ingest.Item) fakeAnswer {
			return fakeAnswer{status: http.StatusServiceUnavailable, retryAfter: "0", message: "down"}
		})
		_, url := f.start(t)
		var rej rejections
		c := newTestClient(t, url, Config{OnRejected: rej.record, BatchSize: 2})
		sendN(t, c, 5)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := c.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "5 events not sent before close") {
			t.Fatalf("Close = %v, want a deadline error counting 5 events", err)
		}
		got := rej.byID()
		if len(got) != 5 {
			t.Errorf("OnRejected heard %d events, want 5", len(got))
		}
		for id, reason := range got {
			if reason != ReasonNotSent {
				t.Errorf("event %s: reason %q, want %q", id, reason, ReasonNotSent)
			}
		}
		checkStats(t, c, 0, 5)
	})
}

// TestClientFlushInterval: a partial batch goes out on its own.
func TestClientFlushInterval(t *testing.T) {
	got := make(chan int, 10)
	f := newFakeCollector(t, func(_ int, items []ingest.Item) fakeAnswer {
		got <- len(items)
		return fakeAnswer{}
	})
	_, url := f.start(t)
	c := newTestClient(t, url, Config{FlushInterval: 50 * time.Millisecond})
	sendN(t, c, 3)
	select {
	case n := <-got:
		if n != 3 {
			t.Errorf("partial batch of %d events, want 3", n)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the partial batch was not sent after FlushInterval")
	}
}

func TestClientBackPressure(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	f := newFakeCollector(t, func(int, []ingest.Item) fakeAnswer {
		<-release
		return fakeAnswer{}
	})
	_, url := f.start(t)
	t.Cleanup(open) // runs before the server's cleanup, so a failing test does not hang it
	c := newTestClient(t, url, Config{MaxBuffered: 4, BatchSize: 2, Concurrency: 1, FlushInterval: time.Millisecond})
	sendN(t, c, 4)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := c.Send(ctx, testEvent(4))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send with MaxBuffered events unsettled = %v, want it to block until ctx ends", err)
	}

	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), testEvent(5)) }()
	select {
	case err := <-sent:
		t.Fatalf("Send returned %v while the queue was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	open()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Send still blocked after the collector drained the queue")
	}
	flush(t, c)
	checkStats(t, c, 5, 0)
}

func TestClientGzip(t *testing.T) {
	f := newFakeCollector(t, nil)
	_, url := f.start(t)
	c := newTestClient(t, url, Config{Gzip: true, BatchSize: 20})
	sendN(t, c, 50)
	flush(t, c)
	resp, err := c.SendBatch(context.Background(), []Event{testEvent(0), testEvent(1)})
	if err != nil || resp.Accepted != 2 {
		t.Fatalf("SendBatch = %+v, %v", resp, err)
	}
	reqs := f.requests()
	var ids []string
	for _, r := range reqs {
		if !r.gzip {
			t.Error("a request was not gzipped")
		}
		ids = append(ids, r.ids...)
	}
	if len(reqs) != 4 { // 20 + 20 + 10, and SendBatch's
		t.Errorf("%d requests, want 4", len(reqs))
	}
	f.checkStoredOnce(t, ids)
	checkStats(t, c, 50, 0)
}

// TestClientNotACollector: a 2xx that is not a collector answer must not be
// taken for an acceptance.
func TestClientNotACollector(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>welcome</html>")
	}))
	defer srv.Close()
	var rej rejections
	c := newTestClient(t, srv.URL, Config{OnRejected: rej.record})
	if _, err := c.SendBatch(context.Background(), []Event{testEvent(0)}); err == nil || !strings.Contains(err.Error(), "not a collector response") {
		t.Errorf("SendBatch = %v, want a 'not a collector response' error", err)
	}
	sendN(t, c, 2)
	flush(t, c)
	checkStats(t, c, 0, 2)
}

// testKeys and testPublisher let the real Collector run in a
// test.
type testKeys []collector.Key

func (k testKeys) IngestKeys(context.Context) ([]collector.Key, error) { return k, nil }

func (k testKeys) IngestKey(_ context.Context, hash [32]byte) (collector.Key, bool, error) {
	for _, key := range k {
		if key.Hash == hash {
			return key, true, nil
		}
	}
	return collector.Key{}, false, nil
}

type testPublisher struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *testPublisher) Publish(_ context.Context, msgs []kafka.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *testPublisher) Ready(context.Context) error { return nil }

// TestClientAgainstCollector runs the client against the real collector
// handler: gzip, the time rules, and splitting at the real size limit.
func TestClientAgainstCollector(t *testing.T) {
	plain, hash, err := collector.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	keys := collector.NewKeys(testKeys{{ID: 1, Name: "test", Hash: hash, Rate: -1}}, log)
	pub := &testPublisher{}
	col, err := collector.New(collector.Config{}, keys, pub, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(col.Handler())
	defer srv.Close()
	var rej rejections
	c := newTestClient(t, srv.URL, Config{Key: plain, Gzip: true, BatchSize: ingest.MaxBatchEvents, OnRejected: rej.record})

	old := testEvent(0)
	old.ID, old.Time = "too-old", time.Now().Add(-40*24*time.Hour)
	if err := c.Send(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("y", 4000)
	for i := range 600 { // ~2.5 MB: more than two POSTs
		ev := testEvent(i)
		ev.Props = map[string]any{"blob": big, "i": i}
		if err := c.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := rej.byID(); len(got) != 1 || !strings.HasPrefix(got["too-old"], "time:") {
		t.Errorf("OnRejected heard %v, want too-old with a time reason", got)
	}
	pub.mu.Lock()
	n := len(pub.msgs)
	pub.mu.Unlock()
	if n != 600 {
		t.Errorf("collector published %d events, want 600", n)
	}
	checkStats(t, c, 600, 1)

	bad, err := New(Config{URL: srv.URL, Key: "keel_ingest_nope"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close(context.Background())
	_, err = bad.SendBatch(context.Background(), []Event{testEvent(0)})
	var ce *CollectorError
	if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized || ce.Code != keel.EUNAUTHORIZED {
		t.Errorf("SendBatch with a bad key = %v, want a 401 CollectorError", err)
	}
}
