package cassandra

import (
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// hedgePolicy is the driver's speculative execution with the number of
// extra attempts capped by the hosts that could take one. The driver gives
// each hedge the next host of the query plan; when there is none it
// finishes the hedge at once with "no hosts available", and that error can
// win the race against the real answer still on its way (seen on a
// one-node cluster). Counting the hosts that are up keeps every hedge on a
// host of its own.
type hedgePolicy struct {
	attempts int
	delay    time.Duration
	session  *gocql.Session
}

func (h *hedgePolicy) Delay() time.Duration { return h.delay }

// Attempts returns the extra executions the driver may start for one
// statement: the configured number, at most one fewer than the hosts up.
func (h *hedgePolicy) Attempts() int {
	up := 0
	for _, host := range h.session.GetHosts() {
		if host.IsUp() {
			up++
		}
	}
	return max(0, min(h.attempts, up-1))
}
