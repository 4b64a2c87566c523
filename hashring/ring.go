package hashring

import (
	"math"
	"slices"
	"strings"
)

// Ring is an immutable consistent-hash ring of weighted members: each member
// owns max(1, round(Weight × PointsPerWeight)) pseudo-random points on a
// 2^32 circle, and a key belongs to the member owning the first point at or
// after the key's position.
//
// A *Ring is safe for concurrent use: it is never modified after New, and
// every lookup is lock-free and allocation-free (LocateN excepted, which
// allocates its result; use AppendN to avoid that). Add and Remove return a
// new Ring and leave the receiver untouched, so a server can publish rings
// through an atomic.Pointer[Ring] and swap them on membership change.
//
// The zero Ring is an empty ring with default options: Locate returns "",
// and Add works.
type Ring struct {
	space
	// points holds position<<32 | member index, sorted ascending: one
	// uint64 per point makes the binary layout compact (8 bytes a point)
	// and orders equal positions by member id, deterministically.
	points []uint64
	// index[b] is the first point whose position is in bucket b or later
	// (see buildIndex); it turns the successor search into one table read
	// and a short scan (one point per bucket on average).
	index []uint32
}

// New builds a Ring from members, in any order. It returns a *MemberError
// wrapping ErrEmptyID, ErrDuplicateID or ErrBadWeight for bad members,
// ErrBadOption for bad options and ErrTooLarge if the ring would exceed
// MaxPoints. No members is not an error: the result is an empty ring.
func New(members []Member, opts *Options) (*Ring, error) {
	ms, o, err := prepare(members, opts)
	if err != nil {
		return nil, err
	}
	return build(ms, o)
}

// newRing returns a Ring with its members set and no points yet.
func newRing(ms []Member, o Options) *Ring {
	r := &Ring{space: space{members: ms, hash: hasher{custom: o.Hasher}, opts: o}}
	r.seq = r
	return r
}

// pointCount is how many ring points a member of weight w gets.
func pointCount(w float64, perWeight int) float64 {
	return max(1, math.Round(w*float64(perWeight)))
}

func build(ms []Member, o Options) (*Ring, error) {
	r := newRing(ms, o)
	total := 0.0
	for _, m := range ms {
		total += pointCount(m.Weight, o.PointsPerWeight)
	}
	if total > MaxPoints {
		return nil, ErrTooLarge
	}
	points := make([]uint64, 0, int(total))
	for i, m := range ms {
		h := r.hash.sumString(m.ID)
		c := uint32(pointCount(m.Weight, o.PointsPerWeight))
		for j := range c {
			points = append(points, uint64(pointPosition(h, j))<<32|uint64(i))
		}
	}
	radixSort(points)
	r.points = points
	r.buildIndex()
	return r, nil
}

// buildIndex fills index with exactly one bucket per point. Position p
// falls in bucket ⌊p·B/2^32⌋ (multiply-shift, as Maglev maps slots), so B
// need not be a power of two and the index costs 4 bytes a point, no more.
func (r *Ring) buildIndex() {
	if len(r.points) == 0 {
		return
	}
	nb := uint64(len(r.points))
	r.index = make([]uint32, nb)
	i := 0
	for b := range nb {
		// First position in bucket b is ⌈b·2^32/B⌉.
		lo := (b<<32 + nb - 1) / nb << 32 // as a packed value
		for i < len(r.points) && r.points[i] < lo {
			i++
		}
		r.index[b] = uint32(i)
	}
}

// bucket returns the index bucket of position p.
func (r *Ring) bucket(p uint32) int {
	return int(uint64(p) * uint64(len(r.index)) >> 32)
}

