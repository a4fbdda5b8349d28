package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest/collector"
)

var _ collector.KeySource = (*DB)(nil)

// NewIngestKeyParams describes a key to create.
type NewIngestKeyParams struct {
	Name   string        // the product app the key is for
	MaxAge time.Duration // 0 = the collector's late-arrival window
	Rate   float64       // events/s; 0 = the collector's default, negative = unlimited
}

// CreateIngestKey stores a new ingest key and returns it with the secret,
// which is shown this once and never stored.
func (db *DB) CreateIngestKey(ctx context.Context, p NewIngestKeyParams) (collector.Key, string, error) {
	if p.Name == "" {
		return collector.Key{}, "", keel.Invalid("name", "required")
	}
	if p.MaxAge < 0 {
		return collector.Key{}, "", keel.Invalid("max_age", "must not be negative")
	}
	plain, hash, err := collector.NewKey()
	if err != nil {
		return collector.Key{}, "", err
	}
	k := collector.Key{Name: p.Name, Hash: hash, MaxAge: p.MaxAge, Rate: p.Rate}
	err = db.pool.QueryRow(ctx,
		`INSERT INTO ingest_keys (name, key_hash, max_age_seconds, rate_per_second) VALUES ($1, $2, $3, $4) RETURNING id`,
		p.Name, hash[:], int64(p.MaxAge/time.Second), p.Rate).Scan(&k.ID)
	if err != nil {
		return collector.Key{}, "", fmt.Errorf("create ingest key %q: %w", p.Name, err)
	}
	return k, plain, nil
}

// RevokeIngestKey revokes a key; the collector stops accepting it within its
// refresh interval.
func (db *DB) RevokeIngestKey(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE ingest_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("revoke ingest key %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return keel.Errorf(keel.ENOTFOUND, "no active ingest key %d", id)
	}
	return nil
}

// IngestKey finds an active key by the hash of its secret.
func (db *DB) IngestKey(ctx context.Context, hash [32]byte) (collector.Key, bool, error) {
	var k collector.Key
	var maxAge int64
	err := db.pool.QueryRow(ctx,
		`SELECT id, name, max_age_seconds, rate_per_second FROM ingest_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
		hash[:]).Scan(&k.ID, &k.Name, &maxAge, &k.Rate)
	if errors.Is(err, pgx.ErrNoRows) {
		return collector.Key{}, false, nil
	}
	if err != nil {
		return collector.Key{}, false, fmt.Errorf("look up ingest key: %w", err)
	}
	k.Hash = hash
	k.MaxAge = time.Duration(maxAge) * time.Second
	return k, true, nil
}

// IngestKeys lists the keys that are not revoked.
func (db *DB) IngestKeys(ctx context.Context) ([]collector.Key, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT id, name, key_hash, max_age_seconds, rate_per_second FROM ingest_keys WHERE revoked_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list ingest keys: %w", err)
	}
	defer rows.Close()
	var out []collector.Key
	for rows.Next() {
		var k collector.Key
		var hash []byte
		var maxAge int64
		if err := rows.Scan(&k.ID, &k.Name, &hash, &maxAge, &k.Rate); err != nil {
			return nil, fmt.Errorf("list ingest keys: %w", err)
		}
		copy(k.Hash[:], hash)
		k.MaxAge = time.Duration(maxAge) * time.Second
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ingest keys: %w", err)
	}
	return out, nil
}
