package warehouse

import (
	"time"

	"github.com/keelhq/keel"
)

// FactKey identifies a stored fact: its customer (the table's leading key
// column, so the lookup uses the index) and its id.
type FactKey struct {
	CustomerID uint64
	ID         uint64
}

// FactBatch is what the facts loader hands to ClickHouse in one go.
type FactBatch struct {
	Topic    string
	Facts    FactColumns
	Links    LinkColumns
	Rejected RejectedColumns
}

// FactColumns are the columns of the facts table.
type FactColumns struct {
	ID, Customer []uint64
	Kind, Tenant []string
	At           []time.Time
	Payload      []string
	Loaded       []time.Time
	Partition    []uint32
	Offset       []uint64
}

// LinkColumns are the columns of the tenant_links table.
type LinkColumns struct {
	Tenant   []string
	Customer []uint64
	LinkedAt []time.Time
	FactID   []uint64
}

// Len returns the number of rows in the batch.
func (b *FactBatch) Len() int {
	return len(b.Facts.ID) + len(b.Links.FactID) + len(b.Rejected.Reason)
}

// AddFact appends a fact read at pos. f must be checked (keel.ParseFact
// does): its ids positive, its data a JSON object.
func (b *FactBatch) AddFact(f *keel.Fact, pos Position, loaded time.Time) {
	c := &b.Facts
	c.ID = append(c.ID, uint64(f.ID))
	c.Customer = append(c.Customer, uint64(f.CustomerID))
	c.Kind = append(c.Kind, string(f.Kind))
	c.Tenant = append(c.Tenant, f.Tenant)
	c.At = append(c.At, f.At)
	c.Payload = append(c.Payload, string(f.Data))
	c.Loaded = append(c.Loaded, loaded.UTC().Truncate(time.Second))
	c.Partition = append(c.Partition, uint32(pos.Partition))
	c.Offset = append(c.Offset, uint64(pos.Offset))
}

// AddLink appends the tenant link a tenant.linked fact makes.
func (b *FactBatch) AddLink(f *keel.Fact) {
	l := &b.Links
	l.Tenant = append(l.Tenant, f.Tenant)
	l.Customer = append(l.Customer, uint64(f.CustomerID))
	l.LinkedAt = append(l.LinkedAt, f.At)
	l.FactID = append(l.FactID, uint64(f.ID))
}

// AddRejected appends a message that could not be stored as a fact.
func (b *FactBatch) AddRejected(pos Position, t time.Time, key, reason string, raw []byte) {
	b.Rejected.add(pos, t, key, reason, raw)
}

// Reset empties the batch, keeping its memory.
func (b *FactBatch) Reset() {
	c := &b.Facts
	c.ID, c.Customer, c.Kind, c.Tenant = c.ID[:0], c.Customer[:0], c.Kind[:0], c.Tenant[:0]
	c.At, c.Payload, c.Loaded, c.Partition, c.Offset = c.At[:0], c.Payload[:0], c.Loaded[:0], c.Partition[:0], c.Offset[:0]
	l := &b.Links
	l.Tenant, l.Customer, l.LinkedAt, l.FactID = l.Tenant[:0], l.Customer[:0], l.LinkedAt[:0], l.FactID[:0]
	b.Rejected.reset()
}

// Keys returns the identity of every fact in the batch.
func (b *FactBatch) Keys() []FactKey {
	out := make([]FactKey, len(b.Facts.ID))
	for i := range out {
		out[i] = FactKey{CustomerID: b.Facts.Customer[i], ID: b.Facts.ID[i]}
	}
	return out
}

// DropFacts removes the facts whose id is in stored and returns how many.
func (b *FactBatch) DropFacts(stored map[uint64]bool) int {
	c := &b.Facts
	keep := 0
	for i := range c.ID {
		if stored[c.ID[i]] {
			continue
		}
		c.ID[keep], c.Customer[keep], c.Kind[keep], c.Tenant[keep] = c.ID[i], c.Customer[i], c.Kind[i], c.Tenant[i]
		c.At[keep], c.Payload[keep], c.Loaded[keep], c.Partition[keep], c.Offset[keep] = c.At[i], c.Payload[i], c.Loaded[i], c.Partition[i], c.Offset[i]
		keep++
	}
	n := len(c.ID) - keep
	c.ID, c.Customer, c.Kind, c.Tenant = c.ID[:keep], c.Customer[:keep], c.Kind[:keep], c.Tenant[:keep]
	c.At, c.Payload, c.Loaded, c.Partition, c.Offset = c.At[:keep], c.Payload[:keep], c.Loaded[:keep], c.Partition[:keep], c.Offset[:keep]
	return n
}

// RejectedRanges returns, per partition, the lowest and highest offset of
// the rejected messages.
func (b *FactBatch) RejectedRanges() map[int][2]int64 {
	out := map[int][2]int64{}
	addRanges(out, b.Rejected.Partition, b.Rejected.Offset)
	return out
}

// DropRejected removes the rejected messages whose position is in stored
// and returns how many.
func (b *FactBatch) DropRejected(stored map[int]*offsetSet) int {
	return b.Rejected.drop(stored)
}
