package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// HerdConfig shapes the thundering-herd workload.
type HerdConfig struct {
	N           int           // concurrent requests, connections opened first
	Size        int64         // body size of the one uncached object
	Lone        int           // lone requests (fresh objects) for the baseline
	Timeout     time.Duration // per request, to the last byte
	VerifyEvery int           // check every body byte of 1 in VerifyEvery responses (the rest: length only)
	DialPar     int           // concurrent dials while opening the herd's connections
}

// HerdResult is what one target did with the herd.
type HerdResult struct {
	Target        string
	N             int
	OriginFetches int
	LoneTTFB      time.Duration // median of the lone requests
	LoneTTLB      time.Duration
	LoneFetches   int // origin fetches per lone request (max)
	TTFB, TTLB    Dist
	TTFBs         []time.Duration // sorted, for the plot
	Errors        int
	ErrSample     string
	Cache         map[string]int // X-Cache values seen
	ServerCPU     time.Duration  // the server's CPU time (user+system) from burst to last byte
	SendSpread    time.Duration  // gate release → last request written (client-side lag)
	WriteCalls    int64          // the server's write/writev/sendfile calls during the burst (sendmsg is not counted by Linux)
	ClientCPU     time.Duration  // this process's CPU time over the burst (the clients share the machine)

	// The origin's own clock for the herd's one fetch (the first, if
	// several), so that a late origin shows apart from a slow server:
	// OriginArrive is burst release → the origin's handler has the
	// request; OriginAnswer is that → its head and first body bytes
	// flushed (the configured TTFB plus any lateness of its timer);
	// FirstHead is burst release → the earliest head any client got.
	// LoneOriginAnswer is OriginAnswer's median over the lone requests.
	OriginArrive, OriginAnswer, FirstHead time.Duration
	LoneOriginAnswer                      time.Duration
	OriginTimed                           bool // the origin reported the herd fetch's timing
}

// runHerd measures lone requests, then N requests for one new object
// released at once over connections that were all open beforehand.
func runHerd(ctx context.Context, t *Target, o Origin, cfg HerdConfig, tag string) (HerdResult, error) {
	res := HerdResult{Target: t.Name, N: cfg.N, Cache: map[string]int{}}
	var loneF, loneL, loneA []time.Duration
	for i := 0; i < cfg.Lone; i++ {
		p := VODPath(fmt.Sprintf("lone%s%d", tag, i), cfg.Size)
		c := &Conn{addr: t.Addr(0)}
		r := c.Get(ctx, p, cfg.Size, cfg.Timeout, true)
		c.Close()
		if !r.OK() {
			return res, fmt.Errorf("lone request %s: status %d: %v", p, r.Status, r.Err)
		}
		loneF = append(loneF, r.TTFB)
		loneL = append(loneL, r.TTLB)
		res.LoneFetches = max(res.LoneFetches, o.Fetches(p))
		if ft, ok := o.FirstFetch(p); ok && !ft.FirstByte.IsZero() {
			loneA = append(loneA, ft.FirstByte.Sub(ft.Arrived))
		}
	}
	res.LoneTTFB, res.LoneTTLB = median(loneF), median(loneL)
	if len(loneA) > 0 {
		res.LoneOriginAnswer = median(loneA)
	}

	conns, err := dialAll(ctx, t, cfg.N, cfg.DialPar)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	path := VODPath("herd"+tag, cfg.Size)
	results := make([]Result, cfg.N)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(cfg.N)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-gate
			verify := cfg.VerifyEvery > 0 && i%cfg.VerifyEvery == 0
			results[i] = conns[i].Get(ctx, path, cfg.Size, cfg.Timeout, verify)
		}()
	}
	ready.Wait()
	// Let every goroutine park on the gate before releasing the burst.
	time.Sleep(50 * time.Millisecond)
	before := sampleGroups(t.PGIDs())
	self, _ := readStat(os.Getpid())
	released := time.Now()
	close(gate)
	wg.Wait()
	after := sampleGroups(t.PGIDs())
	res.ServerCPU, res.WriteCalls = after.CPU-before.CPU, after.SysCW-before.SysCW
	if self2, ok := readStat(os.Getpid()); ok {
		res.ClientCPU = time.Duration(self2.utime+self2.stime-self.utime-self.stime) * time.Second / clockTick
	}

	res.OriginFetches = o.Fetches(path)
	if ft, ok := o.FirstFetch(path); ok && !ft.FirstByte.IsZero() {
		// Wall clock on both sides: released carries a monotonic
		// reading, ft does not, so Sub compares wall times.
		res.OriginArrive, res.OriginAnswer, res.OriginTimed = ft.Arrived.Sub(released), ft.FirstByte.Sub(ft.Arrived), true
	}
	var ttfb, ttlb []time.Duration
	res.FirstHead = -1
	for _, r := range results {
		res.SendSpread = max(res.SendSpread, r.Start.Sub(released))
		if r.Status != 0 {
			if h := r.Start.Add(r.TTFB).Sub(released); res.FirstHead < 0 || h < res.FirstHead {
				res.FirstHead = h
			}
		}
		res.Cache[r.Cache]++
		if !r.OK() {
			res.Errors++
			if res.ErrSample == "" {
				res.ErrSample = fmt.Sprintf("status %d: %v", r.Status, r.Err)
			}
			continue
		}
		ttfb = append(ttfb, r.TTFB)
		ttlb = append(ttlb, r.TTLB)
	}
	res.TTFB, res.TTLB = summarize(ttfb), summarize(ttlb)
	res.TTFBs = ttfb
	return res, nil
}

// dialAll opens n connections to t (spread over its members), at most par
// at a time so the listen backlog never overflows.
func dialAll(ctx context.Context, t *Target, n, par int) ([]*Conn, error) {
	if par <= 0 {
		par = 128
	}
	conns := make([]*Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for try := 0; try < 5; try++ {
				var c *Conn
				if c, err = Dial(ctx, t.Addr(i)); err == nil {
					conns[i] = c
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	var out []*Conn
	var first error
	for i, c := range conns {
		if c != nil {
			out = append(out, c)
		} else if first == nil {
			first = fmt.Errorf("dial %d of %d: %w", i, n, errs[i])
		}
	}
	return out, first
}
