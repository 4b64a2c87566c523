package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
)

// These tests check the harness on a tiny scale against edgekit only; the
// peers and the full workloads are run by run.sh (see README.md).

// testOrigin starts a small synthetic origin in this process with
// seg-long live segments; liveMaxAge, when given, is the Cache-Control
// max-age of live segments.
func testOrigin(t *testing.T, seg time.Duration, liveMaxAge ...time.Duration) *InProcOrigin {
	t.Helper()
	o, err := NewOrigin("127.0.0.1:0", testOriginConfig(seg, liveMaxAge...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop() })
	return o
}

// testProcOrigin starts the same origin in a child process, as edgebench
// does: this test binary re-executed (TestMain serves it).
func testProcOrigin(t *testing.T, seg time.Duration) *ProcOrigin {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartOriginProc(exe, testOriginConfig(seg), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func testOriginConfig(seg time.Duration, liveMaxAge ...time.Duration) OriginConfig {
	cfg := OriginConfig{
		TTFB: 200 * time.Millisecond, Rate: 64 << 20, LiveTTFB: 5 * time.Millisecond, LiveRate: 64 << 20,
		Stall: 300 * time.Millisecond, Epoch: time.Now().Truncate(seg), SegDur: seg,
		Bitrates: []int64{200_000, 400_000}, HoldOpen: 2 * seg,
	}
	if len(liveMaxAge) > 0 {
		cfg.LiveMaxAge = liveMaxAge[0]
	}
	return cfg
}

var (
	edgeOnce sync.Once
	edgeBin  string
	edgeErr  error
)

// buildTestEdge builds examples/edge once per test binary.
func buildTestEdge(t *testing.T) string {
	t.Helper()
	peertest.Exec(t, "go", "the Go toolchain")
	edgeOnce.Do(func() {
		root, err := findRepo()
		if err != nil {
			edgeErr = err
			return
		}
		if _, err := os.Stat(filepath.Join(root, "examples", "edge", "main.go")); err != nil {
			edgeErr = err
			return
		}
		dir, err := os.MkdirTemp("", "edgebench-test-")
		if err != nil {
			edgeErr = err
			return
		}
		edgeBin = filepath.Join(dir, "edge")
		cmd := exec.Command("go", "build", "-o", edgeBin, "./examples/edge")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			edgeErr = errors.New(string(out))
		}
	})
	if edgeErr != nil {
		peertest.Missing(t, "examples/edge", edgeErr.Error())
	}
	return edgeBin
}

func startEdge(t *testing.T, o Origin, n int) *Target {
	t.Helper()
	env := &Env{Origin: o.Addr(), EdgeBin: buildTestEdge(t)}
	spec, _ := specByName("edgekit")
	tg, err := spec.Start(context.Background(), env, t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Stop)
	return tg
}

func TestMain(m *testing.M) {
	// testProcOrigin re-executes this binary as the origin's process.
	if len(os.Args) > 1 && os.Args[1] == originSubcommand {
		os.Exit(originMain())
	}
	code := m.Run()
	if edgeBin != "" {
		os.RemoveAll(filepath.Dir(edgeBin))
	}
	os.Exit(code)
}

// TestHerdEdgekit: 50 requests on open connections for one uncached
// object cause exactly one origin fetch and all get the whole body.
func TestHerdEdgekit(t *testing.T) {
	o := testOrigin(t, time.Second)
	tg := startEdge(t, o, 1)
	res, err := runHerd(context.Background(), tg, o, HerdConfig{N: 50, Size: 256 << 10, Lone: 2, Timeout: 30 * time.Second, VerifyEvery: 1}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if res.OriginFetches != 1 || res.Errors != 0 || res.TTFB.N != 50 || res.LoneFetches != 1 {
		t.Fatalf("got origin fetches %d, errors %d (%s), answered %d, lone fetches %d; want 1, 0, 50, 1",
			res.OriginFetches, res.Errors, res.ErrSample, res.TTFB.N, res.LoneFetches)
	}
	// The origin's timestamps: it holds the head for its TTFB (200 ms
	// here, a lower bound, not a timing), and no client can see a head
	// before the origin has sent one (causality, not speed).
	if !res.OriginTimed || res.OriginAnswer < 200*time.Millisecond || res.LoneOriginAnswer < 200*time.Millisecond {
		t.Fatalf("origin timing: reported %v, answered after %v (lone %v); want reported, both at least 200 ms", res.OriginTimed, res.OriginAnswer, res.LoneOriginAnswer)
	}
	// (OriginAnswer is taken after the origin's write returns, so it may
	// trail the client's read; the 200 ms wait starts after Arrived.)
	if sent := res.OriginArrive + 200*time.Millisecond; res.FirstHead < sent {
		t.Fatalf("first head at a client %v after release, before the origin could send its head (%v)", res.FirstHead, sent)
	}
	t.Logf("TTFB p50 %s p99 %s ms, lone %s ms (timing is not asserted)", ms(res.TTFB.P50), ms(res.TTFB.P99), ms(res.LoneTTFB))
}

// TestLiveEdgekit: viewers following two renditions of three channels
// cause one origin fetch per segment and get every segment.
func TestLiveEdgekit(t *testing.T) {
	o := testOrigin(t, 500*time.Millisecond)
	tg := startEdge(t, o, 1)
	cfg := LiveConfig{Viewers: 24, Duration: 3 * time.Second, Channels: 3, Renditions: 2, Spread: 50 * time.Millisecond,
		Timeout: 5 * time.Second, Retry: 50 * time.Millisecond, Verify: true, Seed: 1}
	res := runLive(context.Background(), tg, o, cfg, "lt")
	if res.Segments == 0 || res.FetchMax != 1 || res.FailedSegs != 0 {
		t.Fatalf("got %d segments, origin fetches/segment max %d, failed %d (%v); want >0, 1, 0", res.Segments, res.FetchMax, res.FailedSegs, res.Errs)
	}
}

// TestFaultsTierEdgekit: the fault schedule against a tier of three on a
// fast clock, with the origin in its own process as edgebench runs it (so
// every fault goes through the control pipe). Bodies the origin cut must
// be served complete afterwards by every member, and every viewer gets
// the last segments.
func TestFaultsTierEdgekit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	o := testProcOrigin(t, 500*time.Millisecond)
	tg := startEdge(t, o, 3)
	cfg := LiveConfig{Viewers: 12, Channels: 3, Renditions: 2, Spread: 50 * time.Millisecond,
		Timeout: 5 * time.Second, Retry: 50 * time.Millisecond, Verify: true, Seed: 2}
	res := runFaults(context.Background(), tg, o, cfg, "ft")
	for _, e := range res.Episodes {
		if e.Err != "" {
			t.Errorf("episode %q: %s", e.Name, e.Err)
		}
		t.Logf("%s: failed %d, max per viewer %d", e.Name, e.FailedSegs, e.MaxPerViewer)
	}
	if res.CutPaths == 0 || res.CutServedOK != res.CutPaths {
		t.Errorf("got %d cut bodies, %d served complete afterwards (%v); want >0 and all", res.CutPaths, res.CutServedOK, res.CutBad)
	}
	if !res.Recovered {
		t.Errorf("tier did not recover: the last %d segments were not all served", res.RecoverSegs)
	}
}

// TestOriginFaults: each fault does what it says, fetches and cut bodies
// are counted, and Stop/Start keep the address, for the origin in this
// process and in its own.
func TestOriginFaults(t *testing.T) {
	for _, kind := range []struct {
		name  string
		start func(t *testing.T) Origin
	}{
		{"in-process", func(t *testing.T) Origin { return testOrigin(t, time.Second) }},
		{"process", func(t *testing.T) Origin { return testProcOrigin(t, time.Second) }},
	} {
		t.Run(kind.name, func(t *testing.T) { testOriginFaults(t, kind.start(t)) })
	}
}

func testOriginFaults(t *testing.T, o Origin) {
	ctx := context.Background()
	p := VODPath("f", 64<<10)
	for _, tc := range []struct {
		name   string
		fault  Fault
		status int
		err    error
	}{
		{"none", FaultNone, 200, nil},
		{"500", Fault500, 500, nil},
		{"stall", FaultStall, 200, ErrShortBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := o.SetFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			defer o.SetFault(FaultNone)
			c := &Conn{addr: o.Addr()}
			defer c.Close()
			r := c.Get(ctx, p, 64<<10, 5*time.Second, true)
			if r.Status != tc.status || !errors.Is(r.Err, tc.err) {
				t.Fatalf("got status %d err %v; want %d %v", r.Status, r.Err, tc.status, tc.err)
			}
		})
	}
	if got := o.Fetches(p); got != 3 {
		t.Fatalf("got %d fetches, want 3", got)
	}
	if got := o.Fetches("/never"); got != 0 {
		t.Fatalf("got %d fetches of a path never asked for, want 0", got)
	}
	if cut := o.CutPaths(); len(cut) != 1 || cut[0] != p {
		t.Fatalf("got cut paths %v, want [%s]", cut, p)
	}
	// The first fetch was timed: the origin holds the head for its TTFB
	// (200 ms in testOriginConfig).
	ft, ok := o.FirstFetch(p)
	if !ok || ft.FirstByte.Sub(ft.Arrived) < 200*time.Millisecond {
		t.Fatalf("first fetch timing %+v (reported %v), want the first byte at least 200 ms after arrival", ft, ok)
	}
	if _, ok := o.FirstFetch("/never"); ok {
		t.Fatal("timing reported for a path never asked for")
	}
	// Stop and Start keep the address.
	if err := o.Stop(); err != nil {
		t.Fatal(err)
	}
	c := &Conn{addr: o.Addr()}
	if r := c.Get(ctx, p, -1, time.Second, false); r.Err == nil {
		t.Fatalf("stopped origin answered %d", r.Status)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	if r := c.Get(ctx, p, 64<<10, 5*time.Second, true); !r.OK() {
		t.Fatalf("restarted origin: status %d err %v", r.Status, r.Err)
	}
	c.Close()
}

func TestLiveHoldOpen(t *testing.T) {
	o := testOrigin(t, 300*time.Millisecond)
	next := o.LiveEdge(time.Now()) + 1
	c := &Conn{addr: o.Addr()}
	defer c.Close()
	r := c.Get(context.Background(), LivePath("h", 0, 1, next), o.LiveSize(1), 5*time.Second, true)
	if !r.OK() {
		t.Fatalf("next segment: status %d err %v", r.Status, r.Err)
	}
	if done := r.Start.Add(r.TTFB); done.Before(o.PubTime(next)) {
		t.Fatalf("segment %d answered at %v, before its publication %v", next, done, o.PubTime(next))
	}
	r = c.Get(context.Background(), LivePath("h", 0, 1, next+100), -1, 5*time.Second, false)
	if r.Status != http.StatusNotFound {
		t.Fatalf("far-future segment: got status %d, want 404", r.Status)
	}
}

// TestReadBody: the pattern check catches truncation, corruption and
// shifts, across reads that split words.
func TestReadBody(t *testing.T) {
	const seed = 0x1234
	good := make([]byte, 4096)
	fill(good, seed, 0)
	flip := bytes.Clone(good)
	flip[1001] ^= 1
	for _, tc := range []struct {
		name  string
		body  []byte
		chunk int
		err   error
		n     int64
	}{
		{"whole", good, 4096, nil, 4096},
		{"split words", good, 3, nil, 4096},
		{"corrupt", flip, 7, ErrBadBody, -1},
		{"shifted", good[8:], 64, ErrBadBody, -1},
		{"short", good[:100], 5, nil, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := io.NopCloser(&chunkReader{b: tc.body, n: tc.chunk})
			n, err := readBody(r, make([]byte, 512), seed, true)
			if !errors.Is(err, tc.err) || (tc.n >= 0 && n != tc.n) {
				t.Fatalf("got n=%d err=%v; want n=%d err=%v", n, err, tc.n, tc.err)
			}
		})
	}
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:8081/x
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.49ms    1.17ms  20.55ms   89.32%
    Req/Sec    11.17k     1.01k   13.24k    75.50%
  222316 requests in 10.01s, 13.60GB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  22210.39
Transfer/sec:      1.36GB
`
	w, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if w.requests != 222316 || w.seconds != 10.01 || w.errors != 12 {
		t.Fatalf("got %+v; want 222316 requests, 10.01 s, 12 errors", w)
	}
	if _, err := parseWrk("unable to connect"); err == nil {
		t.Fatal("parsed garbage")
	}
}

func TestParseStat(t *testing.T) {
	// Field 2 holds a space and a parenthesis, as process names may.
	line := "4242 (my (proc) x) S 1 4240 4240 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 7 0 12345 1000000 512 18446744073709551615"
	f, ok := parseStat(line)
	if !ok || f.pgrp != 4240 || f.utime != 250 || f.stime != 130 || f.threads != 7 || f.rssPages != 512 {
		t.Fatalf("got %+v ok=%v", f, ok)
	}
	if cw, wc := parseIO("rchar: 10\nwchar: 2048\nsyscr: 3\nsyscw: 7\n"); cw != 7 || wc != 2048 {
		t.Fatalf("parseIO: got syscw %d wchar %d, want 7 2048", cw, wc)
	}
	self := sampleGroup(syscall.Getpgrp())
	if self.Procs == 0 || self.RSS == 0 || self.FDs == 0 {
		t.Fatalf("sampling this test's own process group: %+v", self)
	}
}

func TestPaths(t *testing.T) {
	ch, r, seq, err := parseLive(LivePath("abc", 2, 1, 12345))
	if err != nil || ch != 2 || r != 1 || seq != 12345 {
		t.Fatalf("live path round trip: got %d %d %d %v", ch, r, seq, err)
	}
	if n, err := parseVOD(VODPath("herd_x", 2<<20)); err != nil || n != 2<<20 {
		t.Fatalf("fixed path round trip: got %d %v", n, err)
	}
	for _, bad := range []string{"/live/vod/x.m4s", "/live/vod/x_7.m4s", "/live/c1/r1/1.m4s", "/live/a_c1/x1/1.m4s"} {
		if _, err := parseVOD(bad); err == nil && strings.HasPrefix(bad, vodPrefix) {
			t.Errorf("parseVOD(%q) accepted", bad)
		}
		if !strings.HasPrefix(bad, vodPrefix) {
			if _, _, _, err := parseLive(bad); err == nil {
				t.Errorf("parseLive(%q) accepted", bad)
			}
		}
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	d := summarize(ds)
	if d.P50 != 50 || d.P99 != 99 || d.Max != 100 || d.N != 100 {
		t.Fatalf("got %+v; want p50 50, p99 99, max 100", d)
	}
	if got := drift([]float64{1, 1, 1, 1, 2, 2, 2, 2}); got != 2 {
		t.Fatalf("drift: got %v, want 2", got)
	}
}

// TestPlotsAreSVG: every plot parses as XML and has its series.
func TestPlotsAreSVG(t *testing.T) {
	herd := []HerdResult{{Target: "a", N: 3, LoneTTFB: time.Millisecond, TTFBs: []time.Duration{1e6, 2e6, 3e6}}, {Target: "b", N: 3, TTFBs: []time.Duration{5e6, 6e6, 9e6}}}
	hits := []HitResult{{Target: "a", Size: 65536, Conns: 100, GBPerSec: 1}, {Target: "b", Size: 65536, Conns: 100, GBPerSec: 2}}
	soak := SoakReport{Target: "a", SoakResult: SoakResult{Samples: []SoakSample{{ProcSample: ProcSample{RSS: 1 << 20}, Goroutines: 10}, {ProcSample: ProcSample{At: time.Second, RSS: 2 << 20}, Goroutines: 12}}}}
	for name, doc := range map[string][]byte{"herd": herdPlot(herd), "hits": hitsPlot(hits), "soak": soakPlot(soak)} {
		d := xml.NewDecoder(bytes.NewReader(doc))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not XML: %v", name, err)
			}
		}
		if !bytes.Contains(doc, []byte(">a")) {
			t.Fatalf("%s: no legend entry for series a", name)
		}
	}
}

func TestModes(t *testing.T) {
	o, err := parseFlags([]string{"-mode", "full", "-viewers", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Herd.N != 10000 || o.Live.Viewers != 7 || o.Live.Duration != 5*time.Minute || len(o.Hits.Conns) != 2 {
		t.Fatalf("got herd %d viewers %d live %v conns %v; want 10000, 7 (flag wins), 5m, [100 1000]", o.Herd.N, o.Live.Viewers, o.Live.Duration, o.Hits.Conns)
	}
	if _, err := parseFlags([]string{"-mode", "nope"}, io.Discard); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestMedianHit(t *testing.T) {
	rs := []HitResult{{ReqPerSec: 30, Errors: 1}, {ReqPerSec: 10, Errors: 2}, {ReqPerSec: 20, CPUPerGB: 0.5}}
	m := medianHit(rs)
	if m.ReqPerSec != 20 || m.CPUPerGB != 0.5 || m.Errors != 3 || m.Runs != 3 || m.Spread != "30, 10, 20" {
		t.Fatalf("got %+v; want the 20 req/s run, 3 errors summed, spread 30, 10, 20", m)
	}
}

// TestCheckWords: the four-words-at-a-time check finds the first bad word
// wherever it is: in an unrolled step, in the tail, at either end.
func TestCheckWords(t *testing.T) {
	const seed, w0 = 0x9e3779b97f4a7c15, 17
	good := make([]byte, 8*45) // 11 four-word steps and a one-word tail
	fill(good, seed, 8*w0)
	if bad := checkWords(good, seed, w0); bad != -1 {
		t.Fatalf("a good body: first bad word at byte %d", bad)
	}
	if bad := checkWords(good, seed, w0+1); bad != 0 {
		t.Fatalf("the wrong word number: first bad word at byte %d, want 0", bad)
	}
	for at := range good {
		p := bytes.Clone(good)
		p[at] ^= 0x80
		if bad := checkWords(p, seed, w0); bad != at&^7 {
			t.Fatalf("byte %d flipped: first bad word at byte %d, want %d", at, bad, at&^7)
		}
		// A second flip later must not hide the first.
		p[len(p)-1] ^= 1
		if bad := checkWords(p, seed, w0); bad != at&^7 {
			t.Fatalf("bytes %d and %d flipped: first bad word at byte %d, want %d", at, len(p)-1, bad, at&^7)
		}
	}
}

func BenchmarkCheckWords(b *testing.B) {
	p := make([]byte, 64<<10)
	fill(p, 42, 0)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if checkWords(p, 42, 0) != -1 {
			b.Fatal("bad")
		}
	}
}

// TestOriginRange: the origin answers "bytes=N-" with If-Range matching
// its Last-Modified with a 206 of exactly the rest of the pattern, even
// from mid-word, and ignores any other Range or a stale validator.
func TestOriginRange(t *testing.T) {
	o := testOrigin(t, time.Second)
	const size = 64 << 10
	p := VODPath("r", size)
	full := make([]byte, size)
	fill(full, PathSeed(p), 0)
	lastMod := o.cfg.Epoch.UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name, rng, ifRange string
		status             int
		from               int
	}{
		{"rest from mid-word", "bytes=12345-", lastMod, http.StatusPartialContent, 12345},
		{"rest from a word", "bytes=8-", lastMod, http.StatusPartialContent, 8},
		{"stale validator", "bytes=12345-", "Mon, 02 Jan 2006 15:04:05 GMT", http.StatusOK, 0},
		{"closed range", "bytes=0-10", lastMod, http.StatusOK, 0},
		{"past the end", fmt.Sprintf("bytes=%d-", size), lastMod, http.StatusOK, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+o.Addr()+p, nil)
			req.Header.Set("Range", tc.rng)
			req.Header.Set("If-Range", tc.ifRange)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != tc.status || !bytes.Equal(b, full[tc.from:]) {
				t.Fatalf("status %d (want %d), %d bytes (want %d), match %v, err %v", resp.StatusCode, tc.status, len(b), size-tc.from, bytes.Equal(b, full[tc.from:]), err)
			}
			if want := fmt.Sprintf("bytes %d-%d/%d", tc.from, size-1, size); tc.from > 0 && resp.Header.Get("Content-Range") != want {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), want)
			}
		})
	}
}
