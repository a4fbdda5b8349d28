package warehouse

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/migrations"
)

// The integration tests share one set of real servers, started on first use
// (so unit tests alone start nothing) and stopped when the package's tests
// end. KEEL_TEST_KAFKA picks the broker: kfake (default) or apache.
var (
	stackOnce sync.Once
	stack     *devstack.Stack
	stackDir  string
	stackErr  error
	store     *Store
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stack != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		stack.Stop(ctx)
		cancel()
		os.RemoveAll(stackDir)
	}
	os.Exit(code)
}

// testStack returns the running servers with the ClickHouse schema applied,
// failing the test — never skipping it — when they cannot be started.
func testStack(t *testing.T) (*devstack.Stack, *Store) {
	t.Helper()
	stackOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		stackDir, stackErr = os.MkdirTemp("", "keel-warehouse-test-")
		if stackErr != nil {
			return
		}
		stack, stackErr = devstack.StartStack(ctx, devstack.StackConfig{Dir: stackDir, Kafka: os.Getenv("KEEL_TEST_KAFKA")})
		if stackErr != nil {
			return
		}
		store, stackErr = Open(ctx, stack.ClickHouse.URL())
		if stackErr != nil {
			return
		}
		if _, err := migrations.ApplyClickHouse(ctx, store.Conn()); err != nil {
			stackErr = fmt.Errorf("migrate: %w", err)
		}
	})
	if stackErr != nil {
		t.Fatalf("start test servers: %v", stackErr)
	}
	return stack, store
}
