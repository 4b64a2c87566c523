package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Episode is one fault injected during the fault workload.
type Episode struct {
	Name     string
	At, For  time.Duration // offset from the start of the run, length
	TierOnly bool          // needs several members (edge killed)
	begin    func() error
	end      func() error
}

// EpisodeResult is how viewers fared across one episode.
type EpisodeResult struct {
	Name         string
	FailedSegs   int // viewer-segments not obtained
	ViewersHit   int // viewers with at least one failed segment
	MaxPerViewer int // most failed segments of one viewer
	// Segments of the window that viewers did get: how late (last byte
	// behind publication). A proxy that retries upstream turns a failure
	// into a late segment.
	Behind Dist
	Err    string
}

// FaultResult is the whole fault workload for one target.
type FaultResult struct {
	Target      string
	Members     int
	Live        LiveResult
	Episodes    []EpisodeResult
	Outside     int // failed viewer-segments outside every episode's window
	CutPaths    int // bodies the origin cut mid-stream
	CutServedOK int // of those, re-fetched afterwards through every member complete and correct
	CutBad      []string
	Recovered   bool // every viewer got every segment of the last RecoverSegs segments
	RecoverSegs int
}

// episodes is the fault schedule: each fault, then time to recover.
func episodes(o Origin, t *Target, seg time.Duration) []Episode {
	s := func(n float64) time.Duration { return time.Duration(n * float64(seg)) }
	eps := []Episode{
		{Name: "origin killed, restarted after 1.25 segments", At: s(4), For: s(1.25),
			begin: o.Stop, end: o.Start},
		{Name: "origin answers 500 for 1 segment", At: s(9), For: s(1),
			begin: func() error { return o.SetFault(Fault500) }, end: func() error { return o.SetFault(FaultNone) }},
		{Name: "origin stalls mid-body then cuts it, for 1 segment", At: s(14), For: s(1),
			begin: func() error { return o.SetFault(FaultStall) }, end: func() error { return o.SetFault(FaultNone) }},
	}
	if t.Members() > 1 {
		victim := 1
		eps = append(eps, Episode{Name: "edge 2 of 3 killed (SIGKILL), restarted after 3 segments", At: s(19), For: s(3), TierOnly: true,
			begin: func() error { t.Kill(victim); return nil },
			end:   func() error { return t.Restart(context.Background(), victim) }})
	}
	return eps
}

// runFaults runs the live workload across the fault schedule, then checks
// that no cut body was cached and that the tier recovered.
func runFaults(ctx context.Context, t *Target, o Origin, cfg LiveConfig, tag string) FaultResult {
	seg := o.SegDur()
	eps := episodes(o, t, seg)
	last := eps[len(eps)-1]
	recoverSegs := 4
	// The run lasts past the last episode for the recovery window.
	cfg.Duration = last.At + last.For + time.Duration(recoverSegs+3)*seg
	res := FaultResult{Target: t.Name, Members: t.Members(), RecoverSegs: recoverSegs}
	for _, e := range eps {
		res.Episodes = append(res.Episodes, EpisodeResult{Name: e.Name})
	}

	start := time.Now()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		for i, e := range eps {
			if !sleepCtx(ctx, time.Until(start.Add(e.At))) {
				return
			}
			if err := e.begin(); err != nil {
				res.Episodes[i].Err = err.Error()
			}
			if !sleepCtx(ctx, e.For) {
				_ = e.end()
				return
			}
			if err := e.end(); err != nil {
				res.Episodes[i].Err = err.Error()
			}
		}
	}()
	var errs errLog
	outs, seq0 := liveViewers(ctx, t, o, cfg, tag, &errs)
	<-schedDone
	res.Live = summarizeLive(t.Name, o, cfg, tag, outs, seq0)
	res.Live.Errs = errs.top()

	// Attribute each failed segment to the episode whose window (from a
	// segment before it began to two segments after it ended) holds the
	// segment's publication time.
	window := func(pub time.Time) int {
		for i, e := range eps {
			if !pub.Before(start.Add(e.At-seg)) && pub.Before(start.Add(e.At+e.For+2*seg)) {
				return i
			}
		}
		return -1
	}
	behind := make([][]time.Duration, len(eps))
	for _, vo := range outs {
		per := make([]int, len(eps))
		for _, so := range vo {
			i := window(o.PubTime(so.seq))
			switch {
			case so.ok && i >= 0:
				behind[i] = append(behind[i], so.behind)
			case so.ok:
			case i >= 0:
				per[i]++
			default:
				res.Outside++
			}
		}
		for i, n := range per {
			if n > 0 {
				res.Episodes[i].ViewersHit++
				res.Episodes[i].FailedSegs += n
				res.Episodes[i].MaxPerViewer = max(res.Episodes[i].MaxPerViewer, n)
			}
		}
	}

	for i := range eps {
		res.Episodes[i].Behind = summarize(behind[i])
	}

	// Recovery: the last recoverSegs segments every viewer asked for.
	res.Recovered = true
	for _, vo := range outs {
		for _, so := range vo[max(0, len(vo)-recoverSegs):] {
			res.Recovered = res.Recovered && so.ok
		}
	}

	// A body the origin cut must never have been cached: every member
	// now serves it complete (fetching it again if need be).
	var cut []string
	for _, p := range o.CutPaths() {
		if strings.HasPrefix(p, "/live/"+tag+"_") {
			cut = append(cut, p)
		}
	}
	res.CutPaths = len(cut)
	for _, p := range cut {
		size := int64(-1)
		if _, r, _, err := parseLive(p); err == nil {
			size = o.LiveSize(r)
		}
		good := true
		for m := 0; m < t.Members(); m++ {
			c := &Conn{addr: t.Addr(m)}
			r := c.Get(ctx, p, size, 30*time.Second, true)
			c.Close()
			if !r.OK() {
				good = false
				res.CutBad = append(res.CutBad, fmt.Sprintf("%s via member %d: status %d %v (X-Cache %s)", p, m, r.Status, r.Err, r.Cache))
			}
		}
		if good {
			res.CutServedOK++
		}
	}
	return res
}
