package hashring

import "slices"

// Maglev is an immutable Maglev lookup table (Eisenbud et al., NSDI 2016)
// over weighted members: a prime number M of slots, each naming a member,
// filled by letting members take turns claiming their next preferred free
// slot. A key's position selects a slot, so Locate is one hash and one
// table read.
//
// Maglev balances almost perfectly (each member gets its weighted share of
// slots to within one slot per turn) but is not minimally disruptive: when
// a member leaves, a small fraction of slots also changes hands between
// members that stayed. See the package doc for when to choose it.
//
// A *Maglev is safe for concurrent use; lookups are lock-free and
// allocation-free (LocateN excepted). The zero Maglev is empty.
type Maglev struct {
	space
	table []uint32 // slot → member number; len is a prime
}

// NewMaglev builds a Maglev table from members, in any order. Errors are as
// for New; ErrTooLarge if the table would exceed MaxTableSize.
func NewMaglev(members []Member, opts *Options) (*Maglev, error) {
	ms, o, err := prepare(members, opts)
	if err != nil {
		return nil, err
	}
	return buildMaglev(ms, o)
}

func buildMaglev(ms []Member, o Options) (*Maglev, error) {
	g := &Maglev{space: space{members: ms, hash: hasher{custom: o.Hasher}, opts: o}}
	g.seq = g
	if len(ms) == 0 {
		return g, nil
	}
	size := max(o.TableSize, 100*len(ms))
	if size > MaxTableSize {
		return nil, ErrTooLarge
	}
	m := uint64(nextPrime(uint32(size)))
	// Each member walks its own permutation offset, offset+skip, ... of the
	// slots (skip ∈ [1, M-1] is coprime with the prime M, so the walk visits
	// every slot). FROZEN: offset and skip derivation.
	next := make([]uint64, len(ms)) // next slot in the member's walk
	skip := make([]uint64, len(ms))
	maxW := 0.0
	for i, mb := range ms {
		h := g.hash.sumString(mb.ID)
		next[i] = splitmix64(h^maglevOffsetSeed) % m
		skip[i] = splitmix64(h^maglevSkipSeed)%(m-1) + 1
		maxW = max(maxW, mb.Weight)
	}
	const empty = ^uint32(0)
	table := make([]uint32, m)
	for i := range table {
		table[i] = empty
	}
	// Weighted turns: in turn t a member claims a slot while it has claimed
	// fewer than (t+1)·w/maxW, so heavier members claim proportionally more.
	// The heaviest member claims every turn, so the loop ends.
	claimed := make([]float64, len(ms))
	filled := uint64(0)
	for t := 0.0; filled < m; t++ {
		for i, mb := range ms {
			if claimed[i] >= (t+1)*mb.Weight/maxW {
				continue
			}
			claimed[i]++
			s := next[i]
			for table[s] != empty {
				if s += skip[i]; s >= m {
					s -= m
				}
			}
			table[s] = uint32(i)
			if s += skip[i]; s >= m {
				s -= m
			}
			next[i] = s
			if filled++; filled == m {
				break
			}
		}
	}
	g.table = table
	return g, nil
}

// nextPrime returns the smallest prime ≥ n (n ≤ MaxTableSize).
func nextPrime(n uint32) uint32 {
	if n <= 2 {
		return 2
	}
	for n |= 1; ; n += 2 {
		prime := true
		for d := uint32(3); d*d <= n; d += 2 {
			if n%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			return n
		}
	}
}

// slot maps a position to a table slot by Lemire's multiply-shift, which
// is uniform like p mod M but needs no division. FROZEN.
func (g *Maglev) slot(p uint32) int {
	return int(uint64(p) * uint64(len(g.table)) >> 32)
}

// Locate returns the id of the member that owns key, or "" if the table is
// empty. It does not allocate.
func (g *Maglev) Locate(key []byte) string {
	if len(g.table) == 0 {
		return ""
	}
	return g.members[g.table[g.slot(fold(g.hash.sum(key)))]].ID
}

// LocateString is Locate for a string key, without copying it.
func (g *Maglev) LocateString(key string) string {
	if len(g.table) == 0 {
		return ""
	}
	return g.members[g.table[g.slot(fold(g.hash.sumString(key)))]].ID
}

// size, start and owner make the slots the sequence LocateN walks.
func (g *Maglev) size() int          { return len(g.table) }
func (g *Maglev) start(p uint32) int { return g.slot(p) }
func (g *Maglev) owner(i int) uint32 { return g.table[i] }

// TableSize returns the number of slots (a prime; 0 when empty).
func (g *Maglev) TableSize() int { return len(g.table) }

// Add returns a new table with m added (errors as for Ring.Add).
func (g *Maglev) Add(m Member) (*Maglev, error) {
	if memberIndex(g.members, m.ID) >= 0 {
		return nil, &MemberError{ID: m.ID, Err: ErrDuplicateID}
	}
	ms, err := canonical(append(slices.Clone(g.members), m))
	if err != nil {
		return nil, err
	}
	return buildMaglev(ms, g.options())
}

// Remove returns a new table without member id (errors as for Ring.Remove).
func (g *Maglev) Remove(id string) (*Maglev, error) {
	ms, err := withoutMember(g.members, id)
	if err != nil {
		return nil, err
	}
	return buildMaglev(ms, g.options())
}

func (g *Maglev) options() Options {
	if g.opts.TableSize == 0 {
		return (*Options)(nil).orDefault()
	}
	return g.opts
}
