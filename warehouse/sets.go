package warehouse

import (
	"hash/maphash"
	"sort"
)

// offsetSet is a set of Kafka offsets of one partition, kept as sorted,
// disjoint, inclusive ranges. The offsets a loader finds already stored after
// a crash are nearly contiguous, so the set stays a few ranges long however
// many offsets it holds.
type offsetSet struct {
	r [][2]int64
}

// add puts o in the set. Adding in ascending order is O(1).
func (s *offsetSet) add(o int64) {
	n := len(s.r)
	if n > 0 && o >= s.r[n-1][0] {
		last := &s.r[n-1]
		switch {
		case o <= last[1]:
		case o == last[1]+1:
			last[1] = o
		default:
			s.r = append(s.r, [2]int64{o, o})
		}
		return
	}
	i := sort.Search(n, func(i int) bool { return s.r[i][1] >= o-1 })
	if i < n && s.r[i][0] <= o+1 {
		// Touches or overlaps range i: widen it, then merge with the next
		// range if they now meet.
		s.r[i][0], s.r[i][1] = min(s.r[i][0], o), max(s.r[i][1], o)
		if i+1 < n && s.r[i+1][0] <= s.r[i][1]+1 {
			s.r[i][1] = max(s.r[i][1], s.r[i+1][1])
			s.r = append(s.r[:i+1], s.r[i+2:]...)
		}
		return
	}
	s.r = append(s.r, [2]int64{})
	copy(s.r[i+1:], s.r[i:])
	s.r[i] = [2]int64{o, o}
}

// has reports whether o is in the set.
func (s *offsetSet) has(o int64) bool {
	if s == nil || len(s.r) == 0 {
		return false
	}
	i := sort.Search(len(s.r), func(i int) bool { return s.r[i][1] >= o })
	return i < len(s.r) && s.r[i][0] <= o
}

// len returns the number of offsets in the set.
func (s *offsetSet) len() int64 {
	var n int64
	for _, r := range s.r {
		n += r[1] - r[0] + 1
	}
	return n
}

// eventKey identifies an event (tenant, id) by a 128-bit hash: two
// independently seeded 64-bit hashes, so that a collision — which would
// drop a real event as a duplicate — is out of reach (~2^-64 per pair).
type eventKey [2]uint64

// keyer hashes event identities. Seeds are per process: the keys never leave
// memory, and a loader rebuilds them from ClickHouse when it starts.
type keyer struct{ s1, s2 maphash.Seed }

func newKeyer() keyer { return keyer{maphash.MakeSeed(), maphash.MakeSeed()} }

func (k keyer) key(tenant, id string) eventKey {
	var h1, h2 maphash.Hash
	h1.SetSeed(k.s1)
	h2.SetSeed(k.s2)
	h1.WriteString(tenant)
	h1.WriteByte(0)
	h1.WriteString(id)
	h2.WriteString(id)
	h2.WriteByte(0)
	h2.WriteString(tenant)
	return eventKey{h1.Sum64(), h2.Sum64()}
}

// recentKeys remembers the event keys of a partition's recent messages: at
// least the last n/2 and at most the last n. It is how the loader
// recognises an event sent twice (a client retry, a producer retry) without
// asking ClickHouse for every batch. Two generations of maps, the older
// dropped whole when the newer fills, cost no per-key eviction.
type recentKeys struct {
	cur, prev map[eventKey]struct{}
	half      int
}

func newRecentKeys(n int) *recentKeys {
	half := max(n/2, 0)
	return &recentKeys{cur: make(map[eventKey]struct{}, min(half, 4096)), half: half}
}

// add records k and reports whether it was already there.
func (r *recentKeys) add(k eventKey) (dup bool) {
	if _, ok := r.cur[k]; ok {
		return true
	}
	if _, ok := r.prev[k]; ok {
		return true
	}
	if r.half == 0 {
		return false
	}
	if len(r.cur) >= r.half {
		r.prev, r.cur = r.cur, make(map[eventKey]struct{}, r.half)
	}
	r.cur[k] = struct{}{}
	return false
}
