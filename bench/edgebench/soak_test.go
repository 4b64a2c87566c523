package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestSoakEdgekit holds a steady live load on examples/edge for
// $EDGEBENCH_SOAK (CI sets 5m; run.sh long soaks for 30 min) and fails
// when the server's RSS, open files, threads or goroutines climb, or a
// viewer misses a segment. Without the variable it skips: a soak is a
// long mode, not a missing peer.
func TestSoakEdgekit(t *testing.T) {
	v := os.Getenv("EDGEBENCH_SOAK")
	if v == "" {
		t.Skip("EDGEBENCH_SOAK is not set (e.g. EDGEBENCH_SOAK=5m; .ci/run sets it)")
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 40*time.Second {
		t.Fatalf("EDGEBENCH_SOAK=%q: want a duration of at least 40s", v)
	}
	seg := time.Second
	// A 10 s live window: the cache's files for it stop growing after
	// 10 s, so a climb after that is a leak, not warm-up.
	o := testOrigin(t, seg, 10*time.Second)
	tg := startEdge(t, o, 1)
	cfg := LiveConfig{Viewers: 100, Duration: dur, Channels: 3, Renditions: 2, Spread: 100 * time.Millisecond,
		Timeout: 5 * time.Second, Retry: 100 * time.Millisecond, Verify: true, Seed: 3}
	res := runSoak(context.Background(), tg, o, cfg, dur/40, "soak")
	s := res.Samples
	if len(s) < 20 {
		t.Fatalf("got %d samples over %v, want at least 20", len(s), dur)
	}
	var rss, fds, thr, gor []float64
	for _, x := range s {
		rss = append(rss, float64(x.RSS))
		fds = append(fds, float64(x.FDs))
		thr = append(thr, float64(x.Threads))
		gor = append(gor, x.Goroutines)
	}
	t.Logf("%d viewers for %v: %d segments, %d requests, fetches/segment max %d mean %.3f, behind publication p99 %s ms",
		cfg.Viewers, dur, res.Live.Segments, res.Live.Requests, res.Live.FetchMax, res.Live.FetchMean, ms(res.Live.Behind.P99))
	first, last := s[0], s[len(s)-1]
	t.Logf("RSS %d -> %d KiB, fds %d -> %d, threads %d -> %d, goroutines %.0f -> %.0f",
		first.RSS>>10, last.RSS>>10, first.FDs, last.FDs, first.Threads, last.Threads, first.Goroutines, last.Goroutines)
	if res.Live.Segments == 0 || res.Live.FailedSegs != 0 || res.Live.ReqErrors != 0 || res.Live.Timeouts != 0 {
		t.Errorf("got %d segments, %d failed viewer-segments, %d request errors, %d timeouts (%v); want >0, 0, 0, 0",
			res.Live.Segments, res.Live.FailedSegs, res.Live.ReqErrors, res.Live.Timeouts, res.Live.Errs)
	}
	// Flat means the last quarter of the run is no higher than the second
	// quarter (the first is warm-up) beyond the GC's sawtooth for RSS and
	// a little slack for descriptors and goroutines that come and go with
	// viewer requests in flight.
	for _, c := range []struct {
		name  string
		curve []float64
		limit float64
	}{
		{"RSS", rss, 1.5},
		{"open files", fds, 1.15},
		{"threads", thr, 1.5},
		{"goroutines", gor, 1.15},
	} {
		if c.name == "goroutines" && first.Goroutines < 0 {
			t.Errorf("examples/edge /metrics has no go_goroutines; the goroutine curve cannot be checked")
			continue
		}
		if d := drift(c.curve); d == 0 || d > c.limit {
			t.Errorf("%s drift (last quarter / second quarter) %.3f, want in (0, %.2f]", c.name, d, c.limit)
		} else {
			t.Logf("%s drift %.3f (limit %.2f)", c.name, d, c.limit)
		}
	}
}
