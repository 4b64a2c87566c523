package hashring

import (
	"fmt"
	"math"
	"sync/atomic"
)

// capacity is the most load member m may hold once the request being placed
// is counted: ⌈(1+ε) · total · w_m / W⌉ where total includes that request
// and W is the ring's total weight. For equal weights that is the
// ⌈(1+ε)·average⌉ of Mirrokni, Thorup and Zadimoghaddam, and of HAProxy's
// hash-balance-factor (factor = 100·(1+ε)).
//
// The expression is evaluated in exactly this order, (1+ε)·total·w / W, so
// that callers who check the bound with the same expression get the same
// float rounding.
func (r *Ring) capacity(m uint32, total int64, b bound) int64 {
	c := math.Ceil(b.factor * float64(total) * r.members[m].Weight / b.sumW)
	if c >= math.MaxInt64 {
		// A huge ε: no bound at all. (Converting a float at or past 2⁶³
		// to int64 is undefined and gives MinInt64 on amd64.)
		return math.MaxInt64
	}
	return int64(c)
}

// bound is the load bound of one ring: 1+ε and the total weight W.
type bound struct {
	factor float64 // 1+ε
	sumW   float64
}

// newBound validates ε and sums the ring's weights.
func (r *Ring) newBound(epsilon float64) (bound, error) {
	if !(epsilon > 0) || math.IsInf(epsilon, 0) {
		return bound{}, fmt.Errorf("%w: epsilon %v must be finite and > 0", ErrBadOption, epsilon)
	}
	w := 0.0
	for _, m := range r.members {
		w += m.Weight
	}
	return bound{factor: 1 + epsilon, sumW: w}, nil
}

// LocateBounded places one more request for key under bounded load: it
// walks the ring from key's position, as LocateN does, and returns the
// first member whose load would stay within its capacity
// ⌈(1+ε)·(Σloads+1)·Weight/ΣWeight⌉. loads[i] is the current load of
// Members()[i] (the caller counts; see Balancer for a counter that does it
// concurrently). It returns the member's id and index.
//
// With all loads zero, or all members under their capacity, the answer is
// Locate(key), and a key only moves when its owner is full, to the next
// member on the ring that is not: the minimal-movement property of the
// scheme. Errors: ErrEmpty, ErrLoadsLength, ErrBadOption (ε ≤ 0, or a
// negative load).
func (r *Ring) LocateBounded(key []byte, loads []int64, epsilon float64) (string, int, error) {
	return r.locateBounded(fold(r.hash.sum(key)), loads, epsilon)
}

// LocateBoundedString is LocateBounded for a string key, without copying it.
func (r *Ring) LocateBoundedString(key string, loads []int64, epsilon float64) (string, int, error) {
	return r.locateBounded(fold(r.hash.sumString(key)), loads, epsilon)
}

func (r *Ring) locateBounded(p uint32, loads []int64, epsilon float64) (string, int, error) {
	if len(r.members) == 0 {
		return "", -1, ErrEmpty
	}
	if len(loads) != len(r.members) {
		return "", -1, fmt.Errorf("%w: %d loads for %d members", ErrLoadsLength, len(loads), len(r.members))
	}
	f, err := r.newBound(epsilon)
	if err != nil {
		return "", -1, err
	}
	total := int64(1) // the request being placed
	for _, l := range loads {
		if l < 0 {
			return "", -1, fmt.Errorf("%w: negative load %d", ErrBadOption, l)
		}
		total += l
	}
	i := r.successor(p)
	// The capacities sum to at least (1+ε)·total > Σloads, so some member
	// has room and one lap (which visits every member) finds it.
	for range len(r.points) {
		m := uint32(r.points[i])
		if loads[m]+1 <= r.capacity(m, total, f) {
			return r.members[m].ID, int(m), nil
		}
		if i++; i == len(r.points) {
			i = 0
		}
	}
	return "", -1, ErrNoRoom // unreachable unless loads overflow float64 precision
}

