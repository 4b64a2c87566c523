package hashring

// Locator is what Ring and Maglev have in common, so that code choosing an
// algorithm at startup can hold either. It is implemented only by this
// package's types (the unexported method seals it); both implementations
// are safe for concurrent use.
type Locator interface {
	Locate(key []byte) string
	LocateString(key string) string
	LocateN(key []byte, n int) []string
	LocateNString(key string, n int) []string
	AppendN(dst []string, key []byte, n int) []string
	AppendNString(dst []string, key string, n int) []string
	Position(key []byte) uint32
	PositionString(key string) uint32
	Len() int
	Members() []Member

	// segments yields the circle as consecutive inclusive position ranges
	// [lo, hi] from 0 to 2^32-1, each with its owning member index.
	segments(yield func(lo, hi uint32, owner uint32) bool)
	memberID(i uint32) string
}

var (
	_ Locator = (*Ring)(nil)
	_ Locator = (*Maglev)(nil)
)

// Move is one range of key positions whose owner differs between two
// locators: every key k with Lo ≤ Position(k) ≤ Hi belonged to From and
// now belongs to To. From or To is "" when that side is empty.
type Move struct {
	Lo, Hi   uint32
	From, To string
}

// Fraction returns the share of all keys that fall in the move's range.
func (m Move) Fraction() float64 { return (float64(m.Hi) - float64(m.Lo) + 1) / (1 << 32) }

// Contains reports whether position p is in the move's range.
func (m Move) Contains(p uint32) bool { return m.Lo <= p && p <= m.Hi }

// Diff returns, in position order, the ranges of the circle whose owner
// differs between a and b, with adjacent ranges of the same (From, To)
// merged. An edge that is about to swap ring a for ring b can hand off or
// warm exactly the keys in the moves whose From or To is itself.
//
// Positions are only comparable when a and b hash keys the same way (the
// same Hasher). Diff is exact (no key sampling); it runs in time linear in
// the points or slots of a and b and allocates the result.
func Diff(a, b Locator) []Move {
	var moves []Move
	emit := func(lo, hi uint32, from, to string) {
		if from == to {
			return
		}
		if k := len(moves) - 1; k >= 0 && moves[k].From == from && moves[k].To == to && moves[k].Hi+1 == lo {
			moves[k].Hi = hi
			return
		}
		moves = append(moves, Move{Lo: lo, Hi: hi, From: from, To: to})
	}
	as, bs := collect(a), collect(b)
	switch {
	case len(as) == 0 && len(bs) == 0:
		return nil
	case len(as) == 0:
		for _, s := range bs {
			emit(s.lo, s.hi, "", b.memberID(s.owner))
		}
		return moves
	case len(bs) == 0:
		for _, s := range as {
			emit(s.lo, s.hi, a.memberID(s.owner), "")
		}
		return moves
	}
	// Sweep both segment lists; each step ends at the nearer segment end.
	i, j := 0, 0
	lo := uint32(0)
	for {
		hi := min(as[i].hi, bs[j].hi)
		emit(lo, hi, a.memberID(as[i].owner), b.memberID(bs[j].owner))
		if hi == ^uint32(0) {
			return moves
		}
		lo = hi + 1
		if as[i].hi == hi {
			i++
		}
		if bs[j].hi == hi {
			j++
		}
	}
}

type segment struct {
	lo, hi, owner uint32
}

func collect(l Locator) []segment {
	var out []segment
	l.segments(func(lo, hi, owner uint32) bool {
		out = append(out, segment{lo, hi, owner})
		return true
	})
	return out
}

// Shares returns each member's exact share of the circle (the fraction of
// all possible keys it owns), by id. The shares sum to 1 for a non-empty
// locator.
func Shares(l Locator) map[string]float64 {
	out := make(map[string]float64, l.Len())
	for _, m := range l.Members() {
		out[m.ID] = 0
	}
	l.segments(func(lo, hi, owner uint32) bool {
		out[l.memberID(owner)] += (float64(hi) - float64(lo) + 1) / (1 << 32)
		return true
	})
	return out
}

// segments of a Ring: point i owns (position of point i-1, position of
// point i]; the first point also owns the wrap-around arc past the last.
// Points sharing a position give the range to the first of them, exactly
// as successor does.
func (r *Ring) segments(yield func(lo, hi, owner uint32) bool) {
	if len(r.points) == 0 {
		return
	}
	lo := uint64(0)
	for _, pt := range r.points {
		hi := pt >> 32
		if hi < lo {
			continue // same position as the previous point
		}
		if !yield(uint32(lo), uint32(hi), uint32(pt)) {
			return
		}
		lo = hi + 1
	}
	if lo <= 0xFFFFFFFF {
		yield(uint32(lo), 0xFFFFFFFF, uint32(r.points[0]))
	}
}

// segments of a Maglev table: slot s holds the positions p with
// ⌊p·M/2^32⌋ = s, i.e. [⌈s·2^32/M⌉, ⌈(s+1)·2^32/M⌉ - 1].
func (g *Maglev) segments(yield func(lo, hi, owner uint32) bool) {
	m := uint64(len(g.table))
	for s := range m {
		lo := (s<<32 + m - 1) / m
		hi := ((s+1)<<32+m-1)/m - 1
		if lo > hi {
			continue // a slot no position maps to (only when M > 2^32)
		}
		if !yield(uint32(lo), uint32(hi), g.table[s]) {
			return
		}
	}
}
