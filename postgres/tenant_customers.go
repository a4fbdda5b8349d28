package postgres

import (
	"context"
	"fmt"

	"github.com/keelhq/keel"
)

// CustomerRefs returns every customer, by name, as a keel.CustomerRef: its
// tenant, owners and status as derived today. It is one query whatever the
// number of customers, for the pages that put every customer beside its
// activity (the activity dashboard links tenants to customers through it,
// the weekly review lists customers from it).
func (db *DB) CustomerRefs(ctx context.Context) ([]keel.CustomerRef, error) {
	status := customerStatusQuery("$1", "")
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

// CustomerOwners returns customers ids (nil: every customer) by id, each
// with its name, tenant and owners as stored — nothing derived, so it is
// one plain read of the customers table however many there are. An id
// that names no customer is left out.
func (db *DB) CustomerOwners(ctx context.Context, ids []int64) ([]keel.CustomerOwner, error) {
	if ids != nil && len(ids) == 0 {
		return []keel.CustomerOwner{}, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, name, coalesce(tenant_id, ''), coalesce(sales_owner, 0), coalesce(csm_owner, 0) FROM customers
WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("list customer owners: %w", err)
	}
	defer rows.Close()
	out := []keel.CustomerOwner{}
	for rows.Next() {
		var c keel.CustomerOwner
		if err := rows.Scan(&c.ID, &c.Name, &c.TenantID, &c.SalesOwner, &c.CSMOwner); err != nil {
			return nil, fmt.Errorf("list customer owners: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customer owners: %w", err)
	}
	return out, nil
}

// CustomersOwnedBy returns the ids of the customers employee sells or
// looks after (its sales or CSM owner), in order; none for 0.
func (db *DB) CustomersOwnedBy(ctx context.Context, employee int64) ([]int64, error) {
	out := []int64{}
	if employee == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id FROM customers WHERE sales_owner = $1 OR csm_owner = $1 ORDER BY id`, employee)
	if err != nil {
		return nil, fmt.Errorf("list owned customers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list owned customers: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list owned customers: %w", err)
	}
	return out, nil
}

// CustomerOwnerIDs returns every customer by id with its owners and no
// name or tenant: what counting customers by owner needs, a fraction of the bytes of
// CustomerOwners at 10,000 customers (pages name only the rows they show).
func (db *DB) CustomerOwnerIDs(ctx context.Context) ([]keel.CustomerOwner, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, coalesce(sales_owner, 0), coalesce(csm_owner, 0) FROM customers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list customer owners: %w", err)
	}
	defer rows.Close()
	out := []keel.CustomerOwner{}
	for rows.Next() {
		var c keel.CustomerOwner
		if err := rows.Scan(&c.ID, &c.SalesOwner, &c.CSMOwner); err != nil {
			return nil, fmt.Errorf("list customer owners: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customer owners: %w", err)
	}
	return out, nil
}

// CustomerStatuses returns the status as derived today of customers ids
// (those that name no customer left out): what a page needs that shows
// the status of a few of many customers. For every customer it is about
// 0.2 s of Postgres at 10,000 (CustomerRefs); for a few, a few
// milliseconds.
func (db *DB) CustomerStatuses(ctx context.Context, ids []int64) (map[int64]keel.CustomerStatus, error) {
	out := map[int64]keel.CustomerStatus{}
	if len(ids) == 0 {
		return out, nil
	}
	status := customerStatusQuery("$2", "customer_id = ANY($1)")
	rows, err := db.pool.Query(ctx, `SELECT c.id, coalesce(st.status, 'prospect')
FROM customers c LEFT JOIN (`+status+`) st ON st.customer_id = c.id
WHERE c.id = ANY($1)`, ids, db.today())
	if err != nil {
		return nil, fmt.Errorf("derive customer statuses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("derive customer statuses: %w", err)
		}
		out[id] = keel.CustomerStatus(st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("derive customer statuses: %w", err)
	}
	return out, nil
}

// ReviewCustomers returns one page of the weekly review's customers, by
// name — those owner sells or looks after (0: every customer), of ids
// only when ids is not nil — with their status as derived today, and how
// many there are in all. The status is derived for the page's customers
// only: for every customer it is about 0.4 s of Postgres at 10,000, which
// the review paid on every view when it listed them all from CustomerRefs.
func (db *DB) ReviewCustomers(ctx context.Context, owner int64, ids []int64, p keel.Page) ([]keel.CustomerRef, int, error) {
	p, err := p.Normalize()
	if err != nil {
		return nil, 0, err
	}
	if ids != nil && len(ids) == 0 {
		return []keel.CustomerRef{}, 0, nil
	}
	where := `WHERE ($1::bigint = 0 OR c.sales_owner = $1 OR c.csm_owner = $1) AND ($2::bigint[] IS NULL OR c.id = ANY($2))`
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM customers c `+where, owner, ids).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count review customers: %w", err)
	}
	status := customerStatusQuery("$5", "customer_id IN (SELECT id FROM page)")
	rows, err := db.pool.Query(ctx, `WITH page AS (
    SELECT c.id, c.name, coalesce(c.tenant_id, '') AS tenant_id, coalesce(c.sales_owner, 0) AS sales_owner, coalesce(c.csm_owner, 0) AS csm_owner
    FROM customers c `+where+`
    ORDER BY lower(c.name), c.id LIMIT $3 OFFSET $4)
SELECT p.id, p.name, p.tenant_id, p.sales_owner, p.csm_owner, coalesce(st.status, 'prospect')
FROM page p LEFT JOIN (`+status+`) st ON st.customer_id = p.id
ORDER BY lower(p.name), p.id`, owner, ids, p.Limit, p.Offset, db.today())
	if err != nil {
		return nil, 0, fmt.Errorf("list review customers: %w", err)
	}
	defer rows.Close()
	out := []keel.CustomerRef{}
	for rows.Next() {
		var c keel.CustomerRef
		var st string
		if err := rows.Scan(&c.ID, &c.Name, &c.TenantID, &c.SalesOwner, &c.CSMOwner, &st); err != nil {
			return nil, 0, fmt.Errorf("list review customers: %w", err)
		}
		c.Status = keel.CustomerStatus(st)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list review customers: %w", err)
	}
	return out, total, nil
}
