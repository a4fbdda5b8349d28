package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
)

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

// TestClientSplitsLargeBatches: a batch over ingest.MaxBatchBytes is split
// before it is sent.
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
