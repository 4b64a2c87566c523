package edgecache_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
)

// cutOrigin serves segmentBody with the validators it is given and
// honours "Range: bytes=N-" when If-Range matches one. Its first cuts
// responses (whole or partial) stop after half their bytes: at once, or
// after holding the connection for stall.
type cutOrigin struct {
	etag, lastMod string // validators it sends ("" none)
	changed       bool   // answer every Range with a 200 of another body, as after a change
	stall         time.Duration
	rangeDelay    time.Duration // before answering a Range
	cuts          atomic.Int32

	mu     sync.Mutex // guards gets, ranges
	gets   int        // requests without Range
	ranges []string   // "Range | If-Range" of each request with one
}

func (o *cutOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := segmentBody(r.URL.Path)
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set(edgecache.MaxAgeHeader, "60000")
	if o.etag != "" {
		h.Set("ETag", o.etag)
	}
	if o.lastMod != "" {
		h.Set("Last-Modified", o.lastMod)
	}
	from := 0
	o.mu.Lock()
	if rg := r.Header.Get("Range"); rg != "" {
		o.ranges = append(o.ranges, rg+" | "+r.Header.Get("If-Range"))
		ir := r.Header.Get("If-Range")
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		switch {
		case o.changed:
			body = bytes.ToUpper(body)
		case err == nil && n > 0 && n < len(body) && ir != "" && (ir == o.etag || ir == o.lastMod):
			from = n
		}
	} else {
		o.gets++
	}
	o.mu.Unlock()
	if r.Header.Get("Range") != "" {
		time.Sleep(o.rangeDelay)
	}
	rest := body[from:]
	h.Set("Content-Length", strconv.Itoa(len(rest)))
	if from > 0 {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	if o.cuts.Add(-1) >= 0 {
		_, _ = w.Write(rest[:len(rest)/2])
		w.(http.Flusher).Flush()
		select {
		case <-time.After(o.stall):
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler) // the connection closes mid-body
	}
	_, _ = w.Write(rest)
}

func (o *cutOrigin) counts() (int, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets, append([]string(nil), o.ranges...)
}

// TestResumeCutBody: a body the origin cuts short is resumed where it
// stopped with a Range request validated by If-Range, so viewers get it
// whole and it is cached; without a strong validator, with resuming off,
// or when the origin does not answer with the missing bytes, viewers get a
// short body and nothing is cached, as before.
func TestResumeCutBody(t *testing.T) {
	old := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name     string
		o        *cutOrigin
		cuts     int32
		attempts int
		resumed  bool
		ranges   []string // If-Range of each Range request
	}{
		{name: "last-modified", o: &cutOrigin{lastMod: old}, cuts: 1, resumed: true, ranges: []string{old}},
		{name: "strong etag first", o: &cutOrigin{etag: `"v1"`, lastMod: old}, cuts: 1, resumed: true, ranges: []string{`"v1"`}},
		{name: "stalled", o: &cutOrigin{lastMod: old, stall: 5 * time.Second}, cuts: 1, resumed: true, ranges: []string{old}},
		{name: "cut twice", o: &cutOrigin{lastMod: old}, cuts: 2, resumed: true, ranges: []string{old, old}},
		{name: "cut every time", o: &cutOrigin{lastMod: old}, cuts: 3, attempts: 2, ranges: []string{old, old}},
		{name: "changed", o: &cutOrigin{lastMod: old, changed: true}, cuts: 1, ranges: []string{old}},
		{name: "weak etag only", o: &cutOrigin{etag: `W/"v1"`}, cuts: 1},
		{name: "no validator", o: &cutOrigin{}, cuts: 1},
		{name: "last-modified not a second before date", o: &cutOrigin{lastMod: time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}, cuts: 1},
		{name: "resume off", o: &cutOrigin{lastMod: old}, cuts: 1, attempts: -1},
	} {
		for _, disk := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/disk=%v", tc.name, disk), func(t *testing.T) {
				o := tc.o
				if !disk {
					o = &cutOrigin{etag: tc.o.etag, lastMod: tc.o.lastMod, changed: tc.o.changed, stall: tc.o.stall}
				}
				o.cuts.Store(tc.cuts)
				srv := httptest.NewServer(o)
				defer srv.Close()
				tr := newTier(t, srv.URL, 1, func(c *edgecache.Config) {
					c.ResumeAttempts = tc.attempts
					c.StallTimeout = 200 * time.Millisecond
					if !disk {
						c.CacheDir = ""
					}
				})
				const p = "/live/ch1/0/7.m4s"
				want := segmentBody(p)
				status, b, _ := get(t, tr.urls[0]+p)
				gets, ranges := o.counts()
				var ir []string
				for _, r := range ranges {
					if !strings.HasPrefix(r, "bytes=") {
						t.Errorf("Range request %q", r)
					}
					ir = append(ir, r[strings.Index(r, " | ")+3:])
				}
				if fmt.Sprint(ir) != fmt.Sprint(tc.ranges) {
					t.Errorf("Range requests carried If-Range %q, want %q", ir, tc.ranges)
				}
				st := tr.edges[0].Stats()
				if tc.resumed {
					if status != http.StatusOK || !bytes.Equal(b, want) {
						t.Fatalf("resumed body: status %d, %d bytes (want %d), equal %v", status, len(b), len(want), bytes.Equal(b, want))
					}
					if st.Resumes != int64(len(tc.ranges)) || st.Resumed != 1 {
						t.Errorf("Stats: Resumes %d, Resumed %d; want %d, 1", st.Resumes, st.Resumed, len(tc.ranges))
					}
					// Cached whole: the next request is a hit.
					if status, b, _ := get(t, tr.urls[0]+p); status != http.StatusOK || !bytes.Equal(b, want) {
						t.Fatalf("after the resume: status %d, %d bytes", status, len(b))
					}
					if g, r := o.counts(); g != gets || len(r) != len(ranges) {
						t.Errorf("the resumed body was not cached: origin requests went from %d+%d to %d+%d", gets, len(ranges), g, len(r))
					}
					return
				}
				if status != -1 || len(b) >= len(want) {
					t.Fatalf("a body cut short reached the viewer as status %d with %d of %d bytes", status, len(b), len(want))
				}
				if st.Resumed != 0 {
					t.Errorf("Stats.Resumed %d, want 0", st.Resumed)
				}
				// Not cached: the next request goes to the origin again and,
				// with no cuts left, gets the whole body.
				if status, b, _ := get(t, tr.urls[0]+p); status != http.StatusOK || !bytes.Equal(b, want) {
					t.Fatalf("refetch: status %d, %d bytes", status, len(b))
				}
				if g, _ := o.counts(); g != gets+1 {
					t.Errorf("origin GETs went from %d to %d after the cut body, want one more (not cached)", gets, g)
				}
			})
		}
	}
}

