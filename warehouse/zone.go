package warehouse

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keelhq/keel/migrations"
)

// The daily rollups are cut in one timezone, fixed when `keel migrate
// --tz` made their views (migrations/zone.go). A day of another zone
// cannot be read from them, so every day-level query checks that it is
// asked in the rollups' zone and refuses otherwise, rather than answer
// with days cut elsewhere.

// zoneRecheck is how long a Store trusts the zone it read: a `keel migrate
// --tz` that changes it is noticed within this time by running services,
// which then refuse until they are restarted with the new --tz.
const zoneRecheck = 30 * time.Second

// zoneCache is the rollups' zone as last read.
type zoneCache struct {
	mu   sync.Mutex
	zone string
	read time.Time
}

// RollupZone returns the timezone the daily rollups are cut in. It is an
// error when none is recorded: the schema is behind, or a change of zone
// is under way or was cut off (run `keel migrate` again).
func (st *Store) RollupZone(ctx context.Context) (string, error) {
	st.zone.mu.Lock()
	defer st.zone.mu.Unlock()
	if st.zone.zone != "" && time.Since(st.zone.read) < zoneRecheck {
		return st.zone.zone, nil
	}
	zone, err := migrations.ClickHouseZone(ctx, st.conn)
	if err != nil {
		return "", err
	}
	if zone == "" {
		return "", fmt.Errorf("the daily rollups have no timezone recorded (a change of zone is under way or was cut off): run `keel migrate --tz ZONE`")
	}
	st.zone.zone, st.zone.read = zone, time.Now()
	return zone, nil
}

// CheckZone returns an error unless the daily rollups are cut in loc (nil
// is UTC). Services that read days call it when they start, and every
// day-level query calls it too.
func (st *Store) CheckZone(ctx context.Context, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	zone, err := st.RollupZone(ctx)
	if err != nil {
		return err
	}
	if zone != loc.String() {
		return fmt.Errorf("reporting timezone %s, but the daily rollups are cut in %s: run `keel migrate --tz %s` to rebuild them, or use --tz %s", loc, zone, loc, zone)
	}
	return nil
}
