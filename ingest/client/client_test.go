package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/ingest"
)

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
