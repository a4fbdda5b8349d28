package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The revenue pages and API read the same few aggregates over and over —
// every view of the dashboard sums every customer's latest months — while
// they change only when the facts loader (or a rebuild) computes someone
// again. So the console keeps what it read, keyed by the revenue table's
// stamp (warehouse.RevenueStamp: the sum of every customer's latest
// version, which any new computation changes). Each request reads the
// stamp once, at its first revenue read, and takes only answers read
// under that stamp: a restatement stored before a request begins is in
// its answers, exactly as without the cache, and a view of unchanged data
// costs one pass over the version markers instead of every query. Reads
// of one key under one stamp in flight at once are read once
// (singleflight), so four people opening the dashboard after a change
// cost ClickHouse one dashboard, not four.
//
// Spend (its own small table) and the settings (Postgres) are read every
// time.

// Bounds of the cache: answers of more rows than revenueCacheRows (a list
// of every paying customer) are read every time, and at most
// revenueCacheEntries answers are kept per stamp (the dashboard is about
// six; every month and currency of every page would be more than anyone
// views under one stamp).
const (
	revenueCacheRows    = 2_000
	revenueCacheEntries = 256
	// revenueReadTimeout bounds a shared read, which runs on after the
	// request that started it has gone (others may be waiting for it).
	revenueReadTimeout = time.Minute
)

// revenueCache is a RevenueReader answering from what it read under the
// current stamp.
type revenueCache struct {
	RevenueReader // Spend and RevenueStamp go straight through

	mu      sync.Mutex
	stamp   warehouse.RevenueStamp
	entries map[string]any
	flight  singleflight.Group
}

var _ RevenueReader = (*revenueCache)(nil)

func newRevenueCache(r RevenueReader) *revenueCache {
	return &revenueCache{RevenueReader: r, entries: map[string]any{}}
}

// requestStamp is one request's reading of the stamp, taken once.
type requestStamp struct {
	once  sync.Once
	stamp warehouse.RevenueStamp
	err   error
}

type requestStampKey struct{}

// oneRevenueStamp gives each request one reading of the revenue stamp for
// all its reads, so a dashboard's half-dozen reads pay for one.
func oneRevenueStamp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestStampKey{}, &requestStamp{})))
	})
}

// stampOf is the request's stamp, read at its first revenue read (or for
// every read outside a request).
func (c *revenueCache) stampOf(ctx context.Context) (warehouse.RevenueStamp, error) {
	rs, _ := ctx.Value(requestStampKey{}).(*requestStamp)
	if rs == nil {
		return c.RevenueReader.RevenueStamp(ctx)
	}
	rs.once.Do(func() { rs.stamp, rs.err = c.RevenueReader.RevenueStamp(ctx) })
	return rs.stamp, rs.err
}

func (c *revenueCache) get(st warehouse.RevenueStamp, key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st != c.stamp {
		return nil, false
	}
	v, ok := c.entries[key]
	return v, ok
}

// put keeps an answer read under st. A newer stamp drops every answer of
// the one before, which no request will ask for again; a request that
// read its stamp just before a change may put an answer of the old stamp
// back, which costs the next request under the new one a read, nothing
// more.
func (c *revenueCache) put(st warehouse.RevenueStamp, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st != c.stamp || len(c.entries) >= revenueCacheEntries {
		c.stamp, c.entries = st, map[string]any{}
	}
	c.entries[key] = v
}

// cachedRead answers key under the request's stamp from the cache, else
// from read (once for every request of the stamp waiting on it), and
// gives each caller a copy of its own (clone), so none can change what
// another reads.
func cachedRead[T any](ctx context.Context, c *revenueCache, key string, read func(context.Context) (T, error), rows func(T) int, clone func(T) T) (T, error) {
	var zero T
	st, err := c.stampOf(ctx)
	if err != nil {
		return zero, err
	}
	if v, ok := c.get(st, key); ok {
		return clone(v.(T)), nil
	}
	ch := c.flight.DoChan(fmt.Sprintf("%d/%d/%d/%s", st.Customers, st.Sum, st.Latest, key), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revenueReadTimeout)
		defer cancel()
		v, err := read(rctx)
		if err == nil && rows(v) <= revenueCacheRows {
			c.put(st, key, v)
		}
		return v, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return clone(res.Val.(T)), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// MonthTable is warehouse.Store.MonthTable, cached.
func (c *revenueCache) MonthTable(ctx context.Context, currency string, from, to keel.Month) ([]keel.MonthTotal, error) {
	return cachedRead(ctx, c, fmt.Sprintf("months/%s/%d/%d", currency, from, to), func(ctx context.Context) ([]keel.MonthTotal, error) {
		return c.RevenueReader.MonthTable(ctx, currency, from, to)
	}, lenOf, slices.Clone)
}

// CustomerMonths is warehouse.Store.CustomerMonths, cached.
func (c *revenueCache) CustomerMonths(ctx context.Context, f warehouse.RevenueFilter) ([]keel.CustomerMonth, error) {
	return cachedRead(ctx, c, fmt.Sprintf("customers/%+v", f), func(ctx context.Context) ([]keel.CustomerMonth, error) {
		return c.RevenueReader.CustomerMonths(ctx, f)
	}, lenOf, func(rows []keel.CustomerMonth) []keel.CustomerMonth {
		out := slices.Clone(rows)
		for i := range out {
			out[i].Orders = slices.Clone(out[i].Orders)
		}
		return out
	})
}

// Cohorts is warehouse.Store.Cohorts, cached.
func (c *revenueCache) Cohorts(ctx context.Context, currency string, from, to keel.Month) ([]keel.Cohort, error) {
	return cachedRead(ctx, c, fmt.Sprintf("cohorts/%s/%d/%d", currency, from, to), func(ctx context.Context) ([]keel.Cohort, error) {
		return c.RevenueReader.Cohorts(ctx, currency, from, to)
	}, func(cs []keel.Cohort) int {
		n := 0
		for _, co := range cs {
			n += len(co.Cells)
		}
		return n
	}, func(cs []keel.Cohort) []keel.Cohort {
		out := slices.Clone(cs)
		for i := range out {
			out[i].Cells = slices.Clone(out[i].Cells)
		}
		return out
	})
}

// Renewals is warehouse.Store.Renewals, cached.
func (c *revenueCache) Renewals(ctx context.Context, currency string, from, to keel.Month, customer int64) ([]keel.Renewal, error) {
	return cachedRead(ctx, c, fmt.Sprintf("renewals/%s/%d/%d/%d", currency, from, to, customer), func(ctx context.Context) ([]keel.Renewal, error) {
		return c.RevenueReader.Renewals(ctx, currency, from, to, customer)
	}, lenOf, func(rs []keel.Renewal) []keel.Renewal {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Orders, out[i].RenewalOrders = slices.Clone(out[i].Orders), slices.Clone(out[i].RenewalOrders)
		}
		return out
	})
}

// Currencies is warehouse.Store.Currencies, cached.
func (c *revenueCache) Currencies(ctx context.Context, m keel.Month) ([]warehouse.CurrencyMRR, error) {
	return cachedRead(ctx, c, fmt.Sprintf("currencies/%d", m), func(ctx context.Context) ([]warehouse.CurrencyMRR, error) {
		return c.RevenueReader.Currencies(ctx, m)
	}, lenOf, slices.Clone)
}

func lenOf[T any](xs []T) int { return len(xs) }
