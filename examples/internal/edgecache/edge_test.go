package edgecache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/ktls"
)

// fakeOrigin counts requests per path and answers with the handler the
// test sets.
type fakeOrigin struct {
	srv    *httptest.Server
	mu     sync.Mutex // guards counts
	counts map[string]int
	handle func(w http.ResponseWriter, r *http.Request)
}

func newFakeOrigin(t testing.TB, handle func(w http.ResponseWriter, r *http.Request)) *fakeOrigin {
	o := &fakeOrigin{counts: make(map[string]int), handle: handle}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.counts[r.URL.Path]++
		o.mu.Unlock()
		o.handle(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *fakeOrigin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[p]
}

// segmentBody serves a deterministic body per path, slowly, in pieces, so
// that concurrent viewers overlap with the fetch.
func segmentBody(p string) []byte { return bytes.Repeat([]byte(p), 4096) }

func slowSegment(w http.ResponseWriter, r *http.Request) {
	b := segmentBody(r.URL.Path)
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Header().Set(edgecache.MaxAgeHeader, "60000")
	for i := 0; i < len(b); i += len(b) / 4 {
		_, _ = w.Write(b[i:min(len(b), i+len(b)/4)])
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
	}
}

type tierT struct {
	edges []*edgecache.Edge
	urls  []string
	srvs  []*http.Server
	logs  *syncBuf
}

type syncBuf struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTier starts n edges on loopback, served through ktls.Serve.
func newTier(t testing.TB, origin string, n int, tweak func(*edgecache.Config)) *tierT {
	t.Helper()
	tr := &tierT{logs: &syncBuf{}}
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		tr.urls = append(tr.urls, "http://"+ln.Addr().String())
	}
	for i, ln := range lns {
		cfg := edgecache.Config{Origin: origin, Self: tr.urls[i], Peers: tr.urls, CacheDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(tr.logs, nil))}
		if tweak != nil {
			tweak(&cfg)
		}
		e, err := edgecache.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Served as examples/edge serves: through the lane, which hands
		// every request it does not answer itself to net/http.
		lane := e.Lane(ktls.NewListener(ln, nil, nil), time.Minute, 5*time.Second)
		srv := &http.Server{Handler: e, ConnContext: lane.ConnContext}
		go srv.Serve(lane)
		tr.edges = append(tr.edges, e)
		tr.srvs = append(tr.srvs, srv)
	}
	t.Cleanup(func() {
		for i, s := range tr.srvs {
			s.Close()
			tr.edges[i].Close()
		}
	})
	return tr
}

func get(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1, b, resp.Header
	}
	return resp.StatusCode, b, resp.Header
}

// TestTierFetchesOnce: many viewers on every edge ask for the same objects
// at once; each object is fetched from the origin exactly once by the tier.
func TestTierFetchesOnce(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 3, nil)
	paths := []string{"/live/ch1/0/100.m4s", "/live/ch1/0/101.m4s", "/live/ch1/3/100.m4s"}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for v := 0; v < 60; v++ {
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(tr.urls[v%3] + p)
				if err != nil {
					bad.Add(1)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, segmentBody(p)) {
					bad.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d viewers got a wrong or failed body", bad.Load())
	}
	var st edgecache.Stats
	for _, e := range tr.edges {
		s := e.Stats()
		st.OriginFetches += s.OriginFetches
		st.Coalesced += s.Coalesced
		st.Hits += s.Hits
		st.Misses += s.Misses
	}
	for _, p := range paths {
		if c := o.count(p); c != 1 {
			t.Errorf("%s: origin fetched %d times, want 1", p, c)
		}
	}
	if st.OriginFetches != int64(len(paths)) {
		t.Errorf("tier origin fetches: got %d want %d", st.OriginFetches, len(paths))
	}
	t.Logf("180 requests: hits %d, misses %d, coalesced %d, origin fetches %d", st.Hits, st.Misses, st.Coalesced, st.OriginFetches)
	// A later request is a hit, and a disk hit leaves by sendfile.
	before := tr.edges[0].Stats()
	if code, b, h := get(t, tr.urls[0]+paths[0]); code != 200 || h.Get("X-Cache") != "HIT" || !bytes.Equal(b, segmentBody(paths[0])) {
		t.Fatalf("repeat: got %d X-Cache %q", code, h.Get("X-Cache"))
	}
	after := settled(t, tr.edges[0], before.Hits+1)
	if after.SendFile != before.SendFile+1 {
		t.Errorf("sendfile hits: got %d want %d (copies %d)", after.SendFile, before.SendFile+1, after.Copied)
	}
}

