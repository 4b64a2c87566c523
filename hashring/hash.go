package hashring

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Hasher turns keys and member ids into 64-bit hashes. Both methods must
// return the same value for the same bytes, must not retain or modify their
// argument, and must be safe for concurrent use. The default (nil Hasher in
// Options) is xxhash64 with seed 0 (github.com/cespare/xxhash/v2).
//
// The ring only uses the 32-bit fold of the hash (see Position), so a
// hash whose entropy sits in its low 32 bits (CRC-32, FNV-32) still works.
type Hasher interface {
	Sum64(b []byte) uint64
	Sum64String(s string) uint64
}

// HashFunc adapts a plain byte-slice hash function to Hasher. Sum64String
// passes the string's bytes without copying, so the function must treat its
// argument as read-only and must not keep it. Lookups call it from many
// goroutines at once, so the function must be safe for concurrent use.
type HashFunc func(b []byte) uint64

// Sum64 returns f(b).
func (f HashFunc) Sum64(b []byte) uint64 { return f(b) }

// Sum64String returns f applied to the bytes of s, without copying them.
func (f HashFunc) Sum64String(s string) uint64 {
	return f(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// hasher is the concrete hash a Ring or Maglev calls. A nil custom hasher
// means xxhash, which is called directly so the common case pays no
// interface dispatch.
type hasher struct {
	custom Hasher // nil = xxhash64, seed 0
}

func (h hasher) sum(b []byte) uint64 {
	if h.custom == nil {
		return xxhash.Sum64(b)
	}
	return h.custom.Sum64(b)
}

func (h hasher) sumString(s string) uint64 {
	if h.custom == nil {
		return xxhash.Sum64String(s)
	}
	return h.custom.Sum64String(s)
}

// fold maps a 64-bit hash to a ring position. FROZEN: part of the
// determinism promise (see the package doc); changing it moves every key.
func fold(h uint64) uint32 { return uint32(h>>32) ^ uint32(h) }

// Point derivation constants. FROZEN: changing any of them moves every key.
const (
	golden64 = 0x9E3779B97F4A7C15 // splitmix64 increment (2^64/φ)
	mix1     = 0xBF58476D1CE4E5B9 // splitmix64 finalizer multipliers
	mix2     = 0x94D049BB133111EB

	// Maglev permutation seeds, XORed into the member hash before mixing so
	// that offset and skip are independent of each other and of ring points.
	maglevOffsetSeed = 0x6D61676C65766F66 // "maglevof"
	maglevSkipSeed   = 0x6D61676C65767370 // "maglevsp"
)

// splitmix64 is the finalizer of Steele et al.'s SplitMix64 generator: a
// bijection on uint64 with full avalanche. FROZEN.
func splitmix64(x uint64) uint64 {
	x ^= x >> 30
	x *= mix1
	x ^= x >> 27
	x *= mix2
	x ^= x >> 31
	return x
}

// pointPosition is the ring position of point j (0-based) of a member whose
// id hashes to idHash. FROZEN: see the package doc, "Determinism".
// Points of a member form one infinite sequence, so raising a member's weight
// keeps its existing points and only adds new ones.
func pointPosition(idHash uint64, j uint32) uint32 {
	return fold(splitmix64(idHash + (uint64(j)+1)*golden64))
}
