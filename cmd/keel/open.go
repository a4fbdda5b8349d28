package main

import (
	"context"

	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// openPostgres connects to Postgres and checks that its schema is the one
// this binary was built for (migrations.ErrBehind says to run keel
// migrate). It fails at once when the server is not there; services wait
// for it with service.postgres.
func openPostgres(ctx context.Context, url string) (*postgres.DB, error) {
	return openChecked(ctx, url, postgres.Open, (*postgres.DB).Close)
}

// openClickHouse is openPostgres for ClickHouse.
func openClickHouse(ctx context.Context, url string) (*warehouse.Store, error) {
	return openChecked(ctx, url, warehouse.Open, func(s *warehouse.Store) { s.Close() })
}

// openChecked opens a database and checks its schema, closing it again
// when the check fails.
func openChecked[T interface{ CheckSchema(context.Context) error }](ctx context.Context, url string,
	open func(context.Context, string) (T, error), closeIt func(T)) (T, error) {
	db, err := open(ctx, url)
	if err != nil {
		return db, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		closeIt(db)
		var none T
		return none, err
	}
	return db, nil
}

// withPostgres is a one-shot command's Postgres: opened at once with its
// schema checked, given to do, closed after.
func withPostgres(ctx context.Context, url string, do func(db *postgres.DB) error) error {
	db, err := openPostgres(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	return do(db)
}
