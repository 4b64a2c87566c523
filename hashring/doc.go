// Package hashring decides which member of a tier owns a key — which edge
// caches a segment, which origin host takes a stream, which shard holds a
// row — and moves as few keys as possible when members come and go.
//
// # Model
//
// Keys and members meet on a circle of 2^32 positions. A key's position is
// the 32-bit fold of its 64-bit hash (xxhash64 by default). Two algorithms
// share the Locator interface:
//
//   - Ring: each member places max(1, round(Weight × 1024)) pseudo-random
//     points on the circle; a key belongs to the member owning the first
//     point at or after the key's position. Points live in one sorted
//     []uint64 (position<<32 | member), found through a bucket index with
//     about one point per bucket, so Locate is a hash, one index read and a
//     short scan: O(1) expected, about 12 bytes per point.
//   - Maglev: a prime-sized table (≥ 65537 slots, ≥ 100 per member) that
//     members fill by taking turns along their own permutation of the
//     slots (Eisenbud et al., NSDI 2016), with weights deciding how often a
//     member takes a turn. A key's position picks a slot.
//
// Both are immutable values. Add and Remove return a new value, so a server
// keeps the current one in an atomic.Pointer and swaps it; lookups never
// lock and never allocate (LocateN allocates its result; AppendN does not).
// Keys are accepted as []byte or string and are never copied.
//
// LocateN(key, n) returns n distinct members in preference order, for
// replicas or for falling back when the owner is down: on a Ring, the owners
// of the following points, skipping repeats. Removing a member deletes it
// from every list and keeps the order of the rest, so a key's fallback is
// the member that inherits it when its owner is removed for good.
//
// Diff(a, b) lists, exactly, the position ranges whose owner differs
// between two locators and who had them before and after, so an edge can
// hand off or warm exactly the keys it gains or loses. Shares gives each
// member's exact fraction of the key space.
//
// # Bounded load
//
// Ring.LocateBounded and Balancer implement consistent hashing with bounded
// loads (Mirrokni, Thorup, Zadimoghaddam, SODA 2018; HAProxy's
// hash-balance-factor, used by Vimeo): given the current loads, a request
// goes to the first member along the key's LocateN order whose load stays
// within ⌈(1+ε) · total · Weight/ΣWeight⌉, where total counts the request
// being placed. With equal weights that is ⌈(1+ε) × average⌉. When nobody
// is full the answer is Locate's; a key leaves its owner only while the
// owner is full, and then for the next member on the ring, so keys still
// move minimally as loads change. Balancer counts in-flight requests
// itself, lock-free (compare-and-swap under the cap).
//
// # Choosing an algorithm
//
// Use Ring (the default choice) when movement matters: caches, stores,
// sticky streams. Removing a member moves only that member's keys, each to
// its LocateN successor, and adding one moves only the keys it takes;
// nothing moves between members that stayed. The price is balance that is
// good rather than perfect: a member's share deviates from its weighted
// ideal by about 1/√points (3.1% for weight 1 at 1024 points; 99.7% of
// members within ±9.4%), and about 12 bytes per point of memory (≈ 6 MB
// for 512 members).
//
// Use Maglev when lookups must be as fast as possible and keys are cheap to
// move (stateless load balancing, connection steering): each member gets
// ⌊M/n⌋ or ⌈M/n⌉ slots, lookup is one hash and one table read, the table is
// 4 bytes a slot (256 KiB at the default size), but a membership change
// also moves keys between members that stayed. Measured exactly with Diff,
// one removal or addition moves 1.01× the ideal in total at 8 members,
// 1.3× at 64 and 5.5× at 512 with the default table; a larger
// Options.TableSize reduces it (≈ 2.3× at 512 members with 1000 slots per
// member). Its LocateN lists are not stable across changes.
//
// Measured figures against buraksezer/consistent, stathat/consistent and
// groupcache's consistenthash are in docs/bench/hashring.md.
//
// # Why a dense virtual-node ring
//
// The goals were: moves within 10% of the ideal 1/(n+1) on add and
// 1/n on remove, zero movement between survivors, better balance than the
// peers at equal memory, and lookups at least as fast as
// buraksezer/consistent without allocating. The candidates fail some goal:
// jump hash only removes the highest-numbered bucket; rendezvous (HRW) is
// exact but O(members) per lookup (≈ 0.5 µs at 512); Maglev moves keys
// between survivors; buraksezer's partition table moves partitions between
// survivors and caps balance only at its load factor; multi-probe hashing
// needs ~20 probes for 5% imbalance. A ring satisfies the movement goals by
// construction and its balance improves as 1/√points, so the work went
// into making points cheap: 8 bytes each in a single sorted array (radix
// sorted at build time) and a bucket index that makes lookup O(1), so the
// ring can afford 1024 points per member where the peers use 20–160 in
// 40–50-byte map entries. Points are derived from the member id alone, so
// a member's points never depend on who else is in the ring.
//
// # Determinism (compatibility promise)
//
// The same members (in any order) and options give the same answers in
// every process, on every platform, in every version of this package: the
// scheme below is frozen, and golden tests pin it.
//
//	key position  = fold(xxhash64(key))                   xxhash64 seed 0
//	fold(x)       = uint32(x>>32) XOR uint32(x)
//	member hash h = xxhash64(member id)
//	Ring point j  = fold(splitmix64(h + (j+1)·0x9E3779B97F4A7C15)),
//	                j = 0 … max(1, round(Weight×PointsPerWeight))-1
//	splitmix64(x) : x ^= x>>30; x *= 0xBF58476D1CE4E5B9;
//	                x ^= x>>27; x *= 0x94D049BB133111EB; x ^= x>>31
//	Ring owner    = member of the first point with position ≥ key position
//	                (ties: the smaller member id), wrapping past 2^32-1
//	Maglev M      = smallest prime ≥ max(TableSize, 100×members)
//	offset, skip  = splitmix64(h^0x6D61676C65766F66) mod M,
//	                splitmix64(h^0x6D61676C65767370) mod (M-1) + 1
//	Maglev turns  = members in id order; in turn t = 0, 1, … a member claims
//	                its next free slot if it has claimed < (t+1)·Weight/maxWeight
//	Maglev slot   = (key position × M) >> 32
//
// A member's points are a prefix of one infinite sequence, so changing its
// weight keeps its old points: raising a weight only takes keys from
// others, lowering it only gives keys away. A custom Options.Hasher
// replaces xxhash64 in both places; the promise then holds as long as that
// hash is stable.
//
// # Concurrency
//
// *Ring and *Maglev are immutable and safe for concurrent use; so is
// *Balancer. Member and Move are plain values.
//
// # Bad input
//
// Constructors reject empty ids (ErrEmptyID), duplicate ids
// (ErrDuplicateID) and weights that are zero, negative, NaN or infinite
// (ErrBadWeight), wrapped in a *MemberError naming the member, and
// configurations beyond MaxPoints or MaxTableSize (ErrTooLarge). No members
// is not an error: the empty Ring or Maglev answers "" from Locate and
// nothing from LocateN; the zero Ring and zero Maglev are empty values too.
// LocateN with n larger than the member count returns every member once;
// with n ≤ 0 it returns nothing. Nothing in the package panics on input.
package hashring
