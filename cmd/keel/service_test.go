package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestServiceFailedStartClosesWhatWasOpened: when one component cannot be
// built (a schema behind, a bad setting), what the components before it
// opened is closed, last opened first, and nothing runs.
func TestServiceFailedStartClosesWhatWasOpened(t *testing.T) {
	var events []string
	opened := func(name string) builder {
		return func(ctx context.Context, s *service) error {
			events = append(events, "open "+name)
			s.onClose(func() { events = append(events, "close "+name) })
			s.add(name, func(ctx context.Context) error { events = append(events, "run "+name); return nil })
			return nil
		}
	}
	refused := errors.New("schema behind")
	err := startService(context.Background(), slog.New(slog.DiscardHandler), opened("a"), opened("b"),
		func(ctx context.Context, s *service) error { return refused }, opened("never"))
	if !errors.Is(err, refused) {
		t.Errorf("start: %v, want %v", err, refused)
	}
	if want := []string{"open a", "open b", "close b", "close a"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

// TestServicePartFailureStopsTheOthers: the first part to fail stops the
// rest, its error is named by its component, and what the service opened
// is closed only once every part has returned.
func TestServicePartFailureStopsTheOthers(t *testing.T) {
	var mu sync.Mutex
	var events []string
	note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	broken := errors.New("broker gone")
	err := startService(context.Background(), slog.New(slog.DiscardHandler), func(ctx context.Context, s *service) error {
		s.onClose(func() { note("closed") })
		s.add("loader", func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // a flush on the way out
			note("loader stopped")
			return nil
		})
		s.add("facts loader", func(ctx context.Context) error { return broken })
		return nil
	})
	if !errors.Is(err, broken) || err.Error() != "facts loader: broker gone" {
		t.Errorf("run: %v, want facts loader: broker gone", err)
	}
	if want := []string{"loader stopped", "closed"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

// TestServiceServeShutsDownGracefully: when the service is told to stop, a
// request in flight (a batch waiting for Kafka's ack) still gets its
// answer, and the service returns without an error.
func TestServiceServeShutsDownGracefully(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	inFlight, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inFlight)
			<-release
		}
		io.WriteString(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- startService(ctx, slog.New(slog.DiscardHandler), func(ctx context.Context, s *service) error {
			s.serve("collector", addr, h, false)
			s.serve("metrics", "", h, false) // no address: no server
			return nil
		})
	}()
	waitHTTP(t, "http://"+addr+"/", 10*time.Second)
	answer := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "ok" {
				err = errors.New("answered " + resp.Status + " " + string(b))
			}
		}
		answer <- err
	}()
	<-inFlight
	cancel()
	time.Sleep(200 * time.Millisecond) // shutting down, the request still held
	close(release)
	if err := <-answer; err != nil {
		t.Errorf("the request in flight at shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("service stopped with %v, want nil", err)
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Errorf("still serving after the service stopped")
	}
}