// TestOwnerDown: with the owner of a key gone, the others fetch it through
// the next member of its LocateN list (or the origin) and still serve it.
func TestOwnerDown(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 3, nil)
	// Find a key owned by edge 0 by asking edge 1 and watching who fetched.
	var key string
	for i := 0; i < 50 && key == ""; i++ {
		p := fmt.Sprintf("/live/ch1/0/%d.m4s", 200+i)
		get(t, tr.urls[1]+p)
		if tr.edges[0].Stats().OriginFetches > 0 {
			key = p
		}
	}
	if key == "" {
		t.Fatal("no key owned by edge 0 in 50 tries")
	}
	tr.srvs[0].Close()
	// Fifty fresh objects through edge 2: about a third are owned by edge 0.
	served := 0
	for i := 0; i < 50; i++ {
		q := fmt.Sprintf("/live/ch1/0/%d.m4s", 500+i)
		code, b, _ := get(t, tr.urls[2]+q)
		if code != 200 || !bytes.Equal(b, segmentBody(q)) {
			t.Fatalf("%s via edge 2 with edge 0 down: got %d", q, code)
		}
		served++
	}
	st := tr.edges[2].Stats()
	if st.PeerFailovers+st.OriginFetches == 0 || !strings.Contains(tr.logs.String(), "peer failed; trying the next member") {
		t.Fatalf("no failover recorded: %+v\n%s", st, tr.logs.String())
	}
	t.Logf("%d objects served with the owner down; edge 2: failovers %d, origin fetches %d", served, st.PeerFailovers, st.OriginFetches)
}

// TestUpstreamFaults: an origin that answers 500, cuts a body, or stalls
// gets a clear status and log line; nothing it sent is cached.
func TestUpstreamFaults(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load().(string) {
		case "500":
			http.Error(w, "boom", 500)
		case "cut":
			w.Header().Set("Content-Length", "100000")
			w.Header().Set(edgecache.MaxAgeHeader, "60000")
			_, _ = w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "cut-after-head":
			// The head, then nothing: viewers already have the head when
			// the cut comes (it is sent before any body byte).
			w.Header().Set("Content-Length", "100000")
			w.Header().Set(edgecache.MaxAgeHeader, "60000")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
			panic(http.ErrAbortHandler)
		case "stall-body":
			w.Header().Set("Content-Length", "100000")
			w.Header().Set(edgecache.MaxAgeHeader, "60000")
			_, _ = w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "stall-head":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			slowSegment(w, r)
		}
	})
	tr := newTier(t, o.srv.URL, 1, func(c *edgecache.Config) {
		c.HeaderTimeout = time.Second
		c.StallTimeout = time.Second
	})
	for i, tc := range []struct {
		mode string
		want int
		log  string
	}{
		{"500", 502, "upstream failed"},
		{"cut", -1, "upstream body incomplete; not cached"},
		{"cut-after-head", -1, "upstream body incomplete; not cached"},
		{"stall-body", -1, "body stalled"},
		{"stall-head", 504, "upstream failed"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p := fmt.Sprintf("/live/ch1/0/%d.m4s", 900+i)
			mode.Store(tc.mode)
			start := time.Now()
			code, _, _ := get(t, tr.urls[0]+p)
			if code != tc.want {
				t.Fatalf("got %d want %d", code, tc.want)
			}
			if time.Since(start) > 4*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(tr.logs.String(), tc.log) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(tr.logs.String(), tc.log) {
				t.Fatalf("log lacks %q:\n%s", tc.log, tr.logs.String())
			}
			// The origin recovers: the next request fetches again (nothing
			// cached) and gets the whole body.
			mode.Store("ok")
			code, b, h := get(t, tr.urls[0]+p)
			if code != 200 || !bytes.Equal(b, segmentBody(p)) || h.Get("X-Cache") == "HIT" {
				t.Fatalf("after recovery: got %d X-Cache %q, want a fresh 200", code, h.Get("X-Cache"))
			}
			if c := o.count(p); c != 2 {
				t.Fatalf("origin fetches of %s: got %d want 2", p, c)
			}
		})
	}
}

