package ktls_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSeed returns a fresh seed for random test data, or KTLS_SEED when set,
// and logs it so a failure can be replayed.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("KTLS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with KTLS_SEED=%d)", seed, seed)
	return seed
}