// TestResumeCutBodyJoined: every viewer joined to a flight whose origin
// body stalls and is resumed gets the whole body, for one origin GET and
// one Range request.
func TestResumeCutBodyJoined(t *testing.T) {
	o := &cutOrigin{lastMod: time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), stall: 5 * time.Second}
	o.cuts.Store(1)
	srv := httptest.NewServer(o)
	defer srv.Close()
	tr := newTier(t, srv.URL, 1, func(c *edgecache.Config) { c.StallTimeout = 300 * time.Millisecond })
	const p, n = "/live/ch1/0/8.m4s", 20
	want := segmentBody(p)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, b, _ := get(t, tr.urls[0]+p); status != http.StatusOK || !bytes.Equal(b, want) {
				t.Errorf("viewer %d: status %d, %d of %d bytes", i, status, len(b), len(want))
			}
		}()
	}
	wg.Wait()
	gets, ranges := o.counts()
	st := tr.edges[0].Stats()
	if gets != 1 || len(ranges) != 1 || st.Resumed != 1 {
		t.Errorf("origin GETs %d, Range requests %v, Stats.Resumed %d; want 1, one, 1", gets, ranges, st.Resumed)
	}
	// A viewer whose goroutine started after the resumed body was stored
	// is a hit; the others joined the flight.
	if st.Misses+st.Coalesced+st.Hits != n || st.Coalesced == 0 {
		t.Errorf("misses %d, coalesced %d, hits %d; want %d viewers, some coalesced", st.Misses, st.Coalesced, st.Hits, n)
	}
}

// TestResumeThroughPeer: a member relaying the owner's body waits out the
// owner's stall and resume instead of cutting its own viewers first.
func TestResumeThroughPeer(t *testing.T) {
	const paths = 4
	o := &cutOrigin{lastMod: time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), stall: 5 * time.Second,
		rangeDelay: 150 * time.Millisecond}
	o.cuts.Store(paths) // the owner's one origin GET per path
	srv := httptest.NewServer(o)
	defer srv.Close()
	// The owner is silent for its stall timeout plus the Range's delay:
	// longer than one stall timeout, shorter than two.
	tr := newTier(t, srv.URL, 2, func(c *edgecache.Config) { c.StallTimeout = 300 * time.Millisecond })
	var wg sync.WaitGroup
	for i := range paths {
		p := fmt.Sprintf("/live/ch1/0/%d.m4s", 20+i)
		for _, u := range tr.urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if status, b, _ := get(t, u+p); status != http.StatusOK || !bytes.Equal(b, segmentBody(p)) {
					t.Errorf("%s via %s: status %d, %d bytes", p, u, status, len(b))
				}
			}()
		}
	}
	wg.Wait()
	gets, ranges := o.counts()
	st0, st1 := tr.edges[0].Stats(), tr.edges[1].Stats()
	if gets != paths || len(ranges) != paths || st0.Resumed+st1.Resumed != paths || st0.PeerFetches+st1.PeerFetches != paths {
		t.Errorf("origin GETs %d, Ranges %d, resumed %d, peer fetches %d; want %d of each",
			gets, len(ranges), st0.Resumed+st1.Resumed, st0.PeerFetches+st1.PeerFetches, paths)
	}
}