// TestNegativeCaching: a 404 with a millisecond lifetime is served from the
// cache for exactly that long, then fetched again.
func TestNegativeCaching(t *testing.T) {
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(edgecache.MaxAgeHeader, "300")
		http.Error(w, "not yet", 404)
	})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	tr := newTier(t, o.srv.URL, 1, func(c *edgecache.Config) {
		c.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	p := "/live/ch1/0/77.m4s"
	for i := 0; i < 5; i++ {
		if code, _, h := get(t, tr.urls[0]+p); code != 404 || (i > 0 && h.Get(edgecache.MaxAgeHeader) != "300") {
			t.Fatalf("request %d: got %d (max-age %q), want 404 with 300 ms left", i, code, h.Get(edgecache.MaxAgeHeader))
		}
	}
	if c := o.count(p); c != 1 {
		t.Fatalf("origin fetches within the 404's lifetime: got %d want 1", c)
	}
	now.Add(int64(299 * time.Millisecond))
	if _, _, h := get(t, tr.urls[0]+p); h.Get(edgecache.MaxAgeHeader) != "1" || o.count(p) != 1 {
		t.Fatalf("1 ms before expiry: max-age %q, origin fetches %d; want 1 and 1", h.Get(edgecache.MaxAgeHeader), o.count(p))
	}
	now.Add(int64(time.Millisecond))
	get(t, tr.urls[0]+p)
	if c := o.count(p); c != 2 {
		t.Fatalf("origin fetches after the 404 expired: got %d want 2", c)
	}
}

func TestBadRequests(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	for _, p := range []string{"/live/../etc/passwd", "/live/ch1/..%2f..%2fetc/passwd", "/etc/passwd", "/live/ch1/0/1.exe", "/live//x.m4s"} {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", tr.urls[0]+p, nil)
		req.URL.Opaque = p // send the path as is, uncleaned
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: got %d want 400", p, resp.StatusCode)
		}
	}
	resp, err := http.Post(tr.urls[0]+"/live/ch1/manifest.mpd", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: got %d want 405", resp.StatusCode)
	}
	if n := len(o.counts); n != 0 {
		t.Errorf("bad requests reached the origin %d times", n)
	}
}

func TestMetrics(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	get(t, tr.urls[0]+"/live/ch1/0/1.m4s")
	get(t, tr.urls[0]+"/live/ch1/0/1.m4s")
	_, b, _ := get(t, tr.urls[0]+"/metrics")
	text := string(b)
	for _, want := range []string{
		`edge_requests_total{result="hit"} 1`,
		`edge_requests_total{result="miss"} 1`,
		`edge_origin_fetches_total 1`,
		`edge_request_duration_seconds_bucket{result="hit",le="+Inf"} 1`,
		`edge_request_duration_seconds_count{result="miss"} 1`,
		"# TYPE edge_request_duration_seconds histogram",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	// go_goroutines counts at least the server's accept loop, the
	// connection serving this request and the cache sweeper.
	_, rest, _ := strings.Cut(text, "\ngo_goroutines ")
	if n, err := strconv.Atoi(strings.TrimSpace(rest)); err != nil || n < 3 {
		t.Errorf("go_goroutines: got %q (%v), want a count of at least 3", rest, err)
	}
}

// TestLargeNegativeHit: a cached 404 whose body is over DiskMin is served
// whole from the cache (a non-200 is always sent from memory).
func TestLargeNegativeHit(t *testing.T) {
	body := bytes.Repeat([]byte("n"), 32<<10)
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(edgecache.MaxAgeHeader, "60000")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		w.Write(body)
	})
	tr := newTier(t, o.srv.URL, 1, func(c *edgecache.Config) { c.DiskMin = 1 << 10 })
	p := "/live/ch1/0/404.m4s"
	for i, want := range []string{"miss", "hit"} {
		code, b, _ := get(t, tr.urls[0]+p)
		if code != http.StatusNotFound || !bytes.Equal(b, body) {
			t.Fatalf("request %d (%s): status %d, %d body bytes; want 404 and %d", i, want, code, len(b), len(body))
		}
	}
	if c := o.count(p); c != 1 {
		t.Errorf("origin fetches: got %d want 1", c)
	}
}

// TestRedirectRelayed: an origin's 3xx goes to the client as it is, with
// its Location; the edge neither follows it (which could send it to any
// host and cache that host's body under the requested key) nor caches it.
func TestRedirectRelayed(t *testing.T) {
	target := newFakeOrigin(t, slowSegment)
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(edgecache.MaxAgeHeader, "60000")
		http.Redirect(w, r, target.srv.URL+r.URL.Path, http.StatusFound)
	})
	tr := newTier(t, o.srv.URL, 1, nil)
	p := "/live/ch1/0/30.m4s"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := 0; i < 2; i++ {
		resp, err := noFollow.Get(tr.urls[0] + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target.srv.URL+p {
			t.Fatalf("request %d: status %d, Location %q; want 302 and %q", i, resp.StatusCode, resp.Header.Get("Location"), target.srv.URL+p)
		}
	}
	if c := o.count(p); c != 2 {
		t.Errorf("origin requests: got %d want 2 (one per request: a 3xx is not cached)", c)
	}
	if c := target.count(p); c != 0 {
		t.Errorf("redirect target requests: got %d want 0", c)
	}
	if st := tr.edges[0].Stats(); st.CacheEntries != 0 {
		t.Errorf("cache entries: got %d want 0", st.CacheEntries)
	}
}

// TestCloseTwice: a second Close is a no-op, not a panic.
func TestCloseTwice(t *testing.T) {
	e, err := edgecache.New(edgecache.Config{Origin: "http://127.0.0.1:1", Self: "http://127.0.0.1:2"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := e.Close(); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
}
