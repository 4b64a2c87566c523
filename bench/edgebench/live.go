package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// LiveConfig shapes the live-following workload (also the base of the
// soak and fault workloads).
type LiveConfig struct {
	Viewers    int
	Duration   time.Duration
	Channels   int
	Renditions int           // must match the origin's Bitrates
	Spread     time.Duration // arrivals fall in [pub-Spread/5, pub+4·Spread/5)
	Timeout    time.Duration // one request, to the last byte
	Retry      time.Duration // pause before retrying a failed segment
	Verify     bool          // check every body byte
	Seed       uint64
}

// segOutcome is one viewer's result for one segment.
type segOutcome struct {
	seq      int64
	ok       bool
	tries    int
	behind   time.Duration // last byte after publication (ok only)
	ttfbPub  time.Duration // first byte after publication (ok only)
	timeouts int
}

// LiveResult is what one target did with the live workload.
type LiveResult struct {
	Target     string
	Viewers    int
	Segments   int // distinct segments (stream × number) requested
	Requests   int
	ReqErrors  int           // failed requests (a retried segment may still succeed)
	FailedSegs int           // viewer-segments not obtained before giving up
	Timeouts   int           // requests that hit the client timeout ("hung")
	Errs       []string      // request error kinds, most frequent first
	ServerCPU  time.Duration // the server's CPU time over the run
	BytesOK    int64         // body bytes of the segments viewers got
	Behind     Dist          // last byte behind publication
	TTFBBehind Dist          // first byte behind publication
	// Origin fetches per segment over the segments viewers asked for.
	FetchMax       int
	FetchMean      float64
	SegsOverOne    int
	SegsWithNoneOK int
	perViewer      [][]segOutcome
	seq0           int64
}

// liveViewers runs cfg.Viewers viewers following the live edge of every
// stream through t until cfg.Duration has passed, and returns each
// viewer's outcomes. A viewer asks for segment n as it is published; on
// failure it retries (on the next tier member) every cfg.Retry until the
// segment is two durations old, then gives up on it and moves on.
func liveViewers(ctx context.Context, t *Target, o Origin, cfg LiveConfig, tag string, errs *errLog) ([][]segOutcome, int64) {
	seq0 := o.LiveEdge(time.Now()) + 1
	end := time.Now().Add(cfg.Duration)
	out := make([][]segOutcome, cfg.Viewers)
	var wg sync.WaitGroup
	for v := 0; v < cfg.Viewers; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[v] = viewer(ctx, t, o, cfg, tag, v, seq0, end, errs)
		}()
	}
	wg.Wait()
	return out, seq0
}

func viewer(ctx context.Context, t *Target, o Origin, cfg LiveConfig, tag string, v int, seq0 int64, end time.Time, errs *errLog) []segOutcome {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(v)))
	ch, rend := v%cfg.Channels, (v/cfg.Channels)%cfg.Renditions
	member := v % t.Members()
	size := o.LiveSize(rend)
	c := &Conn{addr: t.Addr(member)}
	defer c.Close()
	var outs []segOutcome
	for seq := seq0; o.PubTime(seq).Before(end); seq++ {
		pub := o.PubTime(seq)
		lo := -int64(cfg.Spread / 5)
		at := pub.Add(time.Duration(lo + rng.Int64N(int64(cfg.Spread)+1)))
		if !sleepCtx(ctx, time.Until(at)) {
			return outs
		}
		giveUp := pub.Add(2 * o.SegDur())
		path := LivePath(tag, ch, rend, seq)
		so := segOutcome{seq: seq}
		for {
			so.tries++
			r := c.Get(ctx, path, size, cfg.Timeout, cfg.Verify)
			if r.OK() {
				so.ok = true
				so.behind = r.Start.Add(r.TTLB).Sub(pub)
				so.ttfbPub = r.Start.Add(r.TTFB).Sub(pub)
				break
			}
			if isTimeout(r.Err) {
				so.timeouts++
			}
			errs.add(r)
			if t.Members() > 1 {
				// A tier: the next try goes to another member (a
				// killed edge refuses connections).
				member = (member + 1) % t.Members()
				c.Close()
				c = &Conn{addr: t.Addr(member)}
			}
			if time.Now().Add(cfg.Retry).After(giveUp) || ctx.Err() != nil {
				break
			}
			sleepCtx(ctx, cfg.Retry)
		}
		outs = append(outs, so)
	}
	return outs
}

// errLog counts request errors by kind for the report. Safe for
// concurrent use.
type errLog struct {
	mu sync.Mutex     // guards m
	m  map[string]int // "status N: error" → count
}

func (l *errLog) add(r Result) {
	k := fmt.Sprintf("status %d: %v", r.Status, r.Err)
	if len(k) > 160 {
		k = k[:160]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]int{}
	}
	// Bounded: after 50 kinds only known kinds are counted.
	if len(l.m) < 50 || l.m[k] > 0 {
		l.m[k]++
	}
}

// top returns the error kinds, most frequent first.
func (l *errLog) top() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	type kv struct {
		k string
		n int
	}
	var kinds []kv
	for k, n := range l.m {
		kinds = append(kinds, kv{k, n})
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].n > kinds[j].n })
	var s []string
	for _, e := range kinds {
		s = append(s, fmt.Sprintf("%d× %s", e.n, e.k))
	}
	return s
}

// runLive runs the live workload and summarizes it.
func runLive(ctx context.Context, t *Target, o Origin, cfg LiveConfig, tag string) LiveResult {
	var errs errLog
	before := sampleGroups(t.PGIDs())
	outs, seq0 := liveViewers(ctx, t, o, cfg, tag, &errs)
	cpu := sampleGroups(t.PGIDs()).CPU - before.CPU
	res := summarizeLive(t.Name, o, cfg, tag, outs, seq0)
	res.Errs = errs.top()
	res.ServerCPU = cpu
	return res
}

func summarizeLive(name string, o Origin, cfg LiveConfig, tag string, outs [][]segOutcome, seq0 int64) LiveResult {
	res := LiveResult{Target: name, Viewers: cfg.Viewers, perViewer: outs, seq0: seq0}
	var behind, ttfb []time.Duration
	type stream struct {
		ch, r int
		seq   int64
	}
	asked := map[stream]bool{}
	okSeg := map[stream]bool{}
	for v, vo := range outs {
		ch, rend := v%cfg.Channels, (v/cfg.Channels)%cfg.Renditions
		for _, so := range vo {
			k := stream{ch, rend, so.seq}
			asked[k] = true
			res.Requests += so.tries
			res.Timeouts += so.timeouts
			if so.ok {
				res.BytesOK += o.LiveSize(rend)
				res.ReqErrors += so.tries - 1
				behind = append(behind, so.behind)
				ttfb = append(ttfb, so.ttfbPub)
				okSeg[k] = true
			} else {
				res.ReqErrors += so.tries
				res.FailedSegs++
			}
		}
	}
	res.Behind, res.TTFBBehind = summarize(behind), summarize(ttfb)
	res.Segments = len(asked)
	total := 0
	for k := range asked {
		n := o.Fetches(LivePath(tag, k.ch, k.r, k.seq))
		total += n
		res.FetchMax = max(res.FetchMax, n)
		if n > 1 {
			res.SegsOverOne++
		}
		if !okSeg[k] {
			res.SegsWithNoneOK++
		}
	}
	if len(asked) > 0 {
		res.FetchMean = float64(total) / float64(len(asked))
	}
	return res
}
