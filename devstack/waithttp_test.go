package devstack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitHTTP: a server that is starting (503) is waited for; one that
// never gets ready fails with what it last answered; a cancelled wait
// stops at once.
func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int32
	starting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer starting.Close()
	if err := WaitHTTP(context.Background(), starting.URL+"/readyz", 10*time.Second); err != nil {
		t.Errorf("a server ready on the third try: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("asked %d times, want 3", n)
	}

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()
	err := WaitHTTP(context.Background(), broken.URL+"/readyz", 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), "not ready after 500ms") {
		t.Errorf("a server never ready: %v, want the timeout and its last answer", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := WaitHTTP(ctx, broken.URL+"/readyz", time.Minute); !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("a cancelled wait: %v after %s, want context.Canceled at once", err, time.Since(start))
	}
}
