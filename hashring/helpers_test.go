package hashring_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// seed returns the seed for a randomized test: $HASHRING_SEED if set (to
// replay a failure), else the clock. It logs it either way.
func seed(t testing.TB) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("HASHRING_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("HASHRING_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with HASHRING_SEED=%d)", s, s)
	return s
}

// randomIDs returns n distinct member ids of varied shapes.
func randomIDs(rng *rand.Rand, n int) []string {
	seen := make(map[string]bool, n)
	ids := make([]string, 0, n)
	for len(ids) < n {
		var id string
		switch rng.IntN(3) {
		case 0:
			id = fmt.Sprintf("10.%d.%d.%d:8080", rng.IntN(256), rng.IntN(256), rng.IntN(256))
		case 1:
			id = fmt.Sprintf("edge-%x.pop%d.example.net", rng.Uint32(), rng.IntN(40))
		default:
			id = fmt.Sprintf("node%d", rng.Uint64())
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// keyCount is the number of keys a balance test hashes: the 1M,
// or 100k under -race or -short so CI stays quick.
func keyCount() int {
	if raceEnabled || testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func testKey(buf []byte, seed uint64, i int) []byte {
	return fmt.Appendf(buf[:0], "/vod/%x/seg_%08d.m4s", seed&0xffff, i)
}
