package hashring

import "slices"

// space is what Ring and Maglev share: the members, the hash that places
// keys on the circle, and the preference-order walk behind LocateN. Both
// types embed it, so these methods are theirs.
type space struct {
	members []Member // sorted by ID; index i is the member's number
	hash    hasher
	opts    Options  // as given to the constructor, defaults filled in
	seq     sequence // the embedding *Ring or *Maglev; nil in a zero value
}

// sequence is a circular list of owners in key-position order: a Ring's
// points or a Maglev's slots.
type sequence interface {
	size() int          // number of entries; 0 when empty
	start(p uint32) int // entry that owns position p
	owner(i int) uint32 // member number of entry i
}

// Len returns the number of members.
func (s *space) Len() int { return len(s.members) }

// Members returns a copy of the members, sorted by id.
func (s *space) Members() []Member { return slices.Clone(s.members) }

// Position returns key's position on the 2^32 circle: the fold of its hash.
// Move ranges from Diff are in these units.
func (s *space) Position(key []byte) uint32 { return fold(s.hash.sum(key)) }

// PositionString is Position for a string key.
func (s *space) PositionString(key string) uint32 { return fold(s.hash.sumString(key)) }

func (s *space) memberID(i uint32) string { return s.members[i].ID }

// LocateN returns up to n distinct member ids for key in preference order:
// the owner first, then the owners of the entries that follow on the circle
// (a Ring's points, a Maglev's slots), skipping repeats. It returns
// min(n, Len()) ids, none for n ≤ 0 or when empty.
//
// On a Ring the list is a stable fallback order: removing a member deletes
// it from every list and keeps the order of the rest, so the next member
// in a key's list is the one that inherits the key. Maglev lists have no
// such guarantee.
func (s *space) LocateN(key []byte, n int) []string {
	return s.AppendN(make([]string, 0, min(max(n, 0), len(s.members))), key, n)
}

// LocateNString is LocateN for a string key.
func (s *space) LocateNString(key string, n int) []string {
	return s.AppendNString(make([]string, 0, min(max(n, 0), len(s.members))), key, n)
}

// AppendN appends LocateN(key, n) to dst and returns it. It does not
// allocate when dst has room and n ≤ 16.
func (s *space) AppendN(dst []string, key []byte, n int) []string {
	if s.seq == nil || s.seq.size() == 0 || n <= 0 {
		return dst
	}
	return s.appendN(dst, fold(s.hash.sum(key)), n)
}

// AppendNString is AppendN for a string key.
func (s *space) AppendNString(dst []string, key string, n int) []string {
	if s.seq == nil || s.seq.size() == 0 || n <= 0 {
		return dst
	}
	return s.appendN(dst, fold(s.hash.sumString(key)), n)
}

func (s *space) appendN(dst []string, p uint32, n int) []string {
	n = min(n, len(s.members))
	var seen distinct
	seen.init(n, len(s.members))
	size := s.seq.size()
	i := s.seq.start(p)
	for range size {
		if m := s.seq.owner(i); seen.add(m) {
			dst = append(dst, s.members[m].ID)
			if seen.n == n {
				return dst
			}
		}
		if i++; i == size {
			i = 0
		}
	}
	// Every Ring member owns a point, so a Ring never gets here. A Maglev
	// member so light that it won no slot is still a member: list those
	// last, in id order, so LocateN always returns min(n, Len()) ids.
	for m := range s.members {
		if seen.n < n && seen.add(uint32(m)) {
			dst = append(dst, s.members[m].ID)
		}
	}
	return dst
}
