package console

import (
	"context"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keelhq/keel/warehouse"
)

// briefCache keeps the days' score briefs the health overview and the
// warning filter by band read (every customer's score of a day), under
// the stamp of the stored runs: a day's latest run never changes once its
// marker is written, and any new run changes the stamp, so a kept reading
// is exactly what ClickHouse would answer until the next scoring. At
// 10,000 customers a day's briefs are 10,000 rows, which four overviews
// at once read again and again for nothing.
type briefCache struct {
	mu     sync.Mutex
	stamp  warehouse.HealthStamp
	days   map[time.Time][]warehouse.HealthBrief
	flight singleflight.Group
}

// briefCacheDays bounds the days kept for one stamp (the overview reads
// two: the last day and a week before it).
const briefCacheDays = 8

// get returns day's briefs as of stamp; reads of one day in flight at once
// are read once. Callers must not change what it returns.
func (c *briefCache) get(ctx context.Context, h HealthReader, stamp warehouse.HealthStamp, day time.Time) ([]warehouse.HealthBrief, error) {
	c.mu.Lock()
	if c.stamp != stamp {
		c.stamp, c.days = stamp, nil
	}
	got, ok := c.days[day]
	c.mu.Unlock()
	if ok {
		return got, nil
	}
	key := day.Format(time.DateOnly) + "@" + stampKey(stamp)
	v, err, _ := c.flight.Do(key, func() (any, error) {
		// Shared by every request waiting: not cut short by the one that
		// started it going away.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		bs, err := h.HealthBriefs(rctx, day)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.stamp == stamp {
			if c.days == nil || len(c.days) >= briefCacheDays {
				c.days = map[time.Time][]warehouse.HealthBrief{}
			}
			c.days[day] = bs
		}
		c.mu.Unlock()
		return bs, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]warehouse.HealthBrief), nil
}

func stampKey(s warehouse.HealthStamp) string {
	return s.Last.Format(time.DateOnly) + "/" + strconv.FormatUint(s.Runs, 10) + "/" + strconv.FormatUint(s.Version, 10)
}
