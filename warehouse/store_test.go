package warehouse

import (
	"context"
	"testing"
	"time"
)

// TestOpenReadTimeouts: a page's store gives up on a silent server after
// a minute, the migrator's after an hour (a backfill rebuilds a rollup
// from every event), and a URL's read_timeout wins over both.
func TestOpenReadTimeouts(t *testing.T) {
	st, _ := testStack(t)
	ctx := t.Context()
	for _, c := range []struct {
		name string
		open func(context.Context, string) (*Store, error)
		url  string
		want time.Duration
	}{
		{"Open", Open, st.ClickHouse.URL(), time.Minute},
		{"OpenForMigrations", OpenForMigrations, st.ClickHouse.URL(), time.Hour},
		{"OpenForMigrations, read_timeout in the URL", OpenForMigrations, st.ClickHouse.URL() + "?read_timeout=7s", 7 * time.Second},
	} {
		s, err := c.open(ctx, c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.opts.ReadTimeout != c.want {
			t.Errorf("%s: read timeout %s, want %s", c.name, s.opts.ReadTimeout, c.want)
		}
		s.Close()
	}
}
