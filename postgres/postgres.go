// Package postgres holds Keel's records in Postgres: hand-written SQL over
// pgx, one file per kind of record, each change in a transaction.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/migrations"
)

// DB is Keel's Postgres.
type DB struct {
	pool *pgxpool.Pool
	// clock is what the stores take for "now": the time an audit row
	// records, the moment an order is approved at. nil = time.Now.
	clock func() time.Time
	// cal is the reporting calendar, which says which day "now" is: the
	// day an approval starts service on, the day customers' statuses are
	// derived for.
	cal keel.Calendar
}

// SetClock makes the stores read the time from now instead of the system
// clock (for tests and demo data that live on another day). Call it before
// the DB is shared.
func (db *DB) SetClock(now func() time.Time) { db.clock = now }

// SetCalendar sets the reporting calendar (the default is keel.UTC). Call
// it before the DB is shared.
func (db *DB) SetCalendar(c keel.Calendar) { db.cal = c }

// today is the reporting day of now.
func (db *DB) today() time.Time { return db.cal.Day(db.now()) }

// now is the current time in UTC, truncated to what timestamptz keeps, so
// a value written and read back compares equal.
func (db *DB) now() time.Time {
	t := time.Now()
	if db.clock != nil {
		t = db.clock()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Open connects to Postgres at url and checks that it answers.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &DB{pool: pool}, nil
}

// Pool returns the connection pool (for migrations and tests).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// CheckSchema returns an error when the schema is not the one this binary
// was built for.
func (db *DB) CheckSchema(ctx context.Context) error {
	return migrations.CheckPostgres(ctx, db.pool)
}
