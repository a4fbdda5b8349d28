package console

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// sharedTTL is how old a shared reading may get before it is read again.
// The readings kept this way are the activity pages' views across every
// tenant — each tenant's login trend over the last complete trend window,
// the company's daily totals — which at 10,000 tenants merge every
// tenant's sets (seconds of ClickHouse) and which late events change
// rarely and a little: a minute old is fresh enough for a dashboard, and
// one read a minute is what keeps these pages fast at that size.
const sharedTTL = time.Minute

// sharedReading keeps one reading of something every request of a page
// reads alike, under a key (the day it is as of, its range); reads of it
// in flight at once are read once.
type sharedReading[T any] struct {
	mu         sync.Mutex
	key        string
	at         time.Time
	got        T
	refreshing bool // a background read of key is under way
	flight     singleflight.Group
}

// get returns the reading of key. One kept for key is returned at once;
// when it is older than sharedTTL it is read again in the background
// meanwhile, so only the first request of a key waits for ClickHouse.
// Callers must not change what it returns.
func (c *sharedReading[T]) get(ctx context.Context, key string, read func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	have, got := c.key == key && !c.at.IsZero(), c.got
	refresh := have && time.Since(c.at) >= sharedTTL && !c.refreshing
	if refresh {
		c.refreshing = true
	}
	c.mu.Unlock()
	if !have {
		return c.read(ctx, key, read)
	}
	if refresh {
		// One read behind the kept answer, however many requests see it old.
		go func() {
			c.read(context.WithoutCancel(ctx), key, read)
			c.mu.Lock()
			c.refreshing = false
			c.mu.Unlock()
		}()
	}
	return got, nil
}

// read reads key and keeps it, unless a newer reading of key is kept.
func (c *sharedReading[T]) read(ctx context.Context, key string, read func(context.Context) (T, error)) (T, error) {
	return sharedLoad(&c.flight, ctx, key, func(ctx context.Context) (T, error) {
		at := time.Now()
		got, err := read(ctx)
		if err != nil {
			return got, err
		}
		c.mu.Lock()
		if c.key != key || !at.Before(c.at) {
			c.key, c.at, c.got = key, at, got
		}
		c.mu.Unlock()
		return got, nil
	})
}

// sharedLoad runs load once for every caller of key in flight at once.
// The load is shared by every request waiting, so it is not cut short by
// the one that started it going away: it gets a context of its own,
// bounded to a minute.
func sharedLoad[T any](g *singleflight.Group, ctx context.Context, key string, load func(context.Context) (T, error)) (T, error) {
	v, err, _ := g.Do(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return load(lctx)
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}
