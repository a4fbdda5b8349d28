package warehouse

import (
	"context"
	"sync"
	"testing"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/devstack/teststack"
)

func TestMain(m *testing.M) { teststack.Main(m) }

var (
	storeOnce sync.Once
	store     *Store
	storeErr  error
)

// testStack returns the shared servers and a Store on their ClickHouse.
func testStack(t *testing.T) (*devstack.Stack, *Store) {
	t.Helper()
	s := teststack.Get(t)
	storeOnce.Do(func() { store, storeErr = Open(context.Background(), s.ClickHouse.URL()) })
	if storeErr != nil {
		t.Fatalf("open clickhouse: %v", storeErr)
	}
	return s, store
}
