package console

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestSharedReading: a key's reading is read once and kept; a kept one
// older than a minute is answered at once and read again behind it;
// another key is read at once; a failed read is not kept.
func TestSharedReading(t *testing.T) {
	ctx := context.Background()
	var c sharedReading[int64]
	var reads atomic.Int64
	var fail atomic.Bool
	read := func(context.Context) (int64, error) {
		n := reads.Add(1)
		if fail.Load() {
			return 0, errors.New("clickhouse is away")
		}
		return n, nil
	}
	get := func(key string) int64 {
		t.Helper()
		v, err := c.get(ctx, key, read)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get("d1"); v != 1 {
		t.Fatalf("first reading %d, want 1", v)
	}
	if v := get("d1"); v != 1 || reads.Load() != 1 {
		t.Errorf("kept reading: %d after %d reads, want 1 after 1", v, reads.Load())
	}
	// A minute old: the kept reading answers, a new one is read behind it.
	c.mu.Lock()
	c.at = c.at.Add(-sharedTTL)
	c.mu.Unlock()
	if v := get("d1"); v != 1 {
		t.Errorf("stale reading answered %d, want the kept 1", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get("d1") != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if v := get("d1"); v != 2 {
		t.Errorf("after the background read: %d, want 2", v)
	}
	// Another key (the next day) waits for its own reading.
	if v := get("d2"); v != 3 {
		t.Errorf("another key: %d, want a new reading (3)", v)
	}
	// A failed reading is an error and is not kept.
	fail.Store(true)
	if _, err := c.get(ctx, "d3", read); err == nil {
		t.Fatal("a failed reading answered")
	}
	fail.Store(false)
	if v := get("d3"); v != 5 {
		t.Errorf("after a failed reading: %d, want a new one (5)", v)
	}
}
