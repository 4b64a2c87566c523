package hashring

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 255, 256, 1000, 70000} {
		for _, shape := range []string{"random", "low bits only", "equal"} {
			v := make([]uint64, n)
			for i := range v {
				switch shape {
				case "random":
					v[i] = rng.Uint64()
				case "low bits only":
					v[i] = uint64(rng.IntN(1000))
				case "equal":
					v[i] = 42
				}
			}
			want := slices.Sorted(slices.Values(v))
			radixSort(v)
			if !slices.Equal(v, want) {
				t.Errorf("n=%d %s: not sorted like slices.Sort", n, shape)
			}
		}
	}
}
