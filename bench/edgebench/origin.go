package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what the synthetic origin does to the requests it serves.
type Fault int32

const (
	FaultNone  Fault = iota // serve normally
	Fault500                // answer 500 Internal Server Error at once
	FaultStall              // send half the body, stall, then cut the connection
)

// OriginConfig shapes the synthetic origin.
type OriginConfig struct {
	TTFB     time.Duration // delay before the response headers of a fixed object
	Rate     int64         // bytes per second a body is streamed at (0 = as fast as possible)
	LiveTTFB time.Duration // delay before the headers of a published /live/ segment
	LiveRate int64         // bytes per second for /live/ bodies
	Stall    time.Duration // how long FaultStall holds the connection before cutting it

	// Live channels: a new segment of SegDur every SegDur from Epoch, for
	// every channel/rendition; Bitrates gives one size per rendition.
	Epoch    time.Time
	SegDur   time.Duration
	Bitrates []int64 // bits per second, one per rendition
	HoldOpen time.Duration
	// LiveMaxAge is the Cache-Control max-age of a live segment: a live
	// window, after which caches may drop it (fixed objects get 300 s).
	LiveMaxAge time.Duration
}

// Origin is the synthetic origin as the workloads see it, whether it runs
// in this process (InProcOrigin, NewOrigin) or in a process of its own
// (ProcOrigin, StartOriginProc). Implementations are safe for concurrent
// use.
type Origin interface {
	// Addr is host:port of the origin; it stays the same across Stop/Start.
	Addr() string
	// SegDur, PubTime, LiveEdge and LiveSize describe the live channels;
	// they follow from the OriginConfig alone (see liveClock).
	SegDur() time.Duration
	PubTime(seq int64) time.Time
	LiveEdge(t time.Time) int64
	LiveSize(r int) int64
	// Fetches is how many requests the origin received for path; -1 if
	// the origin could not be asked.
	Fetches(path string) int
	// FirstFetch is when the first request for path reached the origin's
	// handler and when its first body byte left it.
	FirstFetch(path string) (FetchTiming, bool)
	// CutPaths is every path whose body the origin cut mid-stream, sorted.
	CutPaths() []string
	// SetFault switches what the origin does to new requests.
	SetFault(f Fault) error
	// Stop closes the listener and every open connection at once, as a
	// killed process would; Start listens again on the same address.
	Stop() error
	Start() error
}

// FetchTiming is the origin's own clock for one request: wall-clock
// times, so that they compare across processes on one machine.
type FetchTiming struct {
	Arrived   time.Time // the handler started (request read and parsed)
	FirstByte time.Time // the head and first body bytes were flushed to the socket
}

// liveClock computes the live schedule and segment sizes from the
// configuration, so that a remote origin needs no round trip for them.
type liveClock struct{ cfg OriginConfig }

// SegDur is the live segment duration.
func (c liveClock) SegDur() time.Duration { return c.cfg.SegDur }

// PubTime is when live segment seq becomes available.
func (c liveClock) PubTime(seq int64) time.Time {
	return c.cfg.Epoch.Add(time.Duration(seq) * c.cfg.SegDur)
}

// LiveEdge is the newest published segment number at t.
func (c liveClock) LiveEdge(t time.Time) int64 {
	return int64(t.Sub(c.cfg.Epoch) / c.cfg.SegDur)
}

// LiveSize is the body size of a segment of rendition r (a multiple of 8,
// as fill requires).
func (c liveClock) LiveSize(r int) int64 {
	n := c.cfg.Bitrates[r] / 8 * int64(c.cfg.SegDur) / int64(time.Second)
	return n &^ 7
}

// InProcOrigin is the synthetic origin served from this process:
// deterministic bodies (see fill), a fixed time to first byte and a fixed
// streaming rate, a count of fetches per URL path, and switchable faults.
// It can be stopped and started again on the same address (the "origin
// killed and restarted" fault). Safe for concurrent use.
//
// A herd's 10,000 client goroutines in the same process delay its
// handler and timers (docs/bench/edge.md), so edgebench runs it in a
// child process (ProcOrigin) unless -origin-in-process is given.
type InProcOrigin struct {
	liveClock
	addr string

	fault atomic.Int32

	mu       sync.Mutex // guards fetches, first, inflight, cut, srv, ln
	fetches  map[string]int
	first    map[string]FetchTiming // the first request of each path
	inflight map[string]int         // bodies being streamed now
	cut      map[string]bool        // paths whose body was cut at least once
	srv      *http.Server
	ln       net.Listener
}

