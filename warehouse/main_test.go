package warehouse

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/devstack/teststack"
)

func TestMain(m *testing.M) { teststack.Main(m) }

var (
	storeOnce sync.Once
	store     *Store
	storeErr  error

	zoneMu     sync.Mutex
	zoneStores = map[string]*Store{}
)

// testStack returns the shared servers and a Store on their ClickHouse,
// whose daily rollups are cut in UTC.
func testStack(t *testing.T) (*devstack.Stack, *Store) {
	t.Helper()
	s := teststack.Get(t)
	storeOnce.Do(func() { store, storeErr = Open(context.Background(), s.ClickHouse.URL()) })
	if storeErr != nil {
		t.Fatalf("open clickhouse: %v", storeErr)
	}
	return s, store
}

// storeIn returns a Store whose daily rollups are cut in loc (nil is UTC):
// the shared one for UTC, otherwise one on a database of its own on the
// same server, migrated with that zone (as `keel migrate --tz` would), so
// that every zone a test asks about is a warehouse made for it.
func storeIn(t *testing.T, loc *time.Location) *Store {
	t.Helper()
	_, s := testStack(t)
	if loc == nil || loc.String() == "UTC" {
		return s
	}
	zone := loc.String()
	zoneMu.Lock()
	defer zoneMu.Unlock()
	if zs := zoneStores[zone]; zs != nil {
		return zs
	}
	zs, err := Open(context.Background(), teststack.ClickHouseIn(t, zone))
	if err != nil {
		t.Fatal(err)
	}
	zoneStores[zone] = zs
	return zs
}
