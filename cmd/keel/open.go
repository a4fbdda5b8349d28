package main

import (
	"context"
	"log/slog"

	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// openPostgres connects to Postgres and checks that its schema is the one
// this binary was built for. Services wait for a server that is starting
// (wait = true); one-shot commands fail at once.
func openPostgres(ctx context.Context, log *slog.Logger, url string, wait bool) (*postgres.DB, error) {
	var db *postgres.DB
	open := func(ctx context.Context) error {
		d, err := postgres.Open(ctx, url)
		if err != nil {
			return err
		}
		if err := d.CheckSchema(ctx); err != nil {
			d.Close()
			return err
		}
		db = d
		return nil
	}
	if !wait {
		return db, open(ctx)
	}
	return db, retryStart(ctx, log, "postgres", open)
}

// openClickHouse is openPostgres for ClickHouse.
func openClickHouse(ctx context.Context, log *slog.Logger, url string, wait bool) (*warehouse.Store, error) {
	var store *warehouse.Store
	open := func(ctx context.Context) error {
		s, err := warehouse.Open(ctx, url)
		if err != nil {
			return err
		}
		if err := s.CheckSchema(ctx); err != nil {
			s.Close()
			return err
		}
		store = s
		return nil
	}
	if !wait {
		return store, open(ctx)
	}
	return store, retryStart(ctx, log, "clickhouse", open)
}