// NewOrigin starts the origin in this process on addr ("127.0.0.1:0"
// picks a port).
func NewOrigin(addr string, cfg OriginConfig) (*InProcOrigin, error) {
	o := &InProcOrigin{liveClock: liveClock{cfg}, fetches: make(map[string]int), first: make(map[string]FetchTiming),
		inflight: make(map[string]int), cut: make(map[string]bool)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o.addr = ln.Addr().String()
	o.serveLocked(ln)
	return o, nil
}

// Addr is host:port of the origin; it stays the same across Stop/Start.
func (o *InProcOrigin) Addr() string { return o.addr }

func (o *InProcOrigin) serveLocked(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(o.handle), ReadHeaderTimeout: 10 * time.Second}
	o.srv, o.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
}

// Stop closes the listener and every open connection at once, as a killed
// process would (in-flight bodies are cut).
func (o *InProcOrigin) Stop() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		_ = o.srv.Close()
		o.srv = nil
	}
	for p := range o.inflight {
		o.cut[p] = true
	}
	return nil
}

// CutPaths returns every path whose body the origin cut mid-stream (a
// stall fault, or Stop during the body), sorted.
func (o *InProcOrigin) CutPaths() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ps []string
	for p := range o.cut {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (o *InProcOrigin) track(path string, d int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight[path] += d
	if o.inflight[path] <= 0 {
		delete(o.inflight, path)
	}
}

// Start listens again on the same address after Stop.
func (o *InProcOrigin) Start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	// The port was just released; a few retries cover a slow close.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", o.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	o.serveLocked(ln)
	return nil
}

// SetFault switches what the origin does to new requests.
func (o *InProcOrigin) SetFault(f Fault) error {
	o.fault.Store(int32(f))
	return nil
}

// Fetches is how many requests the origin received for path.
func (o *InProcOrigin) Fetches(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[path]
}

// FirstFetch is the origin's timing of the first request for path.
func (o *InProcOrigin) FirstFetch(path string) (FetchTiming, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ft, ok := o.first[path]
	return ft, ok
}

// LivePath names segment seq of channel ch, rendition r. tag ([A-Za-z0-9])
// keeps the paths of one target apart from another's, so origin fetch
// counts are per target.
func LivePath(tag string, ch, r int, seq int64) string {
	return fmt.Sprintf("/live/%s_c%d/r%d/%d.m4s", tag, ch, r, seq)
}

// VODPath names a fixed object of size bytes; the size is in the name so
// the origin needs no catalogue. name must be [A-Za-z0-9_]: examples/edge
// proxies only /live/ paths of such names.
func VODPath(name string, size int64) string {
	return fmt.Sprintf("%s%s_%d.m4s", vodPrefix, name, size)
}

// vodPrefix holds the fixed objects (herd, throughput); every other
// /live/ path is a live segment.
const vodPrefix = "/live/vod/"

func (o *InProcOrigin) handle(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	o.mu.Lock()
	o.fetches[r.URL.Path]++
	first := o.fetches[r.URL.Path] == 1
	if first {
		o.first[r.URL.Path] = FetchTiming{Arrived: arrived}
	}
	o.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	var size int64
	var ttfb time.Duration
	var rate int64
	maxAge := 300 * time.Second
	switch {
	case strings.HasPrefix(r.URL.Path, vodPrefix):
		n, err := parseVOD(r.URL.Path)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		size, ttfb, rate = n, o.cfg.TTFB, o.cfg.Rate
	case strings.HasPrefix(r.URL.Path, "/live/"):
		ch, rend, seq, err := parseLive(r.URL.Path)
		if err != nil || ch < 0 || rend < 0 || rend >= len(o.cfg.Bitrates) {
			http.NotFound(w, r)
			return
		}
		// A request for a segment about to be published is held open
		// until it is (Netflix Live Origin); further ahead is a 404.
		wait := time.Until(o.PubTime(seq))
		if wait > o.cfg.HoldOpen {
			w.Header().Set("Cache-Control", "max-age=1")
			http.Error(w, "not yet", http.StatusNotFound)
			return
		}
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-r.Context().Done():
				return
			}
		}
		size, ttfb, rate = o.LiveSize(rend), o.cfg.LiveTTFB, o.cfg.LiveRate
		if o.cfg.LiveMaxAge > 0 {
			maxAge = o.cfg.LiveMaxAge
		}
	default:
		http.NotFound(w, r)
		return
	}
	fault := Fault(o.fault.Load())
	if fault == Fault500 {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "injected fault", http.StatusInternalServerError)
		return
	}
	if !sleepCtx(r.Context(), ttfb) {
		return
	}
	h := w.Header()
	lastMod := o.cfg.Epoch.UTC().Format(http.TimeFormat)
	h.Set("Content-Type", "video/iso.segment")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	h.Set("Last-Modified", lastMod)
	h.Set("Accept-Ranges", "bytes")
	// A proxy resuming a body cut short asks for the rest: "bytes=N-",
	// validated by If-Range against Last-Modified (the bodies never
	// change). Any other Range is ignored, as RFC 9110 allows.
	from := rangeFrom(r.Header.Get("Range"), size)
	if from > 0 && r.Header.Get("If-Range") == lastMod {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, size-1, size))
		h.Set("Content-Length", strconv.FormatInt(size-from, 10))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		from = 0
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	o.track(r.URL.Path, 1)
	defer o.track(r.URL.Path, -1)
	limit := size
	if fault == FaultStall {
		limit = from + (size-from)/2&^7
	}
	var sent func()
	if first {
		sent = func() {
			at := time.Now()
			o.mu.Lock()
			o.first[r.URL.Path] = FetchTiming{Arrived: arrived, FirstByte: at}
			o.mu.Unlock()
		}
	}
	if err := o.stream(r.Context(), w, r.URL.Path, from, limit, rate, sent); err != nil {
		return
	}
	if fault == FaultStall {
		o.mu.Lock()
		o.cut[r.URL.Path] = true
		o.mu.Unlock()
		sleepCtx(r.Context(), o.cfg.Stall)
		// Cut the connection without finishing the body: the proxy must
		// see a short body, never a complete response.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, like a crashed process
				}
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
}

