package client

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
)

// testKeys and testPublisher let the real collector run in a test.
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

func (k testKeys) RecordIngestKeyUses(context.Context, map[int64]time.Time) error { return nil }

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

// newRealCollector serves the real collector handler with one ingest key,
// unlimited, and returns its URL, the key and what it published.
func newRealCollector(t *testing.T) (url, key string, pub *testPublisher) {
	t.Helper()
	plain, hash, err := collector.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	keys := collector.NewKeys(testKeys{{ID: 1, Name: "test", Hash: hash, Rate: -1}}, log)
	pub = &testPublisher{}
	col, err := collector.New(collector.Config{}, keys, pub, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(col.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, plain, pub
}

// TestClientRepeatsInABatch: an app that sends the same event twice (the
// same tenant and id) in one batch gets it acknowledged as one event, as
// the collector counts it: SendBatch's Accepted counts distinct events,
// the queue settles both Sends as accepted, and nothing is logged as a
// miscount.
func TestClientRepeatsInABatch(t *testing.T) {
	url, key, pub := newRealCollector(t)
	var logged strings.Builder
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logged}, nil))
	c := newTestClient(t, url, Config{Key: key, Logger: log})

	a, b := testEvent(0), testEvent(1)
	a.ID, b.ID = "same", "other"
	resp, err := c.SendBatch(context.Background(), []Event{a, b, a})
	if err != nil || resp.Accepted != 2 || len(resp.Rejected) != 0 {
		t.Errorf("SendBatch(a, b, a) = %+v, %v; want 2 distinct events accepted, none rejected", resp, err)
	}

	a.ID, b.ID = "queued-same", "queued-other"
	for _, ev := range []Event{a, b, a} {
		if err := c.Send(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, c)
	checkStats(t, c, 3, 0)
	pub.mu.Lock()
	n := len(pub.msgs)
	pub.mu.Unlock()
	if n != 4 {
		t.Errorf("collector published %d events, want 4 (each distinct event once)", n)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logged.String(), "do not add up") {
		t.Errorf("the client logged a miscount for a repeat:\n%s", logged.String())
	}
}

// lockedWriter serialises the writes of a logger used by several senders.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestClientAgainstCollector runs the client against the real collector
// handler: gzip, the time rules, and splitting at the real size limit.
func TestClientAgainstCollector(t *testing.T) {
	url, plain, pub := newRealCollector(t)
	var rej rejections
	c := newTestClient(t, url, Config{Key: plain, Gzip: true, BatchSize: ingest.MaxBatchEvents, OnRejected: rej.record})

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

	bad, err := New(Config{URL: url, Key: "keel_ingest_nope"})
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
