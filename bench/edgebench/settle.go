package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Before each target's workload the harness waits for the machine to
// settle: a server stopped a moment ago (Varnish runs a thread per waiting
// client; ATS and the herd's clients leave work behind) must not bill the
// next target for its tail. The load average cannot tell: it lags by a
// minute and counted Varnish's threads long after they had exited (163 at
// the start of a live run that began on an idle machine). settle samples
// the CPUs' busy share over one-second windows instead, from /proc/stat,
// until a window is below settleBusy or the -settle bound passes.

// settleBusy is the busy share of all CPUs below which a one-second window
// counts as settled.
const settleBusy = 0.25

// cpuTimes is the aggregate "cpu" line of /proc/stat: busy and total jiffies.
type cpuTimes struct{ busy, total uint64 }

// parseCPUStat reads the aggregate cpu line of a /proc/stat text. Busy is
// everything but idle and iowait.
func parseCPUStat(stat string) (cpuTimes, error) {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, s := range f[1:] {
			if i >= 8 { // guest and guest_nice are already in user and nice
				break
			}
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("/proc/stat: cpu field %d: %v", i+1, err)
			}
			t.total += n
			if i != 3 && i != 4 { // idle, iowait
				t.busy += n
			}
		}
		return t, nil
	}
	return cpuTimes{}, fmt.Errorf("/proc/stat: no aggregate cpu line")
}

// busyShare is the busy fraction of the CPUs between two samples.
func busyShare(a, b cpuTimes) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUStat(string(b))
}

// settle waits until one second of the machine's CPU time was less than
// settleBusy busy, or limit has passed, or ctx ends. It returns the last
// window's busy share (-1 where /proc/stat is unreadable) and how long it
// waited. A limit of 0 returns at once.
func settle(ctx context.Context, limit time.Duration) (busy float64, waited time.Duration) {
	start := time.Now()
	if limit <= 0 {
		return -1, 0
	}
	prev, err := readCPUTimes()
	if err != nil {
		return -1, 0
	}
	for {
		if !sleepCtx(ctx, time.Second) {
			return busy, time.Since(start)
		}
		cur, err := readCPUTimes()
		if err != nil {
			return -1, time.Since(start)
		}
		busy, prev = busyShare(prev, cur), cur
		if busy < settleBusy || time.Since(start) >= limit {
			return busy, time.Since(start)
		}
	}
}