// Balancer hands out members of one Ring under bounded load, counting the
// requests in flight per member itself: Acquire picks a member as
// LocateBounded does and counts the request; Release uncounts it.
//
// A *Balancer is safe for concurrent use and lock-free: a member's count is
// raised by compare-and-swap only while it stays within the capacity
// computed from the total in flight (this request included) as last read.
// When the ring changes, make a new Balancer for the new Ring; Leases from
// the old one must be released to the old one.
type Balancer struct {
	ring  *Ring
	bound bound
	total atomic.Int64 // requests in flight; raised before, lowered after, a member's load
	loads []paddedLoad // by member index
}

// paddedLoad keeps each counter on its own cache line, so members that are
// hot at the same time do not slow each other down.
type paddedLoad struct {
	n atomic.Int64
	_ [56]byte
}

// Lease is one counted request: the member that took it and what Release
// needs to uncount it. The zero Lease is valid to Release (a no-op).
// A Lease is a plain value; release each one once.
type Lease struct {
	ID     string // chosen member's id
	member int32  // index + 1; 0 means "nothing to release"
}

// NewBalancer returns a Balancer for r with bound factor 1+epsilon
// (epsilon = 0.25 caps every member at 125% of its weighted average, like
// HAProxy's hash-balance-factor 125). It fails with ErrEmpty or ErrBadOption.
func NewBalancer(r *Ring, epsilon float64) (*Balancer, error) {
	if r == nil || len(r.members) == 0 {
		return nil, ErrEmpty
	}
	f, err := r.newBound(epsilon)
	if err != nil {
		return nil, err
	}
	return &Balancer{ring: r, bound: f, loads: make([]paddedLoad, len(r.members))}, nil
}

// Ring returns the ring the Balancer places keys on.
func (b *Balancer) Ring() *Ring { return b.ring }

// Acquire counts one request for key on the first member along the ring
// from key's position that has room, and returns its Lease. It does not
// allocate. It returns ErrNoRoom only if concurrent Acquires keep filling
// every member during several laps of the ring, which needs the total in
// flight to grow without bound while it runs.
func (b *Balancer) Acquire(key []byte) (Lease, error) {
	return b.acquire(fold(b.ring.hash.sum(key)))
}

// AcquireString is Acquire for a string key.
func (b *Balancer) AcquireString(key string) (Lease, error) {
	return b.acquire(fold(b.ring.hash.sumString(key)))
}

// Release uncounts a request counted by Acquire. Releasing a Lease twice
// corrupts the counts; releasing the zero Lease does nothing.
func (b *Balancer) Release(l Lease) {
	if l.member <= 0 || int(l.member) > len(b.loads) {
		return
	}
	// Lower the member before the total, so Σloads ≤ total always holds
	// for concurrent Acquires (the argument that one of them has room).
	b.loads[l.member-1].n.Add(-1)
	b.total.Add(-1)
}

// Load returns the number of requests in flight on member id (0 if id is
// not a member).
func (b *Balancer) Load(id string) int64 {
	if i := memberIndex(b.ring.members, id); i >= 0 {
		return b.loads[i].n.Load()
	}
	return 0
}

// Capacity returns the most requests member id may hold when total
// requests (including the next one) are in flight; 0 if id is not a member.
func (b *Balancer) Capacity(id string, total int64) int64 {
	if i := memberIndex(b.ring.members, id); i >= 0 {
		return b.ring.capacity(uint32(i), total, b.bound)
	}
	return 0
}

// InFlight returns the total number of requests counted.
func (b *Balancer) InFlight() int64 { return b.total.Load() }

// maxLaps bounds how often Acquire re-walks the ring when concurrent
// Acquires took the room it saw; each lap rereads the total.
const maxLaps = 4

func (b *Balancer) acquire(p uint32) (Lease, error) {
	r := b.ring
	b.total.Add(1)
	start := r.successor(p)
	for range maxLaps {
		total := b.total.Load()
		i := start
		for range len(r.points) {
			m := uint32(r.points[i])
			c := r.capacity(m, total, b.bound)
			for cur := b.loads[m].n.Load(); cur+1 <= c; cur = b.loads[m].n.Load() {
				if b.loads[m].n.CompareAndSwap(cur, cur+1) {
					return Lease{ID: r.members[m].ID, member: int32(m) + 1}, nil
				}
			}
			if i++; i == len(r.points) {
				i = 0
			}
		}
	}
	b.total.Add(-1)
	return Lease{}, ErrNoRoom
}
