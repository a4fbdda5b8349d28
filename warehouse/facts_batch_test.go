package warehouse

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestFactBatchDrop(t *testing.T) {
	var b FactBatch
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 5; i++ {
		b.AddFact(&keel.Fact{ID: i, Kind: "k", CustomerID: 10 + i, At: at, Data: json.RawMessage("{}")}, Position{Partition: 0, Offset: i}, at)
	}
	b.AddRejected(Position{Partition: 1, Offset: 7}, at, "1", "bad", nil)
	b.AddRejected(Position{Partition: 1, Offset: 9}, at, "1", "bad", nil)
	if n := b.DropFacts(map[uint64]bool{2: true, 4: true, 99: true}); n != 2 {
		t.Errorf("dropped %d facts, want 2", n)
	}
	if want := []uint64{1, 3, 5}; !slices.Equal(b.Facts.ID, want) || !slices.Equal(b.Facts.Customer, []uint64{11, 13, 15}) || !slices.Equal(b.Facts.Offset, []uint64{1, 3, 5}) {
		t.Errorf("kept ids %v customers %v offsets %v, want ids %v", b.Facts.ID, b.Facts.Customer, b.Facts.Offset, want)
	}
	if got := b.RejectedRanges(); len(got) != 1 || got[1] != [2]int64{7, 9} {
		t.Errorf("rejected ranges %v, want partition 1: 7–9", got)
	}
	stored := &offsetSet{}
	stored.add(9)
	if n := b.DropRejected(map[int]*offsetSet{1: stored}); n != 1 || !slices.Equal(b.Rejected.Offset, []uint64{7}) {
		t.Errorf("dropped %d rejected, kept offsets %v; want 1 dropped, [7] kept", n, b.Rejected.Offset)
	}
	if b.Len() != 4 {
		t.Errorf("Len() = %d, want 4", b.Len())
	}
}
