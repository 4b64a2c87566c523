package timeseries

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// FuzzPageToken: decodeToken never panics, rejects what it cannot
// vouch for with ErrBadToken, and what it accepts re-encodes to the same
// bytes.
func FuzzPageToken(f *testing.F) {
	bind := bindHash("ns", "series", 1, 1e12, 'r')
	f.Add(token{pos: position{us: 5e11}}.encode(bind))
	f.Add(token{pos: position{us: 5e11, id: []byte("ev-1"), after: true}, tb: 833, bytes: []uint32{1, 2, 3}}.encode(bind))
	f.Add([]byte{})
	f.Add([]byte("garbage that is long enough to look like a token...."))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := decodeToken(b, bind)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("error %v is not ErrBadToken", err)
			}
			return
		}
		if again := tok.encode(bind); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
		_ = tok.pos.startKey()
	})
}

// FuzzPartitionID: parsePartition accepts exactly the canonical ids that
// partition.id writes.
func FuzzPartitionID(f *testing.F) {
	f.Add(partition{series: "live/ch1", tb: 2989555, eb: 3, n: 4}.id())
	f.Add(partition{series: "a/b.c", tb: 0, eb: 0, n: 1, j: 7, m: 8}.id())
	f.Add("1/01/0.1/x")
	f.Add("1/5/0.1.0.1/x")
	f.Add("2/5/0.1/x")
	f.Fuzz(func(t *testing.T, id string) {
		p, err := parsePartition(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if p.id() != id {
			t.Fatalf("parsed %q as %+v, which encodes as %q", id, p, p.id())
		}
	})
}

// FuzzItemKey: parseItemKey never panics and inverts eventPrefix.
func FuzzItemKey(f *testing.F) {
	f.Add(int64(1763900000000000), "ev-1", []byte("bytes"))
	f.Add(int64(1), "x", []byte{})
	f.Add(int64(math.MaxInt64-1), string(make([]byte, MaxEventIDLen)), []byte{0xff})
	f.Fuzz(func(t *testing.T, us int64, id string, item []byte) {
		_, _, _, _ = parseItemKey(item) // arbitrary bytes: no panic
		if us < 1 || us == math.MaxInt64 || id == "" || len(id) > MaxEventIDLen {
			return
		}
		k := append(eventPrefix(nil, us, id), item...)
		gus, gid, gitem, err := parseItemKey(k)
		if err != nil || gus != us || string(gid) != id || !bytes.Equal(gitem, item) {
			t.Fatalf("parseItemKey(%x) = %d %q %x %v; want %d %q %x", k, gus, gid, gitem, err, us, id, item)
		}
		if !bytes.HasPrefix(k, timeKey(us)) || bytes.Compare(k, timeKey(us-1)) >= 0 {
			t.Fatalf("key %x not within its time's range", k)
		}
	})
}

// FuzzSplitRecord: decodeSplitRec never panics and round-trips.
func FuzzSplitRecord(f *testing.F) {
	f.Add((&splitRec{state: stateRequested, bytes: 9 << 20}).encode())
	f.Add((&splitRec{state: stateCopying, m: 8, preN: 10, preSum: 99, cursor: []byte("k")}).encode())
	f.Add([]byte{3, 0})
	f.Add((&splitRec{state: stateCopying, m: 4, failed: 2, retryAt: 1763900000000000, cursor: []byte("c")}).encode())
	f.Add((&splitRec{state: stateAborted, m: 4, failed: 8}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeSplitRec(b)
		if err != nil {
			return
		}
		if again := r.encode(); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
	})
}

// TestBloom: no false negatives; few false positives.
func TestBloom(t *testing.T) {
	b := newBloom(1000)
	for i := range 1000 {
		b.add(partition{series: "s", tb: int64(i), n: 1}.id())
	}
	for i := range 1000 {
		if !b.has(partition{series: "s", tb: int64(i), n: 1}.id()) {
			t.Fatalf("false negative for %d", i)
		}
	}
	fp := 0
	for i := range 10000 {
		if b.has(partition{series: "t", tb: int64(i), n: 1}.id()) {
			fp++
		}
	}
	if fp > 300 {
		t.Errorf("%d false positives in 10000, want about 1%%", fp)
	}
}

// TestBucketsFor covers the density rule.
func TestBucketsFor(t *testing.T) {
	for _, tc := range []struct {
		d, target int64
		def, max  int
		want      int
	}{
		{0, 100, 4, 16, 4},
		{1, 100, 4, 16, 1},
		{100, 100, 4, 16, 1},
		{101, 100, 4, 16, 2},
		{1 << 40, 100, 4, 16, 16},
	} {
		if got := bucketsFor(tc.d, tc.target, tc.def, tc.max); got != tc.want {
			t.Errorf("bucketsFor(%d, %d, %d, %d) = %d, want %d", tc.d, tc.target, tc.def, tc.max, got, tc.want)
		}
	}
}
