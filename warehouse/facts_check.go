package warehouse

import (
	"context"
	"fmt"

	"github.com/keelhq/keel"
)

// CustomerFacts is what ClickHouse holds of some customers' facts: enough to
// hold it against the Postgres records they came from.
type CustomerFacts struct {
	// Kinds counts distinct fact ids per kind.
	Kinds map[keel.FactKind]uint64
	// Orders holds, per order id, the latest order.approved or order.voided
	// fact about the order (the highest fact id).
	Orders map[uint64]LastOrderFact
}

// LastOrderFact is what the latest fact about an order says.
type LastOrderFact struct {
	FactID uint64
	Kind   keel.FactKind    // order.approved or order.voided
	Status keel.OrderStatus // the order's status the fact reports: approved or void
}

// customerFactKindsQuery counts the distinct fact ids in [from, to] per kind,
// for the given customers only; customer_id leads the table's key, so only
// their ranges are read.
func customerFactKindsQuery(from, to uint64, customers []uint64) (string, []any) {
	return "SELECT kind, uniqExact(fact_id) FROM facts WHERE customer_id IN (" + uintList(customers) +
		") AND fact_id BETWEEN ? AND ? GROUP BY kind", []any{from, to}
}

// lastOrderFactsQuery picks, per order, the order fact with the highest id
// in [from, to] for the given customers. The order id and status are read
// from the payload with visitParamExtract* (18.16 has no JSONExtract); the
// payload is the relay's compact JSON, in which "order_id" and "status"
// first occur as the order's own fields. argMax picks the same row for every
// copy of a fact, so copies cannot change the answer.
func lastOrderFactsQuery(from, to uint64, customers []uint64) (string, []any) {
	return `SELECT visitParamExtractUInt(payload, 'order_id') AS order_id,
    max(fact_id), argMax(kind, fact_id), argMax(visitParamExtractString(payload, 'status'), fact_id)
FROM facts
WHERE customer_id IN (` + uintList(customers) + `) AND fact_id BETWEEN ? AND ?
    AND kind IN ('order.approved', 'order.voided')
GROUP BY order_id`, []any{from, to}
}

// FactsOfCustomers reads what ClickHouse holds of the facts in [from, to]
// about the given customers. It reads their whole ranges: for tests and
// operators, not for pages.
func (s *Store) FactsOfCustomers(ctx context.Context, from, to uint64, customers []uint64) (CustomerFacts, error) {
	out := CustomerFacts{Kinds: map[keel.FactKind]uint64{}, Orders: map[uint64]LastOrderFact{}}
	if len(customers) == 0 {
		return out, nil
	}
	ids := append([]uint64(nil), customers...) // uintList sorts in place
	sql, args := customerFactKindsQuery(from, to, ids)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return CustomerFacts{}, fmt.Errorf("count facts of %d customers: %w", len(customers), err)
	}
	for rows.Next() {
		var kind string
		var n uint64
		if err := rows.Scan(&kind, &n); err != nil {
			rows.Close()
			return CustomerFacts{}, fmt.Errorf("count facts of %d customers: %w", len(customers), err)
		}
		out.Kinds[keel.FactKind(kind)] = n
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return CustomerFacts{}, fmt.Errorf("count facts of %d customers: %w", len(customers), err)
	}
	sql, args = lastOrderFactsQuery(from, to, ids)
	rows, err = s.conn.Query(ctx, sql, args...)
	if err != nil {
		return CustomerFacts{}, fmt.Errorf("read order facts of %d customers: %w", len(customers), err)
	}
	defer rows.Close()
	for rows.Next() {
		var order uint64
		var f LastOrderFact
		var kind, status string
		if err := rows.Scan(&order, &f.FactID, &kind, &status); err != nil {
			return CustomerFacts{}, fmt.Errorf("read order facts of %d customers: %w", len(customers), err)
		}
		f.Kind, f.Status = keel.FactKind(kind), keel.OrderStatus(status)
		out.Orders[order] = f
	}
	if err := rows.Err(); err != nil {
		return CustomerFacts{}, fmt.Errorf("read order facts of %d customers: %w", len(customers), err)
	}
	return out, nil
}
