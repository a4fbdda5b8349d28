package warehouse

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel/ingest"
)

// Batch is what the loader hands to ClickHouse in one go: events and
// rejected messages as columns (the native protocol's shape), each row
// tagged with the Kafka topic, partition and offset it came from.
type Batch struct {
	Topic    string
	Events   EventColumns
	Rejected RejectedColumns
}

// EventColumns are the columns of the events table.
type EventColumns struct {
	Tenant, ID, Type, User []string
	Time                   []time.Time
	Props                  []string
	Ingested               []time.Time
	Partition              []uint32
	Offset                 []uint64
	Key                    []uint64 // the ingest key that sent the event; 0 = none
}

// RejectedColumns are the columns of the rejected_events table.
type RejectedColumns struct {
	Received  []time.Time
	Partition []uint32
	Offset    []uint64
	Tenant    []string
	Reason    []string
	Raw       []string
}

// Position is where a row came from in Kafka.
type Position struct {
	Partition int
	Offset    int64
}

// Len returns the number of rows in the batch.
func (b *Batch) Len() int { return len(b.Events.ID) + len(b.Rejected.Reason) }

// AddEvent appends an event read at pos, ingested (received by Kafka) at t,
// that names no ingest key.
func (b *Batch) AddEvent(ev *ingest.Event, pos Position, t time.Time) {
	b.AddEventByKey(ev, pos, t, 0)
}

// AddEventByKey appends an event read at pos, ingested (received by Kafka)
// at t, sent with ingest key key.
func (b *Batch) AddEventByKey(ev *ingest.Event, pos Position, t time.Time, key uint64) {
	e := &b.Events
	e.Tenant = append(e.Tenant, ev.Tenant)
	e.ID = append(e.ID, ev.ID)
	e.Type = append(e.Type, ev.Type)
	e.User = append(e.User, ev.User)
	e.Time = append(e.Time, ev.Time)
	e.Props = append(e.Props, ev.Props)
	e.Ingested = append(e.Ingested, t.UTC())
	e.Partition = append(e.Partition, uint32(pos.Partition))
	e.Offset = append(e.Offset, uint64(pos.Offset))
	e.Key = append(e.Key, key)
}

// AddRejected appends a message that could not be stored as an event.
func (b *Batch) AddRejected(pos Position, t time.Time, tenant, reason string, raw []byte) {
	b.Rejected.add(pos, t, tenant, reason, raw)
}

// park appends m, a message that cannot be stored, with the reason, and
// returns how many bytes of it are kept. Both loaders park their malformed
// messages this way.
func (r *RejectedColumns) park(m *kafka.Message, reason error) int {
	raw := rejectedRaw(m.Value)
	r.add(Position{Partition: m.Partition, Offset: m.Offset}, receivedAt(m), truncateString(string(m.Key), 128), reason.Error(), raw)
	return len(raw)
}

// rejectedRaw is what is kept of a rejected message's value.
func rejectedRaw(v []byte) []byte {
	if len(v) > maxRaw {
		return v[:maxRaw]
	}
	return v
}

// maxRaw caps what is kept of a rejected message.
const maxRaw = 1 << 20

// add appends a rejected message.
func (r *RejectedColumns) add(pos Position, t time.Time, tenant, reason string, raw []byte) {
	r.Received = append(r.Received, t.UTC())
	r.Partition = append(r.Partition, uint32(pos.Partition))
	r.Offset = append(r.Offset, uint64(pos.Offset))
	r.Tenant = append(r.Tenant, tenant)
	r.Reason = append(r.Reason, reason)
	r.Raw = append(r.Raw, string(raw))
}

// Reset empties the batch, keeping its memory for the next one.
func (b *Batch) Reset() {
	e := &b.Events
	e.Tenant, e.ID, e.Type, e.User = e.Tenant[:0], e.ID[:0], e.Type[:0], e.User[:0]
	e.Time, e.Props, e.Ingested = e.Time[:0], e.Props[:0], e.Ingested[:0]
	e.Partition, e.Offset, e.Key = e.Partition[:0], e.Offset[:0], e.Key[:0]
	b.Rejected.reset()
}

func (r *RejectedColumns) reset() {
	r.Received, r.Partition, r.Offset = r.Received[:0], r.Partition[:0], r.Offset[:0]
	r.Tenant, r.Reason, r.Raw = r.Tenant[:0], r.Reason[:0], r.Raw[:0]
}

// Ranges returns, per partition, the lowest and highest offset in the batch.
func (b *Batch) Ranges() map[int][2]int64 {
	out := map[int][2]int64{}
	addRanges(out, b.Events.Partition, b.Events.Offset)
	addRanges(out, b.Rejected.Partition, b.Rejected.Offset)
	return out
}

// addRanges widens out, per partition, to the offsets given.
func addRanges(out map[int][2]int64, partitions []uint32, offsets []uint64) {
	for i, o := range offsets {
		p, o := int(partitions[i]), int64(o)
		if r, ok := out[p]; ok {
			out[p] = [2]int64{min(r[0], o), max(r[1], o)}
		} else {
			out[p] = [2]int64{o, o}
		}
	}
}

// Drop removes the rows whose position is in stored, and returns how many
// it removed. The loader calls it before retrying a failed insert, because a
// failed insert may still have stored some of its rows.
func (b *Batch) Drop(stored map[int]*offsetSet) int {
	n := 0
	e := &b.Events
	keep := 0
	for i := range e.ID {
		if stored[int(e.Partition[i])].has(int64(e.Offset[i])) {
			n++
			continue
		}
		e.Tenant[keep], e.ID[keep], e.Type[keep], e.User[keep] = e.Tenant[i], e.ID[i], e.Type[i], e.User[i]
		e.Time[keep], e.Props[keep], e.Ingested[keep] = e.Time[i], e.Props[i], e.Ingested[i]
		e.Partition[keep], e.Offset[keep], e.Key[keep] = e.Partition[i], e.Offset[i], e.Key[i]
		keep++
	}
	e.Tenant, e.ID, e.Type, e.User = e.Tenant[:keep], e.ID[:keep], e.Type[:keep], e.User[:keep]
	e.Time, e.Props, e.Ingested = e.Time[:keep], e.Props[:keep], e.Ingested[:keep]
	e.Partition, e.Offset, e.Key = e.Partition[:keep], e.Offset[:keep], e.Key[:keep]
	return n + b.Rejected.drop(stored)
}

// drop removes the rejected messages whose position is in stored and
// returns how many.
func (r *RejectedColumns) drop(stored map[int]*offsetSet) int {
	keep := 0
	for i := range r.Reason {
		if stored[int(r.Partition[i])].has(int64(r.Offset[i])) {
			continue
		}
		r.Received[keep], r.Partition[keep], r.Offset[keep] = r.Received[i], r.Partition[i], r.Offset[i]
		r.Tenant[keep], r.Reason[keep], r.Raw[keep] = r.Tenant[i], r.Reason[i], r.Raw[i]
		keep++
	}
	n := len(r.Reason) - keep
	r.Received, r.Partition, r.Offset = r.Received[:keep], r.Partition[:keep], r.Offset[:keep]
	r.Tenant, r.Reason, r.Raw = r.Tenant[:keep], r.Reason[:keep], r.Raw[:keep]
	return n
}
