package warehouse

import (
	"context"
	"fmt"
	"time"
)

// tenantCustomersQuery maps every linked tenant to the customer of its
// latest link.
func tenantCustomersQuery() (string, []any) {
	return "SELECT tenant, argMax(customer_id, fact_id) FROM tenant_links GROUP BY tenant ORDER BY tenant", nil
}

// TenantCustomers returns the customer id of every linked tenant.
func (s *Store) TenantCustomers(ctx context.Context) (map[string]uint64, error) {
	sql, args := tenantCustomersQuery()
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read tenant links: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var tenant string
		var customer uint64
		if err := rows.Scan(&tenant, &customer); err != nil {
			return nil, fmt.Errorf("read tenant links: %w", err)
		}
		out[tenant] = customer
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tenant links: %w", err)
	}
	return out, nil
}

// CustomerEvents is what a customer's product tenants did in a time range.
type CustomerEvents struct {
	Events uint64 // distinct events
	Users  uint64 // distinct (tenant, user) pairs
	Logins uint64 // distinct login events
}

// customerEventsQuery counts the events, in [from, to), of the tenants
// whose latest link is to the customer — also events from before the link:
// events of unknown tenants are kept precisely so they count once linked.
// The events table is ordered by tenant, so only those tenants' ranges are
// read. GLOBAL: on a cluster the links are read once, across the shards,
// on the node asked (migrations/cluster.go); on one server it is a plain
// IN.
func customerEventsQuery(customerID uint64, from, to time.Time) (string, []any) {
	return `SELECT uniqExact(tenant_id, event_id) AS events,
    uniqExactIf(tenant_id, user_id, user_id != '') AS users,
    uniqExactIf(tenant_id, event_id, event_type = 'login') AS logins
FROM events
WHERE tenant_id GLOBAL IN (
    SELECT tenant FROM (
        SELECT tenant, argMax(customer_id, fact_id) AS owner FROM tenant_links GROUP BY tenant
    ) WHERE owner = ?
) AND event_time >= ? AND event_time < ?`, []any{customerID, from.UTC(), to.UTC()}
}

// CustomerEventCounts returns the events of the customer's linked tenants
// in [from, to), each counted once. It reads raw events: for reports and
// checks, not for a page that is drawn on every request.
func (s *Store) CustomerEventCounts(ctx context.Context, customerID uint64, from, to time.Time) (CustomerEvents, error) {
	var out CustomerEvents
	sql, args := customerEventsQuery(customerID, from, to)
	if err := s.conn.QueryRow(ctx, sql, args...).Scan(&out.Events, &out.Users, &out.Logins); err != nil {
		return CustomerEvents{}, fmt.Errorf("events of customer %d: %w", customerID, err)
	}
	return out, nil
}
