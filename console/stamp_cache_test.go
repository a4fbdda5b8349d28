package console

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/warehouse"
)

// countingBriefs loads briefs that say which load made them.
type countingBriefs struct {
	reads atomic.Int64
	fail  atomic.Bool
	gate  chan struct{} // when set, each load waits for it
}

func (c *countingBriefs) load(day time.Time) ([]warehouse.HealthBrief, error) {
	n := c.reads.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if c.fail.Load() {
		return nil, errors.New("clickhouse is away")
	}
	return []warehouse.HealthBrief{{CustomerID: n, Score: day.Day()}}, nil
}

// TestStampCache: a day's briefs are read once per stamp of the runs —
// again when a run is added (the stamp changes) — reads in flight at once
// are one, and a failed read is not kept.
func TestStampCache(t *testing.T) {
	ctx := context.Background()
	h := &countingBriefs{}
	var c stampCache[[]warehouse.HealthBrief]
	read := func(ctx context.Context, s warehouse.HealthStamp, day time.Time) ([]warehouse.HealthBrief, error) {
		return c.get(ctx, s, day.Format(time.DateOnly), func(context.Context) ([]warehouse.HealthBrief, error) { return h.load(day) })
	}
	d1 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, -7)
	s1 := warehouse.HealthStamp{Last: d1, Runs: 90, Version: 7}
	get := func(s warehouse.HealthStamp, day time.Time) int64 {
		t.Helper()
		bs, err := read(ctx, s, day)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || bs[0].Score != day.Day() {
			t.Fatalf("briefs of %s: %+v", day.Format(time.DateOnly), bs)
		}
		return bs[0].CustomerID // the read that made them
	}
	first := get(s1, d1)
	if again := get(s1, d1); again != first || h.reads.Load() != 1 {
		t.Errorf("the same day and stamp read again: read %d then %d, %d reads", first, again, h.reads.Load())
	}
	get(s1, d2)
	if h.reads.Load() != 2 {
		t.Errorf("another day: %d reads, want 2", h.reads.Load())
	}
	// A day scored again: a new run, a new stamp, both days read again.
	s2 := warehouse.HealthStamp{Last: d1, Runs: 91, Version: 9}
	if n := get(s2, d1); n == first || h.reads.Load() != 3 {
		t.Errorf("after a new run: read %d (was %d), %d reads; want a new read", n, first, h.reads.Load())
	}
	get(s2, d2)
	if h.reads.Load() != 4 {
		t.Errorf("after a new run, the other day: %d reads, want 4", h.reads.Load())
	}

	// Four at once on a day not kept: one read.
	h.gate = make(chan struct{})
	s3 := warehouse.HealthStamp{Last: d1, Runs: 92, Version: 11}
	var wg sync.WaitGroup
	got := make([]int64, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs, err := read(ctx, s3, d1)
			if err == nil && len(bs) == 1 {
				got[i] = bs[0].CustomerID
			}
		}()
	}
	for h.reads.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others join the read in flight
	close(h.gate)
	wg.Wait()
	h.gate = nil
	if h.reads.Load() != 5 || got[0] != 5 || got[1] != 5 || got[2] != 5 || got[3] != 5 {
		t.Errorf("four at once: %d reads, answers %v; want one read (5) shared", h.reads.Load(), got)
	}

	// A failed read is not kept.
	s4 := warehouse.HealthStamp{Last: d1, Runs: 93, Version: 13}
	h.fail.Store(true)
	if _, err := read(ctx, s4, d1); err == nil {
		t.Fatal("a failed read answered")
	}
	h.fail.Store(false)
	if n := get(s4, d1); n != 7 {
		t.Errorf("after a failed read: read %d, want a new read (7)", n)
	}
}
