package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// sandbox is a benchmark's own Postgres and ClickHouse databases, made on
// the servers of the stack it runs beside (keel dev) and given Keel's
// schema, so that what a bench writes — events, their rollups, ingest keys,
// facts — never reaches the numbers people read. (A bench that deleted its
// rows afterwards missed the cross-tenant rollup, which has no tenant to
// delete by: one run put 148,656 logins into `/activity`'s today.)
type sandbox struct {
	name       string // the databases' name, keel_bench_<run id>
	PG         string // URL of the sandbox's Postgres database
	ClickHouse string // URL of the sandbox's ClickHouse database
	pgAdmin    string // URL of the server's own database, to drop the sandbox from
	store      *warehouse.Store
}

// newSandbox makes the databases and applies the migrations. The caller
// closes it, which drops both unless keep is set.
func newSandbox(ctx context.Context, pgURL, chURL, runID string) (*sandbox, error) {
	s := &sandbox{name: "keel_bench_" + runID, pgAdmin: pgURL}
	var err error
	if s.PG, err = withDatabase(pgURL, s.name); err != nil {
		return nil, fmt.Errorf("--pg: %w", err)
	}
	if s.ClickHouse, err = withDatabase(chURL, s.name); err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	admin, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return nil, fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+s.name)
	admin.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("create bench database: %w", err)
	}
	db, err := postgres.Open(ctx, s.PG)
	if err != nil {
		return nil, err
	}
	_, err = migrations.ApplyPostgres(ctx, db.Pool())
	db.Close()
	if err != nil {
		return nil, err
	}
	ch, err := warehouse.Open(ctx, chURL)
	if err != nil {
		return nil, fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	err = ch.Conn().Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.name)
	ch.Close()
	if err != nil {
		return nil, fmt.Errorf("create bench database: %w", err)
	}
	if s.store, err = warehouse.Open(ctx, s.ClickHouse); err != nil {
		return nil, err
	}
	// The sandbox is read only for counts, never for days: any zone will do.
	if _, err := migrations.ApplyClickHouse(ctx, s.store.Conn(), "UTC"); err != nil {
		s.store.Close()
		return nil, err
	}
	return s, nil
}

// close drops the sandbox's databases, unless keep.
func (s *sandbox) close(ctx context.Context, keep bool) {
	if keep {
		s.store.Close()
		return
	}
	s.store.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+s.name)
	s.store.Close()
	if admin, err := pgx.Connect(ctx, s.pgAdmin); err == nil {
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.name+" WITH (FORCE)")
		admin.Close(ctx)
	}
}

// withDatabase is raw, a postgres:// or clickhouse:// URL, naming database
// db instead of its own.
func withDatabase(raw, db string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL with a host", raw)
	}
	u.Path = "/" + strings.Trim(db, "/")
	return u.String(), nil
}
