package coalesce_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/coalesce/internal/fakeclock"
)

// TestMain fails the package if any test leaves a goroutine behind: no
// flight, fill, timer or watcher may outlive the calls that made it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// epoch is where fake clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newClock() *fakeclock.Clock { return fakeclock.New(epoch) }

// envSeed returns COALESCE_SEED, or 0 when unset.
func envSeed() uint64 {
	v, _ := strconv.ParseUint(os.Getenv("COALESCE_SEED"), 10, 64)
	return v
}
