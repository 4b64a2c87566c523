package timeseries

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the frozen encoding (see the package doc).
const (
	// MaxSeriesLen is the longest series id, in bytes.
	MaxSeriesLen = 400
	// MaxEventIDLen is the longest event id, in bytes.
	MaxEventIDLen = 128
	// MaxItemKeyLen is the longest item key, in bytes.
	MaxItemKeyLen = 512
	// MaxNameLen is the longest namespace name: the kv namespaces derived
	// from it ("<name>_t<10 digits>") must fit kv.MaxNamespaceLen.
	MaxNameLen = 26

	maxBuckets   = 256 // bound on event buckets and split sub-buckets
	idVersion    = "1" // first field of every partition id (frozen)
	keyHeaderLen = 9   // inverted time (8) + event id length (1)
)

// partition names one kv record: the base partition (series, time bucket
// tb, event bucket eb of n) or, when m > 0, sub-bucket j of m of a split
// base partition.
type partition struct {
	series string
	tb     int64
	eb, n  int
	j, m   int
}

// id encodes p as the kv record id (frozen):
//
//	"1/" tb "/" eb "." n [ "." j "." m ] "/" series
//
// all numbers in decimal without leading zeros. The series comes last, so
// it may contain any UTF-8 including '/' and '.'.
func (p partition) id() string {
	b := make([]byte, 0, 40+len(p.series))
	b = append(b, idVersion+"/"...)
	b = strconv.AppendInt(b, p.tb, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(p.eb), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(p.n), 10)
	if p.m > 0 {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(p.j), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(p.m), 10)
	}
	b = append(b, '/')
	b = append(b, p.series...)
	return string(b)
}

// parsePartition decodes an id written by partition.id; anything else,
// including non-canonical numbers, is an error.
func parsePartition(id string) (partition, error) {
	var p partition
	bad := func(why string) (partition, error) {
		return partition{}, fmt.Errorf("%w: partition id %q: %s", ErrInvalid, id, why)
	}
	rest, ok := strings.CutPrefix(id, idVersion+"/")
	if !ok {
		return bad("unknown version")
	}
	tbs, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no time bucket")
	}
	buckets, series, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no event bucket")
	}
	tb, err := canonicalInt(tbs, math.MaxInt64)
	if err != nil {
		return bad(err.Error())
	}
	f := strings.Split(buckets, ".")
	if len(f) != 2 && len(f) != 4 {
		return bad("event bucket must be eb.n or eb.n.j.m")
	}
	v := make([]int, len(f))
	for i, s := range f {
		x, err := canonicalInt(s, maxBuckets)
		if err != nil {
			return bad(err.Error())
		}
		v[i] = int(x)
	}
	p = partition{series: series, tb: tb, eb: v[0], n: v[1]}
	if len(v) == 4 {
		p.j, p.m = v[2], v[3]
		if p.m < 2 || p.j >= p.m {
			return bad("sub-bucket out of range")
		}
	}
	if p.n < 1 || p.eb >= p.n {
		return bad("event bucket out of range")
	}
	if err := checkSeries(series); err != nil {
		return bad(err.Error())
	}
	return p, nil
}

// canonicalInt parses a non-negative decimal without sign or leading zeros.
func canonicalInt(s string, max int64) (int64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("number %q not canonical", s)
	}
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil || x > max {
		return 0, fmt.Errorf("number %q out of range", s)
	}
	return x, nil
}

func checkSeries(s string) error {
	if s == "" || len(s) > MaxSeriesLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: series id must be 1..%d bytes of UTF-8", ErrInvalid, MaxSeriesLen)
	}
	return nil
}

// hashID is the 64-bit FNV-1a of an event id. Its low 32 bits pick the
// event bucket, its high 32 bits the sub-bucket of a split (frozen: a
// change would send events of one id to other partitions).
func hashID(id string) uint64 { return fnv1a(id) }

// fnv1a is FNV-1a-64 of s, without hash.Hash's allocation and copy (it is
// on the write path once per event).
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func eventBucket(id string, n int) int { return int(uint32(hashID(id)) % uint32(n)) }
func subBucket(id string, m int) int   { return int(uint32(hashID(id)>>32) % uint32(m)) }

// eventPrefix appends the key prefix shared by every item of one event
// (frozen): MaxInt64 - µs as big-endian uint64, so that ascending keys are
// newest first, then the event id with a one-byte length.
func eventPrefix(dst []byte, us int64, id string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(math.MaxInt64-us))
	dst = append(dst, byte(len(id)))
	return append(dst, id...)
}

// timeKey is the first possible key of events at µs: items of later events
// sort before it, of earlier events at or after it.
func timeKey(us int64) []byte { return eventPrefix(nil, us, "")[:8] }

// parseItemKey splits an item key into event time, event id and item key.
// The returned slices alias k.
func parseItemKey(k []byte) (us int64, id, item []byte, err error) {
	if len(k) < keyHeaderLen {
		return 0, nil, nil, fmt.Errorf("%w: item key of %d bytes", ErrInvalid, len(k))
	}
	inv := binary.BigEndian.Uint64(k)
	n := int(k[8])
	if inv > math.MaxInt64 || len(k) < keyHeaderLen+n || n == 0 {
		return 0, nil, nil, fmt.Errorf("%w: malformed item key", ErrInvalid)
	}
	return math.MaxInt64 - int64(inv), k[keyHeaderLen : keyHeaderLen+n], k[keyHeaderLen+n:], nil
}

// prefixEnd returns the first key after every key that starts with p, or
// nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	e := bytes.Clone(p)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}
