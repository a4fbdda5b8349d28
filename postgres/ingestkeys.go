package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest/collector"
)

var _ collector.KeySource = (*DB)(nil)

// ingestKeyRecord is the audit record of an ingest key: never the key, nor
// its hash. The console's audit pages read it back.
type ingestKeyRecord struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	Tenants      []string   `json:"tenants,omitempty"`
	TenantPrefix string     `json:"tenant_prefix,omitempty"`
	MaxAgeSecs   int64      `json:"max_age_seconds,omitempty"`
	Rate         float64    `json:"rate_per_second,omitempty"`
}

func auditIngestKey(k keel.IngestKey) ingestKeyRecord {
	return ingestKeyRecord{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt,
		Tenants: k.Limit.Tenants, TenantPrefix: k.Limit.Prefix, MaxAgeSecs: int64(k.MaxAge / time.Second), Rate: k.Rate}
}

// CreateIngestKey stores a new ingest key described by p's Name, MaxAge,
// Rate, ExpiresAt and Limit, made by by (who needs keel.ActIngestKeyAdmin;
// keel.System for the CLI), and returns it with the secret, which is shown
// this once and never stored. It is audited as ingest_key.create. It
// returns EINVALID naming the field for a bad name, window, expiry or
// tenant limit.
func (db *DB) CreateIngestKey(ctx context.Context, by keel.Employee, p keel.IngestKey) (keel.IngestKey, string, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return keel.IngestKey{}, "", keel.Invalid("name", "required")
	}
	if err := keel.ValidText("name", p.Name); err != nil {
		return keel.IngestKey{}, "", err
	}
	if len(p.Name) > 100 {
		return keel.IngestKey{}, "", keel.Invalid("name", "at most %d characters", 100)
	}
	if p.MaxAge < 0 {
		return keel.IngestKey{}, "", keel.Invalid("max_age", "must not be negative")
	}
	if err := p.Limit.Validate(); err != nil {
		return keel.IngestKey{}, "", err
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.IngestKey{}, "", err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActIngestKeyAdmin); err != nil {
		return keel.IngestKey{}, "", err
	}
	if err := keel.ValidExpiry("expires_at", p.ExpiresAt, c.now); err != nil {
		return keel.IngestKey{}, "", err
	}
	plain, hash, err := collector.NewKey()
	if err != nil {
		return keel.IngestKey{}, "", err
	}
	tenants := p.Limit.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	k := keel.IngestKey{Name: p.Name, CreatedAt: c.now, ExpiresAt: utcPtr(p.ExpiresAt), MaxAge: p.MaxAge, Rate: p.Rate,
		Limit: keel.TenantLimit{Tenants: p.Limit.Tenants, Prefix: p.Limit.Prefix}}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO ingest_keys (name, key_hash, max_age_seconds, rate_per_second, created_at, expires_at, tenants, tenant_prefix)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.Name, hash[:], int64(p.MaxAge/time.Second), p.Rate, c.now, k.ExpiresAt, tenants, p.Limit.Prefix).Scan(&k.ID)
	if err != nil {
		return keel.IngestKey{}, "", fmt.Errorf("create ingest key %q: %w", p.Name, err)
	}
	if err := c.audit(ctx, "ingest_key.create", "ingest_key", k.ID, nil, auditIngestKey(k)); err != nil {
		return keel.IngestKey{}, "", err
	}
	if err := c.commit(ctx); err != nil {
		return keel.IngestKey{}, "", fmt.Errorf("create ingest key %q: %w", p.Name, err)
	}
	return k, plain, nil
}

const ingestKeyColumns = `id, name, created_at, expires_at, last_used_at, revoked_at, tenants, tenant_prefix, max_age_seconds, rate_per_second`

func scanIngestKey(row pgx.Row, extra ...any) (keel.IngestKey, error) {
	var k keel.IngestKey
	var maxAge int64
	err := row.Scan(append([]any{&k.ID, &k.Name, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt, &k.RevokedAt,
		&k.Limit.Tenants, &k.Limit.Prefix, &maxAge, &k.Rate}, extra...)...)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt), utcPtr(k.RevokedAt)
	if len(k.Limit.Tenants) == 0 {
		k.Limit.Tenants = nil
	}
	k.MaxAge = time.Duration(maxAge) * time.Second
	return k, err
}

