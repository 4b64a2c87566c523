package main

import (
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HitConfig shapes the hit-throughput workload.
type HitConfig struct {
	Sizes    []int64 // cached object sizes
	Conns    []int   // wrk connection counts
	Duration time.Duration
	Threads  int // wrk threads
	Reps     int // rounds over every (size, conns, target); medians are reported
}

// HitResult is one wrk run against one cached object.
type HitResult struct {
	Target       string
	Size         int64
	Conns        int
	Requests     int64
	Seconds      float64
	ReqPerSec    float64
	GBPerSec     float64 // 10^9 body bytes per second
	CPUSeconds   float64 // server process group, user + system
	CPUPerGB     float64
	Errors       int64 // socket errors + non-2xx
	Fetches      int   // origin fetches of the object after the run (1 = all hits)
	Err          string
	WritesPerReq float64 // the server's write/writev/sendfile calls per response
	Runs         int     // wrk runs this median is taken from
	Spread       string  // requests/s of every run, in run order
}

// wrkOut is what edgebench reads from wrk's report.
type wrkOut struct {
	requests int64
	seconds  float64
	errors   int64
}

var (
	wrkTotalRE = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m)`)
	wrkSockRE  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2RE  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads the summary lines of wrk 4's output.
func parseWrk(s string) (wrkOut, error) {
	var w wrkOut
	m := wrkTotalRE.FindStringSubmatch(s)
	if m == nil {
		return w, fmt.Errorf("edgebench: no request total in wrk output: %q", s)
	}
	w.requests, _ = strconv.ParseInt(m[1], 10, 64)
	v, _ := strconv.ParseFloat(m[2], 64)
	switch m[3] {
	case "us":
		v /= 1e6
	case "ms":
		v /= 1e3
	case "m":
		v *= 60
	}
	w.seconds = v
	if m := wrkSockRE.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			w.errors += n
		}
	}
	if m := wrkNon2RE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		w.errors += n
	}
	return w, nil
}

// hitPath is the cached object of size bytes for target tag.
func hitPath(tag string, size int64) string {
	return VODPath(fmt.Sprintf("hit%s%d", tag, size), size)
}

// warmHits puts each object into t's cache: the miss, then a hit, both
// checked byte for byte. wrk counts responses but never reads a body, so
// this is where a target that caches a wrong body is caught; an error
// means its throughput would not be worth measuring.
func warmHits(ctx context.Context, t *Target, cfg HitConfig, tag string) error {
	for _, size := range cfg.Sizes {
		for i := 0; i < 2; i++ {
			c := &Conn{addr: t.Addr(0)}
			r := c.Get(ctx, hitPath(tag, size), size, 30*time.Second, true)
			c.Close()
			if !r.OK() {
				return fmt.Errorf("warming %s (request %d): status %d: %v", hitPath(tag, size), i+1, r.Status, r.Err)
			}
		}
	}
	return nil
}

// runWrk runs wrk once against t's cached object of size bytes, charging
// the server's CPU time (its whole process group) to the bytes sent.
func runWrk(ctx context.Context, t *Target, o Origin, cfg HitConfig, size int64, conns int, tag string) HitResult {
	path := hitPath(tag, size)
	r := HitResult{Target: t.Name, Size: size, Conns: conns}
	before := sampleGroups(t.PGIDs())
	args := []string{"-t", strconv.Itoa(cfg.Threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(cfg.Duration.Seconds()))), "--timeout", "10s",
		"http://" + t.Addr(0) + path}
	outb, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	after := sampleGroups(t.PGIDs())
	r.Fetches = o.Fetches(path)
	if err != nil {
		r.Err = fmt.Sprintf("wrk: %v: %s", err, strings.TrimSpace(string(outb)))
		return r
	}
	w, err := parseWrk(string(outb))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Requests, r.Seconds, r.Errors = w.requests, w.seconds, w.errors
	if w.seconds > 0 {
		r.ReqPerSec = float64(w.requests) / w.seconds
		r.GBPerSec = r.ReqPerSec * float64(size) / 1e9
	}
	r.CPUSeconds = (after.CPU - before.CPU).Seconds()
	if w.requests > 0 {
		r.WritesPerReq = float64(after.SysCW-before.SysCW) / float64(w.requests)
	}
	if gb := float64(w.requests) * float64(size) / 1e9; gb > 0 {
		r.CPUPerGB = r.CPUSeconds / gb
	}
	return r
}

// medianHit returns the run with the median requests/s, with Spread
// listing every run's requests/s and Errors summed over the runs.
func medianHit(rs []HitResult) HitResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b HitResult) int { return cmp.Compare(a.ReqPerSec, b.ReqPerSec) })
	m := s[len(s)/2]
	var parts []string
	var errs int64
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.0f", r.ReqPerSec))
		errs += r.Errors
		if r.Err != "" && m.Err == "" {
			m.Err = r.Err
		}
	}
	m.Spread = strings.Join(parts, ", ")
	m.Errors = errs
	m.Runs = len(rs)
	return m
}
