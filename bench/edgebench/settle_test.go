package main

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestParseCPUStat(t *testing.T) {
	const stat = `cpu  100 5 50 800 40 3 2 0 7 0
cpu0 50 2 25 400 20 1 1 0 0 0
intr 12345
`
	got, err := parseCPUStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	// busy: user+nice+system+irq+softirq+steal = 100+5+50+3+2+0; idle and
	// iowait (800, 40) are not busy; guest (7) is already in user.
	if want := (cpuTimes{busy: 160, total: 1000}); got != want {
		t.Fatalf("parseCPUStat = %+v, want %+v", got, want)
	}
	next, _ := parseCPUStat("cpu  130 5 60 860 40 3 2 0 0 0\n")
	if b := busyShare(got, next); math.Abs(b-0.4) > 1e-9 { // 40 busy of 100
		t.Fatalf("busyShare = %v, want 0.4", b)
	}
	if b := busyShare(next, got); b != 0 {
		t.Fatalf("busyShare backwards = %v, want 0", b)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu  1 2 x 4 5\n"} {
		if _, err := parseCPUStat(bad); err == nil {
			t.Errorf("parseCPUStat(%q): no error", bad)
		}
	}
}

// TestSettle: a zero bound returns at once without measuring; a bound
// waits at least one sampling window and at most about the bound.
func TestSettle(t *testing.T) {
	if busy, waited := settle(context.Background(), 0); busy != -1 || waited != 0 {
		t.Fatalf("settle(0) = %v, %v; want -1, 0", busy, waited)
	}
	if _, err := readCPUTimes(); err != nil {
		t.Skipf("no /proc/stat: %v", err)
	}
	start := time.Now()
	busy, waited := settle(context.Background(), 2*time.Second)
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Fatalf("settle(2s) took %v (reported %v), want one to two 1 s windows", d, waited)
	}
	if busy < 0 || busy > 1 {
		t.Fatalf("settle busy share %v, want within [0, 1]", busy)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	settle(ctx, time.Minute)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("settle with a cancelled context took %v", d)
	}
}
