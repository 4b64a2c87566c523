package coalesce_test

import (
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

// eventually polls cond until it holds, failing the test after a generous
// bound. It waits for other goroutines to reach a state; it never asserts
// how long anything took.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
