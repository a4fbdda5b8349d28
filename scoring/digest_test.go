package scoring

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/digest"
)

// TestScheduledDigest runs two scorers' schedules at once, each making the
// morning digest after the day's scoring: yesterday is scored once and
// its digests are made once, the CSM's holding the warnings raised.
func TestScheduledDigest(t *testing.T) {
	// A company of its own: warnings evaluated here must not stop the
	// other tests' days from being evaluated.
	w := newWorldOn(t, time.Date(2026, 8, 12, 8, 0, 0, 0, time.UTC), teststack.FreshPostgres(t))
	quiet, quietT := w.customer("quietd", true, day("2026-01-01"))
	w.events(quietT, 12, day("2026-06-01"), day("2026-07-01"))
	var makes atomic.Int32
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		maker := digest.NewMaker(w.pg, w.ch, slog.New(slog.DiscardHandler), nil)
		s, err := New(Config{Calendar: keel.UTC, Now: w.clock, OnScheduled: func(ctx context.Context, r DayResult) error {
			made, _, err := maker.Make(ctx, r.Day)
			if made {
				makes.Add(1)
			}
			return err
		}}, w.pg, w.ch, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	y := day("2026-08-11")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if made, err := w.pg.DigestsMade(w.ctx, y); err != nil {
			t.Fatal(err)
		} else if made {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no digest of yesterday after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the other scorer's turn
	cancel()
	wg.Wait()
	if n := makes.Load(); n != 1 {
		t.Errorf("the day's digests were made %d times, want once", n)
	}
	d, err := w.pg.Digest(w.ctx, y, w.csm.ID)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[keel.AlertRule]bool{}
	for _, a := range d.Digest.New {
		if a.CustomerID == quiet.ID {
			rules[a.Rule] = true
			if a.MRRAtRisk != 36000 {
				t.Errorf("warning %+v, want 36000 at risk", a)
			}
		}
	}
	if !rules[keel.RuleNoLogin] || !rules[keel.RuleFellIntoRed] {
		t.Errorf("the CSM's digest %+v, want the quiet customer's no-login and fell-into-red warnings", d.Digest.New)
	}
}
