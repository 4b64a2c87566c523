package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// runWorkload runs workload w against every target in specs, each started
// fresh (so caches and connections do not carry over) and stopped after.
// A target that fails to start or run is recorded in rep.NotMeasured for
// that workload; only a cancelled ctx stops the run.
func runWorkload(ctx context.Context, w string, opt *Options, env *Env, org Origin, specs []TargetSpec, rep *Report, stdout io.Writer) error {
	if w == "hits" {
		return runHitsAll(ctx, opt, env, org, specs, rep, stdout)
	}
	for _, spec := range specs {
		if w == "soak" && !slices.Contains(opt.SoakOn, spec.Name) {
			continue
		}
		members := 1
		if w == "faults" && spec.Name == "edgekit" {
			members = opt.Tier
		}
		note := settleNote(ctx, opt, spec.Name, w)
		fmt.Fprintf(stdout, "edgebench: %s %s (%s)\n", spec.Name, w, note)
		rep.Load = append(rep.Load, note)
		t, err := spec.Start(ctx, env, filepath.Join(opt.Work, w), members)
		if err != nil {
			notMeasured(rep, spec.Name, w, err, stdout)
			continue
		}
		err = runOne(ctx, w, opt, org, t, rep, stdout)
		t.Stop()
		if err != nil {
			notMeasured(rep, spec.Name, w, err, stdout)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// settleNote waits for the machine to settle (settle, bounded by
// opt.Settle) and returns what the report records about it as target's
// workload w starts.
func settleNote(ctx context.Context, opt *Options, target, w string) LoadNote {
	busy, waited := settle(ctx, opt.Settle)
	return LoadNote{Target: target, Workload: w, Before: loadavg(), Busy: busy, Waited: waited.Round(time.Second)}
}

func notMeasured(rep *Report, target, w string, err error, stdout io.Writer) {
	rep.NotMeasured[target+" "+w] = err.Error()
	fmt.Fprintf(stdout, "edgebench: %s %s not measured: %v\n", target, w, err)
}

// runOne runs workload w (not hits) against the started target t.
func runOne(ctx context.Context, w string, opt *Options, org Origin, t *Target, rep *Report, stdout io.Writer) error {
	tag := t.Name
	switch w {
	case "herd":
		r, err := runHerd(ctx, t, org, opt.Herd, tag)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  herd %d: origin fetches %d, TTFB p50 %s p99 %s max %s ms (lone %s), TTLB p50 %s p99 %s ms, server CPU %.1f s, client CPU %.1f s, errors %d %s\n",
			r.N, r.OriginFetches, ms(r.TTFB.P50), ms(r.TTFB.P99), ms(r.TTFB.Max), ms(r.LoneTTFB), ms(r.TTLB.P50), ms(r.TTLB.P99), r.ServerCPU.Seconds(), r.ClientCPU.Seconds(), r.Errors, r.ErrSample)
		if r.OriginTimed {
			fmt.Fprintf(stdout, "  herd origin: request %s ms after release, first byte %s ms after the request (lone %s ms), first head at a client %s ms after release\n",
				ms(r.OriginArrive), ms(r.OriginAnswer), ms(r.LoneOriginAnswer), ms(r.FirstHead))
		}
		rep.Herd = append(rep.Herd, r)
	case "live":
		r := runLive(ctx, t, org, opt.Live, tag+"L")
		fmt.Fprintf(stdout, "  live %d viewers: fetches/segment max %d mean %.2f, behind p50 %s p99 %s ms, failed segs %d, req errors %d %v\n",
			r.Viewers, r.FetchMax, r.FetchMean, ms(r.Behind.P50), ms(r.Behind.P99), r.FailedSegs, r.ReqErrors, firstN(r.Errs, 3))
		rep.Live = append(rep.Live, r)
	case "soak":
		r := runSoak(ctx, t, org, opt.Soak, opt.SoakEvery, tag+"S")
		first, last := r.Samples[0], r.Samples[len(r.Samples)-1]
		fmt.Fprintf(stdout, "  soak %v: RSS %d→%d MiB, fds %d→%d, threads %d→%d, goroutines %.0f→%.0f, failed segs %d\n",
			opt.Soak.Duration, first.RSS>>20, last.RSS>>20, first.FDs, last.FDs, first.Threads, last.Threads, first.Goroutines, last.Goroutines, r.Live.FailedSegs)
		rep.Soak = append(rep.Soak, SoakReport{Target: t.Name, SoakResult: r})
	case "faults":
		r := runFaults(ctx, t, org, opt.Fault, tag+"F")
		fmt.Fprintf(stdout, "  faults (%d members): failed segs %d, outside episodes %d, cut bodies %d re-served complete %d, recovered %v\n",
			r.Members, r.Live.FailedSegs, r.Outside, r.CutPaths, r.CutServedOK, r.Recovered)
		for _, e := range r.Episodes {
			fmt.Fprintf(stdout, "    %s: failed segs %d, viewers hit %d, max per viewer %d %s\n", e.Name, e.FailedSegs, e.ViewersHit, e.MaxPerViewer, e.Err)
		}
		rep.Faults = append(rep.Faults, r)
	default:
		return fmt.Errorf("unknown workload %q", w)
	}
	return nil
}

// runHitsAll starts every hit target at once and runs wrk against them in
// turn, configuration by configuration, opt.HitReps times over, so that
// each comparison is between runs seconds apart on a shared machine.
func runHitsAll(ctx context.Context, opt *Options, env *Env, org Origin, specs []TargetSpec, rep *Report, stdout io.Writer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not on PATH (apt-get install wrk)")
	}
	var targets []*Target
	defer func() {
		for _, t := range targets {
			t.Stop()
		}
	}()
	for _, spec := range specs {
		if !slices.Contains(opt.HitTargets, spec.Name) {
			continue
		}
		t, err := spec.Start(ctx, env, filepath.Join(opt.Work, "hits"), 1)
		if err != nil {
			notMeasured(rep, spec.Name, "hits", err, stdout)
			continue
		}
		targets = append(targets, t)
	}
	note := settleNote(ctx, opt, "all", "hits")
	fmt.Fprintf(stdout, "edgebench: hits, %d targets, %d rounds (%s)\n", len(targets), opt.Hits.Reps, note)
	rep.Load = append(rep.Load, note)
	warm := targets[:0:0]
	for _, t := range targets {
		if err := warmHits(ctx, t, opt.Hits, t.Name); err != nil {
			notMeasured(rep, t.Name, "hits", err, stdout)
			continue
		}
		warm = append(warm, t)
	}
	runs := map[string][]HitResult{}
	var order []string
	for rep := 0; rep < opt.Hits.Reps; rep++ {
		for _, size := range opt.Hits.Sizes {
			for _, conns := range opt.Hits.Conns {
				for _, t := range warm {
					r := runWrk(ctx, t, org, opt.Hits, size, conns, t.Name)
					k := fmt.Sprintf("%s/%d/%d", t.Name, size, conns)
					if _, ok := runs[k]; !ok {
						order = append(order, k)
					}
					runs[k] = append(runs[k], r)
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
			}
		}
	}
	for _, k := range order {
		r := medianHit(runs[k])
		fmt.Fprintf(stdout, "  hits %s %d B × %d conns: %.0f req/s (runs %s), %.2f GB/s, %.2f CPU s/GB, errors %d, origin fetches %d %s\n",
			r.Target, r.Size, r.Conns, r.ReqPerSec, r.Spread, r.GBPerSec, r.CPUPerGB, r.Errors, r.Fetches, r.Err)
		rep.Hits = append(rep.Hits, r)
	}
	return nil
}
