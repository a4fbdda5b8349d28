package client

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// fakeCollector imitates the collector: it checks the key, gunzips, parses
// the body with ingest.ParseBatch (so the client's JSON meets the real
// parser), records every request, and answers as the test's script says.
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