// radixSort sorts v ascending with an LSD radix sort on 11-bit digits
// (a 16 KiB count table that stays in L1), skipping digits that are equal
// in every element (most member-number bits are zero). It is several times
// faster than slices.Sort for the large rings the build makes.
func radixSort(v []uint64) {
	if len(v) < 256 {
		slices.Sort(v)
		return
	}
	const digit = 11
	const mask = 1<<digit - 1
	tmp := make([]uint64, len(v))
	src, dst := v, tmp
	var count [1 << digit]int
	for shift := uint(0); shift < 64; shift += digit {
		clear(count[:])
		for _, x := range src {
			count[(x>>shift)&mask]++
		}
		if count[(src[0]>>shift)&mask] == len(src) {
			continue // every element has the same digit: nothing to do
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, x := range src {
			d := (x >> shift) & mask
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
}

// successor returns the index of the first point at or after position p,
// wrapping to 0 past the last point. The ring must not be empty.
func (r *Ring) successor(p uint32) int {
	i := int(r.index[r.bucket(p)])
	want := uint64(p) << 32
	pts := r.points
	for i < len(pts) && pts[i] < want {
		i++
	}
	if i == len(pts) {
		i = 0
	}
	return i
}

// Locate returns the id of the member that owns key, or "" if the ring is
// empty. It does not allocate and does not retain key.
func (r *Ring) Locate(key []byte) string {
	if len(r.points) == 0 {
		return ""
	}
	return r.members[uint32(r.points[r.successor(fold(r.hash.sum(key)))])].ID
}

// LocateString is Locate for a string key, without copying it.
func (r *Ring) LocateString(key string) string {
	if len(r.points) == 0 {
		return ""
	}
	return r.members[uint32(r.points[r.successor(fold(r.hash.sumString(key)))])].ID
}

// size, start and owner make the points the sequence LocateN walks.
func (r *Ring) size() int          { return len(r.points) }
func (r *Ring) start(p uint32) int { return r.successor(p) }
func (r *Ring) owner(i int) uint32 { return uint32(r.points[i]) }

// Points returns the number of points on the ring (a measure of its memory:
// about 12 bytes a point, with the index).
func (r *Ring) Points() int { return len(r.points) }

// Add returns a new Ring with m added, or a *MemberError wrapping
// ErrDuplicateID (m is already a member), ErrEmptyID or ErrBadWeight.
// Only keys that now belong to m move. The result is identical to New with
// the new member list, built in time linear in the ring's size.
func (r *Ring) Add(m Member) (*Ring, error) {
	if memberIndex(r.members, m.ID) >= 0 {
		return nil, &MemberError{ID: m.ID, Err: ErrDuplicateID}
	}
	if _, err := canonical([]Member{m}); err != nil {
		return nil, err
	}
	o := r.options()
	add := pointCount(m.Weight, o.PointsPerWeight)
	if float64(len(r.points))+add > MaxPoints {
		return nil, ErrTooLarge
	}
	k, _ := slices.BinarySearchFunc(r.members, m.ID, func(a Member, id string) int { return strings.Compare(a.ID, id) })
	out := newRing(slices.Insert(slices.Clone(r.members), k, m), o)
	// The new member's points, sorted, then merged with the old ones whose
	// member numbers at or after k shift up by one (a monotone renumbering,
	// so the old points stay sorted).
	h := out.hash.sumString(m.ID)
	fresh := make([]uint64, int(add))
	for j := range fresh {
		fresh[j] = uint64(pointPosition(h, uint32(j)))<<32 | uint64(k)
	}
	radixSort(fresh)
	pts := make([]uint64, 0, len(r.points)+len(fresh))
	i, j := 0, 0
	for i < len(r.points) || j < len(fresh) {
		if i < len(r.points) {
			p := r.points[i]
			if uint32(p) >= uint32(k) {
				p++
			}
			if j == len(fresh) || p < fresh[j] {
				pts = append(pts, p)
				i++
				continue
			}
		}
		pts = append(pts, fresh[j])
		j++
	}
	out.points = pts
	out.buildIndex()
	return out, nil
}

// Remove returns a new Ring without the member id, or a *MemberError
// wrapping ErrUnknownMember. Only the removed member's keys move, and each
// goes to the member that followed it in LocateN order. Like Add, it
// equals New with the new member list and runs in linear time.
func (r *Ring) Remove(id string) (*Ring, error) {
	k := memberIndex(r.members, id)
	if k < 0 {
		return nil, &MemberError{ID: id, Err: ErrUnknownMember}
	}
	o := r.options()
	out := newRing(slices.Delete(slices.Clone(r.members), k, k+1), o)
	pts := make([]uint64, 0, len(r.points))
	for _, p := range r.points {
		switch owner := uint32(p); {
		case owner == uint32(k):
			continue
		case owner > uint32(k):
			p-- // renumber: members after k move down one
		}
		pts = append(pts, p)
	}
	out.points = pts
	out.buildIndex()
	return out, nil
}

// options returns the ring's options, or the defaults for a zero Ring.
func (r *Ring) options() Options {
	if r.opts.PointsPerWeight == 0 {
		return (*Options)(nil).orDefault()
	}
	return r.opts
}
