package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Report is everything one run measured.
type Report struct {
	Command     string
	Options     *Options
	Machine     Machine
	Started     time.Time
	Finished    time.Time
	LoadEnd     string
	Load        []LoadNote
	NotMeasured map[string]string
	Leftovers   []Leftover // servers or ports of stopped targets still there at the end
	Herd        []HerdResult
	Live        []LiveResult
	Hits        []HitResult
	Soak        []SoakReport
	Faults      []FaultResult
}

// LoadNote is the state of the machine as a workload started: the load
// average, and (with -settle) the busy share of the CPUs in the last second
// and how long the harness waited for it to fall.
type LoadNote struct {
	Target, Workload, Before string
	Busy                     float64       // -1: not measured
	Waited                   time.Duration // spent waiting to settle
}

// String is the note as the report and the progress lines print it.
func (n LoadNote) String() string {
	if n.Busy < 0 {
		return "load " + n.Before
	}
	return fmt.Sprintf("load %s, CPUs %.0f%% busy after %v", n.Before, 100*n.Busy, n.Waited)
}

// SoakReport is one target's soak.
type SoakReport struct {
	Target string
	SoakResult
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int
	CPUModel string
	Go       string
	Kernel   string
	Peers    map[string]string
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Peers: map[string]string{}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	for name, argv := range map[string][]string{
		"nginx": {"nginx", "-v"}, "varnish": {"varnishd", "-V"}, "ats": {"traffic_server", "-V"}, "wrk": {"wrk", "-v"},
	} {
		out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if l := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]); l != "" {
			m.Peers[name] = l
		}
	}
	return m
}

// Write writes report.md, results.json and the plots into dir.
func (r *Report) Write(dir string) error {
	if err := writeJSON(filepath.Join(dir, "results.json"), r); err != nil {
		return err
	}
	var plots []string
	if len(r.Herd) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "edge-herd.svg"), herdPlot(r.Herd), 0o644); err != nil {
			return err
		}
		plots = append(plots, "edge-herd.svg")
	}
	if len(r.Hits) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "edge-hits.svg"), hitsPlot(r.Hits), 0o644); err != nil {
			return err
		}
		plots = append(plots, "edge-hits.svg")
	}
	for _, s := range r.Soak {
		name := "edge-soak-" + s.Target + ".svg"
		if err := os.WriteFile(filepath.Join(dir, name), soakPlot(s), 0o644); err != nil {
			return err
		}
		plots = append(plots, name)
	}
	var b bytes.Buffer
	r.markdown(&b, plots)
	return os.WriteFile(filepath.Join(dir, "report.md"), b.Bytes(), 0o644)
}

// originWhere says where the synthetic origin ran.
func originWhere(o *Options) string {
	if o.OriginInProc {
		return "in the clients' process"
	}
	return "in its own process"
}

