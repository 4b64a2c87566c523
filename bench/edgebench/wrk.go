package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
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
}

// HitResult is one wrk run against one cached object.
type HitResult struct {
	Target     string
	Size       int64
	Conns      int
	Requests   int64
	Seconds    float64
	ReqPerSec  float64
	GBPerSec   float64 // 10^9 body bytes per second
	CPUSeconds float64 // server process group, user + system
	CPUPerGB   float64
	Errors     int64 // socket errors + non-2xx
	Fetches    int   // origin fetches of the object after the run (1 = all hits)
	Err        string
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

// runHits warms each object into t's cache, then runs wrk against it at
// each connection count, charging the server's CPU time to the bytes sent.
func runHits(ctx context.Context, t *Target, o *Origin, cfg HitConfig, tag string) []HitResult {
	var out []HitResult
	for _, size := range cfg.Sizes {
		path := VODPath(fmt.Sprintf("hit%s%d", tag, size), size)
		// Two requests: the miss, then a hit that proves it is cached.
		for i := 0; i < 2; i++ {
			c := &Conn{addr: t.Addr(0)}
			c.Get(ctx, path, size, 30*time.Second, true)
			c.Close()
		}
		for _, conns := range cfg.Conns {
			r := HitResult{Target: t.Name, Size: size, Conns: conns}
			before := sampleGroups(t.PGIDs())
			args := []string{"-t", strconv.Itoa(cfg.Threads), "-c", strconv.Itoa(conns),
				"-d", fmt.Sprintf("%ds", int(cfg.Duration.Seconds())), "--timeout", "10s",
				"http://" + t.Addr(0) + path}
			outb, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
			after := sampleGroups(t.PGIDs())
			r.Fetches = o.Fetches(path)
			if err != nil {
				r.Err = fmt.Sprintf("wrk: %v: %s", err, strings.TrimSpace(string(outb)))
				out = append(out, r)
				continue
			}
			w, err := parseWrk(string(outb))
			if err != nil {
				r.Err = err.Error()
				out = append(out, r)
				continue
			}
			r.Requests, r.Seconds, r.Errors = w.requests, w.seconds, w.errors
			if w.seconds > 0 {
				r.ReqPerSec = float64(w.requests) / w.seconds
				r.GBPerSec = r.ReqPerSec * float64(size) / 1e9
			}
			r.CPUSeconds = (after.CPU - before.CPU).Seconds()
			if gb := float64(w.requests) * float64(size) / 1e9; gb > 0 {
				r.CPUPerGB = r.CPUSeconds / gb
			}
			out = append(out, r)
		}
	}
	return out
}
