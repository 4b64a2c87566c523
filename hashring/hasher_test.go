package hashring_test

import (
	"hash/crc32"
	"math"
	"strconv"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// TestCustomHasher checks that Options.Hasher replaces xxhash everywhere
// and that a 32-bit hash (entropy in the low bits only) still spreads keys,
// thanks to the fold.
func TestCustomHasher(t *testing.T) {
	calls := 0
	h := hashring.HashFunc(func(b []byte) uint64 {
		calls++
		return uint64(crc32.ChecksumIEEE(b))
	})
	opts := &hashring.Options{Hasher: h, PointsPerWeight: 256}
	ids := []string{"a", "b", "c", "d"}
	r, err := hashring.New(hashring.Uniform(ids...), opts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := hashring.NewMaglev(hashring.Uniform(ids...), opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("custom hasher was not used for member ids")
	}
	key := []byte("/live/channel1/seg_00000001.m4s")
	if got, want := r.Position(key), crc32.ChecksumIEEE(key); got != want {
		t.Errorf("Position with a 32-bit hash got %d want %d (the fold keeps low bits)", got, want)
	}
	if got, want := r.PositionString(string(key)), r.Position(key); got != want {
		t.Errorf("PositionString got %d want %d", got, want)
	}
	for _, l := range []hashring.Locator{r, g} {
		counts := map[string]int{}
		for i := range 40000 {
			k := "/vod/t/seg_" + strconv.Itoa(i)
			owner := l.LocateString(k)
			if owner != l.Locate([]byte(k)) {
				t.Fatalf("%T: Locate and LocateString disagree on %q", l, k)
			}
			counts[owner]++
		}
		for _, id := range ids {
			if share := float64(counts[id]) / 40000; math.Abs(share-0.25) > 0.08 {
				t.Errorf("%T: member %q got %.3f of keys with CRC-32, want about 0.25", l, id, share)
			}
		}
	}
}
