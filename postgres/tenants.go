package postgres

import (
	"context"
	"fmt"

	"github.com/keelhq/keel"
)

// Tenant is a tenant id known to Keel, with a display name.
type Tenant struct {
	ID   string
	Name string
}

// UpsertTenants records tenants, updating the names of those already known.
func (db *DB) UpsertTenants(ctx context.Context, ts []Tenant) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("upsert tenants: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, t := range ts {
		if t.ID == "" {
			return keel.Invalid("tenant_id", "required")
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
			t.ID, t.Name); err != nil {
			return fmt.Errorf("upsert tenant %q: %w", t.ID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("upsert tenants: commit: %w", err)
	}
	return nil
}

// TenantNames returns the display name of every known tenant by id.
func (db *DB) TenantNames(ctx context.Context) (map[string]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name FROM tenants`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}
