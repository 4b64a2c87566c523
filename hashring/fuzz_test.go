package hashring_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// membersFromBytes decodes fuzz input into members: each entry is a length
// byte, that many id bytes and 8 bytes of float64 weight. Anything goes,
// including empty ids, duplicates, NaN and huge weights.
func membersFromBytes(data []byte) []hashring.Member {
	var ms []hashring.Member
	for len(data) > 0 && len(ms) < 64 {
		n := min(int(data[0]), len(data)-1)
		id := string(data[1 : 1+n])
		data = data[1+n:]
		w := 1.0
		if len(data) >= 8 {
			w = math.Float64frombits(binary.LittleEndian.Uint64(data))
			data = data[8:]
		}
		ms = append(ms, hashring.Member{ID: id, Weight: w})
	}
	return ms
}

func FuzzNew(f *testing.F) {
	one := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1))
	f.Add(append([]byte{1, 'a'}, one...), []byte("key"), 3, uint16(8))
	f.Add(append(append([]byte{1, 'a'}, one...), append([]byte{1, 'a'}, one...)...), []byte(""), 1, uint16(1))
	f.Add(append([]byte{0}, one...), []byte("x"), 0, uint16(0))
	f.Add([]byte{3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, []byte("nan"), -1, uint16(3))
	f.Add(append([]byte{2, 'z', 'z'}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e300))...), []byte("big"), 99, uint16(50))
	f.Fuzz(func(t *testing.T, data, key []byte, n int, points uint16) {
		ms := membersFromBytes(data)
		opts := &hashring.Options{PointsPerWeight: int(points % 256), TableSize: int(points)}
		// Rings of millions of points are legal but take seconds to build
		// and walk; the fuzzer would report them as hangs.
		ppw := opts.PointsPerWeight
		if ppw == 0 {
			ppw = hashring.DefaultPointsPerWeight
		}
		est := 0.0
		for _, m := range ms {
			if m.Weight > 0 {
				est += max(1, m.Weight*float64(ppw))
			}
		}
		if est > 1<<17 && est <= hashring.MaxPoints {
			t.Skip("ring too large for a fuzz iteration")
		}
		r, errR := hashring.New(ms, opts)
		g, errG := hashring.NewMaglev(ms, opts)
		for _, err := range []error{errR, errG} {
			if err != nil && !errors.Is(err, hashring.ErrEmptyID) && !errors.Is(err, hashring.ErrDuplicateID) &&
				!errors.Is(err, hashring.ErrBadWeight) && !errors.Is(err, hashring.ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		n = n % 100
		for _, l := range []hashring.Locator{r, g} {
			switch v := l.(type) {
			case *hashring.Ring:
				if v == nil {
					continue
				}
			case *hashring.Maglev:
				if v == nil {
					continue
				}
			}
			owner := l.Locate(key)
			if (owner == "") != (l.Len() == 0) {
				t.Fatalf("Locate got %q from %d members", owner, l.Len())
			}
			if l.LocateString(string(key)) != owner {
				t.Fatal("Locate and LocateString disagree")
			}
			got := l.LocateN(key, n)
			if want := max(0, min(n, l.Len())); len(got) != want || len(uniq(got)) != want {
				t.Fatalf("LocateN(n=%d) got %q from %d members", n, got, l.Len())
			}
			if len(got) > 0 && got[0] != owner {
				t.Fatalf("LocateN[0] %q != Locate %q", got[0], owner)
			}
		}
		if r != nil && r.Len() > 0 {
			loads := make([]int64, r.Len())
			if _, _, err := r.LocateBounded(key, loads, 0.1); err != nil {
				t.Fatalf("LocateBounded: %v", err)
			}
			// Removing the owner moves only its keys, to its successor.
			owner := r.Locate(key)
			next := r.LocateN(key, 2)
			r2, err := r.Remove(owner)
			if err != nil {
				t.Fatal(err)
			}
			if len(next) == 2 && r2.Locate(key) != next[1] {
				t.Fatalf("after removing %q, key went to %q, want %q", owner, r2.Locate(key), next[1])
			}
			for _, m := range hashring.Diff(r, r2) {
				if m.From != owner {
					t.Fatalf("removing %q moved %+v", owner, m)
				}
			}
			// Bounded load with arbitrary loads never hands out a full member.
			for i := range loads {
				loads[i] = int64(len(key)+i*int(points)) % 7
			}
			if _, i, err := r.LocateBounded(key, loads, 0.1); err != nil {
				t.Fatalf("LocateBounded: %v", err)
			} else {
				total, sumW := int64(1), 0.0
				for _, l := range loads {
					total += l
				}
				ms := r.Members()
				for _, m := range ms {
					sumW += m.Weight
				}
				if c := int64(math.Ceil((1 + 0.1) * float64(total) * ms[i].Weight / sumW)); loads[i]+1 > c {
					t.Fatalf("LocateBounded chose member %d with load %d, cap %d", i, loads[i], c)
				}
			}
		}
	})
}