// ListIngestKeys lists every ingest key, newest first — revoked and
// expired ones too — and how many there are; by needs
// keel.ActIngestKeyAdmin. (IngestKeys is the collector's: the keys that
// work, with their hashes.) It returns EINVALID for a bad page.
func (db *DB) ListIngestKeys(ctx context.Context, by keel.Employee, page keel.Page) ([]keel.IngestKey, int, error) {
	p, err := page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	if err := by.Can(keel.ActIngestKeyAdmin); err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM ingest_keys`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count ingest keys: %w", err)
	}
	var c conds
	rows, err := db.pool.Query(ctx, `SELECT `+ingestKeyColumns+` FROM ingest_keys ORDER BY id DESC`+c.page(p), c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list ingest keys: %w", err)
	}
	defer rows.Close()
	out := []keel.IngestKey{}
	for rows.Next() {
		k, err := scanIngestKey(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list ingest keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list ingest keys: %w", err)
	}
	return out, total, nil
}

// RevokeIngestKey revokes a key, by by (who needs keel.ActIngestKeyAdmin),
// audited as ingest_key.revoke, and returns it as revoked; the collectors
// stop accepting it within their refresh interval. It returns ENOTFOUND,
// and ECONFLICT for a key already revoked.
func (db *DB) RevokeIngestKey(ctx context.Context, by keel.Employee, id int64) (keel.IngestKey, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.IngestKey{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActIngestKeyAdmin); err != nil {
		return keel.IngestKey{}, err
	}
	before, err := scanIngestKey(c.tx.QueryRow(ctx, `SELECT `+ingestKeyColumns+` FROM ingest_keys WHERE id = $1 FOR NO KEY UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.IngestKey{}, keel.IngestKeyNotFound(id)
	}
	if err != nil {
		return keel.IngestKey{}, fmt.Errorf("revoke ingest key %d: %w", id, err)
	}
	if before.RevokedAt != nil {
		return keel.IngestKey{}, keel.Errorf(keel.ECONFLICT, "ingest key %d is already revoked", id)
	}
	after := before
	after.RevokedAt = &c.now
	if _, err := c.tx.Exec(ctx, `UPDATE ingest_keys SET revoked_at = $2 WHERE id = $1`, id, c.now); err != nil {
		return keel.IngestKey{}, fmt.Errorf("revoke ingest key %d: %w", id, err)
	}
	if err := c.audit(ctx, "ingest_key.revoke", "ingest_key", id, auditIngestKey(before), auditIngestKey(after)); err != nil {
		return keel.IngestKey{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.IngestKey{}, fmt.Errorf("revoke ingest key %d: %w", id, err)
	}
	return after, nil
}

// workingKey is the condition of a key the collector accepts: not
// revoked, not expired ($1 is now).
const workingKey = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)`

// collectorKey is a key as the collector knows it.
func collectorKey(k keel.IngestKey, hash []byte) collector.Key {
	ck := collector.Key{ID: k.ID, Name: k.Name, MaxAge: k.MaxAge, Rate: k.Rate, Limit: k.Limit}
	if k.ExpiresAt != nil {
		ck.ExpiresAt = *k.ExpiresAt
	}
	copy(ck.Hash[:], hash)
	return ck
}

// IngestKey finds a working key (not revoked, not expired) by the hash of
// its secret.
func (db *DB) IngestKey(ctx context.Context, hash [32]byte) (collector.Key, bool, error) {
	k, err := scanIngestKey(db.pool.QueryRow(ctx,
		`SELECT `+ingestKeyColumns+` FROM ingest_keys WHERE key_hash = $2 AND `+workingKey, db.now(), hash[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return collector.Key{}, false, nil
	}
	if err != nil {
		return collector.Key{}, false, fmt.Errorf("look up ingest key: %w", err)
	}
	return collectorKey(k, hash[:]), true, nil
}

// IngestKeys lists the keys that work: not revoked, not expired.
func (db *DB) IngestKeys(ctx context.Context) ([]collector.Key, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ingestKeyColumns+`, key_hash FROM ingest_keys WHERE `+workingKey+` ORDER BY id`, db.now())
	if err != nil {
		return nil, fmt.Errorf("list ingest keys: %w", err)
	}
	defer rows.Close()
	var out []collector.Key
	for rows.Next() {
		var hash []byte
		k, err := scanIngestKey(rows, &hash)
		if err != nil {
			return nil, fmt.Errorf("list ingest keys: %w", err)
		}
		out = append(out, collectorKey(k, hash))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ingest keys: %w", err)
	}
	return out, nil
}

// RecordIngestKeyUses writes when each key was last used, as a collector
// saw it, in one statement. Several collectors write the same keys: the
// latest use wins, whichever writes last.
func (db *DB) RecordIngestKeyUses(ctx context.Context, uses map[int64]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(uses))
	ats := make([]time.Time, 0, len(uses))
	for id, at := range uses {
		ids, ats = append(ids, id), append(ats, at.UTC())
	}
	_, err := db.pool.Exec(ctx,
		`UPDATE ingest_keys k SET last_used_at = u.at
		 FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at)
		 WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, ats)
	if err != nil {
		return fmt.Errorf("record ingest key uses: %w", err)
	}
	return nil
}
