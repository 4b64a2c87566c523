package main

import (
	"context"
	"time"
)

// SoakSample is one point of the soak curves.
type SoakSample struct {
	ProcSample
	Goroutines float64 // go_goroutines from /metrics; -1 when not exposed
}

// SoakResult is a steady live load held for a long time, with the
// server's resources sampled along the way.
type SoakResult struct {
	Live    LiveResult
	Samples []SoakSample
}

// runSoak runs the live workload for cfg.Duration while sampling t's
// process groups every every.
func runSoak(ctx context.Context, t *Target, o Origin, cfg LiveConfig, every time.Duration, tag string) SoakResult {
	var res SoakResult
	start := time.Now()
	done := make(chan struct{})
	samples := make(chan []SoakSample, 1)
	go func() {
		var s []SoakSample
		tick := time.NewTicker(every)
		defer tick.Stop()
		take := func() {
			p := sampleGroups(t.PGIDs())
			p.At = time.Since(start)
			g := -1.0
			if v, ok := metric(ctx, "http://"+t.Addr(0)+"/metrics", "go_goroutines"); ok {
				g = v
			}
			s = append(s, SoakSample{ProcSample: p, Goroutines: g})
		}
		take()
		for {
			select {
			case <-tick.C:
				take()
			case <-done:
				take()
				samples <- s
				return
			}
		}
	}()
	res.Live = runLive(ctx, t, o, cfg, tag)
	close(done)
	res.Samples = <-samples
	return res
}

// drift compares the last quarter of a curve with its second quarter (the
// first quarter is warm-up) and returns last/second; 1 is flat.
func drift(v []float64) float64 {
	n := len(v)
	if n < 8 {
		return 0
	}
	avg := func(s []float64) float64 {
		t := 0.0
		for _, x := range s {
			t += x
		}
		return t / float64(len(s))
	}
	a := avg(v[n/4 : n/2])
	b := avg(v[3*n/4:])
	if a == 0 {
		return 0
	}
	return b / a
}
