package console

import (
	"context"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keelhq/keel/warehouse"
)

// stampCache keeps what the health pages derive from the stored scores —
// every customer's brief of a day, the week's biggest drops — under the
// stamp of the stored runs: a day's latest run never changes once its
// marker is written, and any new run changes the stamp, so a kept value
// is exactly what reading ClickHouse again would give until the next
// scoring. At 10,000 customers a day's briefs are 10,000 rows, which four
// overviews at once read again and again for nothing.
type stampCache[T any] struct {
	mu     sync.Mutex
	stamp  warehouse.HealthStamp
	kept   map[string]T
	flight singleflight.Group
}

// stampCacheKeys bounds the values one cache keeps for one stamp (the
// overview's briefs are of two days, its drops one value).
const stampCacheKeys = 8

// get returns the value of key as of stamp, loading it when not kept;
// loads of one key in flight at once are one. A failed load is not kept.
// Callers must not change what it returns.
func (c *stampCache[T]) get(ctx context.Context, stamp warehouse.HealthStamp, key string, load func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	if c.stamp != stamp {
		c.stamp, c.kept = stamp, nil
	}
	got, ok := c.kept[key]
	c.mu.Unlock()
	if ok {
		return got, nil
	}
	return sharedLoad(&c.flight, ctx, key+"@"+stampKey(stamp), func(ctx context.Context) (T, error) {
		x, err := load(ctx)
		if err != nil {
			return x, err
		}
		c.mu.Lock()
		if c.stamp == stamp {
			if c.kept == nil || len(c.kept) >= stampCacheKeys {
				c.kept = map[string]T{}
			}
			c.kept[key] = x
		}
		c.mu.Unlock()
		return x, nil
	})
}

func stampKey(s warehouse.HealthStamp) string {
	return s.Last.Format(time.DateOnly) + "/" + strconv.FormatUint(s.Runs, 10) + "/" + strconv.FormatUint(s.Version, 10)
}

// healthBriefs returns every customer's brief of day as of stamp, kept
// until the next scoring.
func (s *server) healthBriefs(ctx context.Context, stamp warehouse.HealthStamp, day time.Time) ([]warehouse.HealthBrief, error) {
	return s.briefs.get(ctx, stamp, day.Format(time.DateOnly), func(ctx context.Context) ([]warehouse.HealthBrief, error) {
		return s.Health.HealthBriefs(ctx, day)
	})
}