func (r *Report) markdown(b *bytes.Buffer, plots []string) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	o := r.Options
	p("Command: `%s` (mode %s, seed %d)\n\n", r.Command, o.Mode, o.Seed)
	p("Machine: %d CPUs (%s), kernel %s, %s. Peers: %s. Started %s, finished %s; load average at the end %s.\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel, r.Machine.Go, peerList(r.Machine.Peers),
		r.Started.Format(time.RFC3339), r.Finished.Format(time.RFC3339), r.LoadEnd)
	p("Synthetic origin (%s): %v to first byte, %.1f MiB/s for herd/hit objects; live segments every %v, renditions %v bit/s, %v to first byte, %.0f MiB/s.\n\n",
		originWhere(o), o.Origin.TTFB, float64(o.Origin.Rate)/(1<<20), o.Origin.SegDur, o.Origin.Bitrates, o.Origin.LiveTTFB, float64(o.Origin.LiveRate)/(1<<20))
	if o.PinServer != "" || o.PinClient != "" {
		p("Pinned (taskset): servers to CPUs %q, edgebench (clients, origin process, wrk) to CPUs %q (empty: not pinned).\n\n", o.PinServer, o.PinClient)
	}
	for name, why := range r.NotMeasured {
		p("**%s not measured:** %s\n\n", name, why)
	}
	for _, l := range r.Leftovers {
		p("**Left running after the run:** %s\n\n", l)
	}
	if len(r.Herd) > 0 {
		h := o.Herd
		p("### Thundering herd: %d concurrent requests for one uncached %d-byte object\n\n", h.N, h.Size)
		p("| target | origin fetches | lone TTFB ms | TTFB p50 | p99 | max | p99 / lone | TTLB p50 | p99 | max | errors | server CPU s |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Herd {
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %.1f |\n", x.Target, x.OriginFetches, ms(x.LoneTTFB),
				ms(x.TTFB.P50), ms(x.TTFB.P99), ms(x.TTFB.Max), ratio(float64(x.TTFB.P99), float64(x.LoneTTFB)),
				ms(x.TTLB.P50), ms(x.TTLB.P99), ms(x.TTLB.Max), x.Errors, x.ServerCPU.Seconds())
		}
		p("\n")
		for _, x := range r.Herd {
			p("- %s: last request written %s ms after the burst was released (client-side lag; TTFB is timed from each request's own write); server write/writev/sendfile calls %d (%.1f per response); client CPU %.1f s; X-Cache %v",
				x.Target, ms(x.SendSpread), x.WriteCalls, float64(x.WriteCalls)/float64(max(1, x.N)), x.ClientCPU.Seconds(), x.Cache)
			if x.OriginTimed {
				p("; origin (%s) got the fetch %s ms after the burst was released and flushed its first byte %s ms later (lone requests: %s ms); first head at a client %s ms after release",
					originWhere(o), ms(x.OriginArrive), ms(x.OriginAnswer), ms(x.LoneOriginAnswer), ms(x.FirstHead))
			}
			if x.ErrSample != "" {
				p("; errors, e.g. %s", x.ErrSample)
			}
			p("\n")
		}
		p("\n")
	}
	if len(r.Live) > 0 {
		l := o.Live
		p("### Live following: %d viewers, %d channels × %d renditions, %v\n\n", l.Viewers, l.Channels, l.Renditions, l.Duration)
		p("| target | segments | requests | origin fetches/segment max | mean | segments >1 | last byte behind publication p50 ms | p99 | max | first byte behind p99 | failed segments | request errors | timeouts | server CPU s per GB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Live {
			cpg := 0.0
			if x.BytesOK > 0 {
				cpg = x.ServerCPU.Seconds() / (float64(x.BytesOK) / 1e9)
			}
			p("| %s | %d | %d | %d | %.2f | %d | %s | %s | %s | %s | %d | %d | %d | %.2f |\n", x.Target, x.Segments, x.Requests, x.FetchMax, x.FetchMean, x.SegsOverOne,
				ms(x.Behind.P50), ms(x.Behind.P99), ms(x.Behind.Max), ms(x.TTFBBehind.P99), x.FailedSegs, x.ReqErrors, x.Timeouts, cpg)
		}
		p("\n")
		for _, x := range r.Live {
			if len(x.Errs) > 0 {
				p("- %s request errors, most frequent first: %s\n", x.Target, strings.Join(firstN(x.Errs, 3), "; "))
			}
		}
		p("\n")
	}
	if len(r.Hits) > 0 {
		p("### Hit throughput: wrk -t%d, %v per run, cached objects\n\n", o.Hits.Threads, o.Hits.Duration)
		p("| target | size | conns | req/s (median) | every run | GB/s | server CPU s | CPU s per GB | vs nginx GB/s | write calls per response | errors | origin fetches |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range r.Hits {
			vs := "–"
			for _, n := range r.Hits {
				if n.Target == "nginx" && n.Size == x.Size && n.Conns == x.Conns {
					vs = ratio(x.GBPerSec, n.GBPerSec)
				}
			}
			if x.Err != "" {
				p("| %s | %d | %d | error: %s | | | | | | | | |\n", x.Target, x.Size, x.Conns, x.Err)
				continue
			}
			p("| %s | %d | %d | %.0f | %s | %.2f | %.1f | %.2f | %s | %.1f | %d | %d |\n", x.Target, x.Size, x.Conns, x.ReqPerSec, x.Spread, x.GBPerSec, x.CPUSeconds, x.CPUPerGB, vs, x.WritesPerReq, x.Errors, x.Fetches)
		}
		p("\n")
	}
	for _, s := range r.Soak {
		p("### Soak: %s, %d viewers for %v\n\n", s.Target, o.Soak.Viewers, o.Soak.Duration)
		rss, fds, thr, gor := soakSeries(s.Samples)
		p("Drift (mean of the last quarter / mean of the second quarter; 1.00 is flat): RSS %.2f, open files %.2f, threads %.2f", drift(rss), drift(fds), drift(thr))
		if gor[0] >= 0 {
			p(", goroutines %.2f", drift(gor))
		}
		p(". Failed segments %d, request errors %d, timeouts %d, origin fetches/segment max %d.\n\n", s.Live.FailedSegs, s.Live.ReqErrors, s.Live.Timeouts, s.Live.FetchMax)
		p("| t | RSS MiB | open files | threads | goroutines | CPU s |\n|---|---|---|---|---|---|\n")
		step := max(1, len(s.Samples)/20)
		for i, x := range s.Samples {
			if i%step != 0 && i != len(s.Samples)-1 {
				continue
			}
			g := "n/a"
			if x.Goroutines >= 0 {
				g = fmt.Sprintf("%.0f", x.Goroutines)
			}
			p("| %v | %.1f | %d | %d | %s | %.1f |\n", x.At.Round(time.Second), float64(x.RSS)/(1<<20), x.FDs, x.Threads, g, x.CPU.Seconds())
		}
		p("\n")
	}
	if len(r.Faults) > 0 {
		p("### Faults during load: %d viewers\n\n", o.Fault.Viewers)
		p("| target | members | episode | failed viewer-segments | viewers hit | max failed per viewer | segments got: behind publication p99 ms | max |\n|---|---|---|---|---|---|---|---|\n")
		for _, f := range r.Faults {
			for _, e := range f.Episodes {
				extra := ""
				if e.Err != "" {
					extra = " (" + e.Err + ")"
				}
				p("| %s | %d | %s%s | %d | %d | %d | %s | %s |\n", f.Target, f.Members, e.Name, extra, e.FailedSegs, e.ViewersHit, e.MaxPerViewer, ms(e.Behind.P99), ms(e.Behind.Max))
			}
		}
		p("\n| target | failed outside episodes | request timeouts (hung) | cut bodies | re-served complete by every member | recovered (last %d segments all OK) | origin fetches/segment max |\n|---|---|---|---|---|---|---|\n", r.Faults[0].RecoverSegs)
		for _, f := range r.Faults {
			p("| %s | %d | %d | %d | %d | %v | %d |\n", f.Target, f.Outside, f.Live.Timeouts, f.CutPaths, f.CutServedOK, f.Recovered, f.Live.FetchMax)
		}
		p("\n")
		for _, f := range r.Faults {
			for _, c := range f.CutBad {
				p("- %s: cut body served wrong: %s\n", f.Target, c)
			}
			if len(f.Live.Errs) > 0 {
				p("- %s: request errors during faults, most frequent first: %s\n", f.Target, strings.Join(firstN(f.Live.Errs, 4), "; "))
			}
		}
		p("\n")
	}
	if len(r.Load) > 0 {
		p("Load average (1, 5, 15 min) as each workload started, and with -settle the CPUs' busy share in the second before it and the wait for that: ")
		var l []string
		for _, x := range r.Load {
			l = append(l, fmt.Sprintf("%s/%s %s", x.Target, x.Workload, x))
		}
		p("%s.\n\n", strings.Join(l, "; "))
	}
	for _, pl := range plots {
		p("![%s](%s)\n\n", pl, pl)
	}
}

func peerList(m map[string]string) string {
	var l []string
	for _, k := range []string{"nginx", "varnish", "ats", "wrk"} {
		if v, ok := m[k]; ok {
			l = append(l, v)
		}
	}
	return strings.Join(l, "; ")
}

func soakSeries(s []SoakSample) (rss, fds, thr, gor []float64) {
	for _, x := range s {
		rss = append(rss, float64(x.RSS)/(1<<20))
		fds = append(fds, float64(x.FDs))
		thr = append(thr, float64(x.Threads))
		gor = append(gor, x.Goroutines)
	}
	return
}
