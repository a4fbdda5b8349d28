package warehouse

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

const (
	insertFacts = "INSERT INTO facts (fact_id, kind, customer_id, tenant, at, payload, loaded_at, kafka_topic, kafka_partition, kafka_offset)"
	insertLinks = "INSERT INTO tenant_links (tenant, customer_id, linked_at, fact_id)"
)

// InsertFacts stores a batch: facts, then rejected messages, then tenant
// links, each in one insert. A failure can leave part of it stored; the
// loader drops what is stored before it retries, and links may be written
// again at no harm.
func (s *Store) InsertFacts(ctx context.Context, b *FactBatch) error {
	c, l := &b.Facts, &b.Links
	if err := s.sendRows(ctx, len(c.ID), "facts", insertFacts,
		c.ID, c.Kind, c.Customer, c.Tenant, c.At, c.Payload, c.Loaded, repeat(b.Topic, len(c.ID)), c.Partition, c.Offset); err != nil {
		return err
	}
	if err := s.parkRejected(ctx, b.Topic, &b.Rejected); err != nil {
		return err
	}
	return s.sendRows(ctx, len(l.FactID), "tenant links", insertLinks, l.Tenant, l.Customer, l.LinkedAt, l.FactID)
}

// storedFactsChunk bounds one lookup's SQL (ClickHouse's max_query_size
// is 256 KiB).
const storedFactsChunk = 1000

// storedFactsQuery selects which of the given facts are stored. The ids are
// integers written into the SQL, not bound: there is nothing to escape, and
// a list of a thousand binds would only be formatted the same way.
// Filtering on customer_id first lets ClickHouse use the primary key.
func storedFactsQuery(keys []FactKey) (string, []any) {
	customers := make([]uint64, 0, len(keys))
	ids := make([]uint64, 0, len(keys))
	for _, k := range keys {
		customers = append(customers, k.CustomerID)
		ids = append(ids, k.ID)
	}
	return "SELECT DISTINCT fact_id FROM facts WHERE customer_id IN (" + uintList(customers) +
		") AND fact_id IN (" + uintList(ids) + ")", nil
}

// uintList formats sorted, distinct numbers as "1, 2, 3".
func uintList(xs []uint64) string {
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	var sb strings.Builder
	for i, x := range xs {
		if i > 0 && x == xs[i-1] {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.FormatUint(x, 10))
	}
	return sb.String()
}

// StoredFacts returns the ids of the given facts that ClickHouse has.
func (s *Store) StoredFacts(ctx context.Context, keys []FactKey) (map[uint64]bool, error) {
	out := map[uint64]bool{}
	for len(keys) > 0 {
		n := min(len(keys), storedFactsChunk)
		sql, args := storedFactsQuery(keys[:n])
		keys = keys[n:]
		rows, err := s.conn.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("read stored fact ids: %w", err)
		}
		var id uint64
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read stored fact ids: %w", err)
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read stored fact ids: %w", err)
		}
	}
	return out, nil
}

// factCountsQuery counts distinct fact ids in [from, to] per kind, plus a
// row with an empty kind for all kinds together (no fact has an empty kind: the
// loader parks those).
func factCountsQuery(from, to uint64) (string, []any) {
	return `SELECT kind, uniqExact(fact_id) FROM facts WHERE fact_id BETWEEN ? AND ? GROUP BY kind
UNION ALL
SELECT '' AS kind, uniqExact(fact_id) FROM facts WHERE fact_id BETWEEN ? AND ?`, []any{from, to, from, to}
}

// FactCounts returns how many distinct facts of each kind are stored, and
// how many distinct facts in all. Copies of a fact are counted once.
func (s *Store) FactCounts(ctx context.Context) (map[keel.FactKind]uint64, uint64, error) {
	return s.FactCountsBetween(ctx, 0, math.MaxUint64)
}

// FactCountsBetween is FactCounts for the fact ids in [from, to].
func (s *Store) FactCountsBetween(ctx context.Context, from, to uint64) (map[keel.FactKind]uint64, uint64, error) {
	sql, args := factCountsQuery(from, to)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("count facts: %w", err)
	}
	defer rows.Close()
	byKind := map[keel.FactKind]uint64{}
	var total uint64
	for rows.Next() {
		var kind string
		var n uint64
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, 0, fmt.Errorf("count facts: %w", err)
		}
		if kind == "" {
			total = n
		} else {
			byKind[keel.FactKind(kind)] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("count facts: %w", err)
	}
	return byKind, total, nil
}

// storedFactIDsQuery lists the fact ids in [from, to] with the number of
// rows holding each.
func storedFactIDsQuery(from, to uint64) (string, []any) {
	return "SELECT fact_id, count() FROM facts WHERE fact_id BETWEEN ? AND ? GROUP BY fact_id ORDER BY fact_id", []any{from, to}
}

// StoredFactIDs returns the distinct fact ids stored in [from, to],
// ascending, and how many extra rows (copies beyond one per id) hold them.
// Extra rows never change a number — merges fold them and every query counts
// distinct ids — but the loader's check is meant to keep them at zero, and
// tests hold it to that. It reads the whole range: for tests and operators.
func (s *Store) StoredFactIDs(ctx context.Context, from, to uint64) (ids []uint64, copies uint64, err error) {
	sql, args := storedFactIDsQuery(from, to)
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list stored fact ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n uint64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, 0, fmt.Errorf("list stored fact ids: %w", err)
		}
		ids = append(ids, id)
		copies += n - 1
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list stored fact ids: %w", err)
	}
	return ids, copies, nil
}