// stream writes the first n bytes of path's body paced at rate bytes/s;
// sent, if not nil, is called once the first bytes are flushed.
func (o *InProcOrigin) stream(ctx context.Context, w http.ResponseWriter, path string, from, n, rate int64, sent func()) error {
	const chunk = 16 << 10
	buf := make([]byte, chunk+8) // room for a word split at from
	seed := PathSeed(path)
	fl, _ := w.(http.Flusher)
	start := time.Now()
	for off := from; off < n; {
		m := min(int64(chunk), n-off)
		skip := off & 7 // a resumed body may start mid-word
		fill(buf[:(skip+m+7)&^7], seed, off-skip)
		if _, err := w.Write(buf[skip : skip+m]); err != nil {
			return err
		}
		off += m
		if fl != nil {
			fl.Flush()
		}
		if sent != nil {
			sent()
			sent = nil
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(off-from) / float64(rate) * float64(time.Second)))
			if !sleepCtx(ctx, time.Until(due)) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// rangeFrom returns N for a Range of the form "bytes=N-" with 0 < N < size,
// and 0 for anything else (no Range, another form, out of bounds).
func rangeFrom(v string, size int64) int64 {
	rest, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0
	}
	num, ok := strings.CutSuffix(rest, "-")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n >= size {
		return 0
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func parseVOD(p string) (int64, error) {
	if !strings.HasPrefix(p, vodPrefix) {
		return 0, errors.New("not a fixed object")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(p, vodPrefix), ".m4s")
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return 0, errors.New("no size")
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if err != nil || n <= 0 || n%8 != 0 || n > 1<<30 {
		return 0, errors.New("bad size")
	}
	return n, nil
}

func parseLive(p string) (ch, r int, seq int64, err error) {
	parts := strings.Split(p, "/") // "", "live", tag_cN, rN, seq.m4s
	bad := errors.New("bad live path")
	if len(parts) != 5 || !strings.HasSuffix(parts[4], ".m4s") {
		return 0, 0, 0, bad
	}
	i := strings.LastIndex(parts[2], "_c")
	if i < 0 || !strings.HasPrefix(parts[3], "r") {
		return 0, 0, 0, bad
	}
	if ch, err = strconv.Atoi(parts[2][i+2:]); err != nil {
		return 0, 0, 0, bad
	}
	if r, err = strconv.Atoi(parts[3][1:]); err != nil {
		return 0, 0, 0, bad
	}
	if seq, err = strconv.ParseInt(strings.TrimSuffix(parts[4], ".m4s"), 10, 64); err != nil {
		return 0, 0, 0, bad
	}
	return ch, r, seq, nil
}

// PathSeed is the per-URL seed of the body pattern.
func PathSeed(path string) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, path)
	return h.Sum64()
}

// fill writes the body bytes at offset off (a multiple of 8): word i is
// seed XOR i, little-endian. A reader can check every byte it receives
// without keeping a copy, and a truncated, shifted or mixed-up body fails.
func fill(b []byte, seed uint64, off int64) {
	w := uint64(off / 8)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], seed^w)
		w++
	}
}
