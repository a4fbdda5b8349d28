package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/keelhq/keel"
)

// CustomerRefs returns every customer, by name, as a keel.CustomerRef: its
// tenant, owners and status as derived today. It is one query whatever the
// number of customers, for the pages that put every customer beside its
// activity (the activity dashboard links tenants to customers through it,
// the weekly review lists customers from it).
func (db *DB) CustomerRefs(ctx context.Context) ([]keel.CustomerRef, error) {
	status := strings.ReplaceAll(customerStatusSQL, "$today", "$1::date")
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.name, coalesce(c.tenant_id, ''), coalesce(c.sales_owner, 0),
    coalesce(c.csm_owner, 0), coalesce(st.status, 'prospect')
FROM customers c LEFT JOIN (`+status+`) st ON st.customer_id = c.id
ORDER BY lower(c.name), c.id`, db.today())
	if err != nil {
		return nil, fmt.Errorf("list customer refs: %w", err)
	}
	defer rows.Close()
	out := []keel.CustomerRef{}
	for rows.Next() {
		var c keel.CustomerRef
		var st string
		if err := rows.Scan(&c.ID, &c.Name, &c.TenantID, &c.SalesOwner, &c.CSMOwner, &st); err != nil {
			return nil, fmt.Errorf("list customer refs: %w", err)
		}
		c.Status = keel.CustomerStatus(st)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customer refs: %w", err)
	}
	return out, nil
}
