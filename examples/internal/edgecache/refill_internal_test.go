package edgecache

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestMissAfterStoreServesFromCache: a request that missed the cache just
// before the previous flight stored the body and ended (simulated by
// calling serveMiss with the body already cached) is answered from the
// cache, not by a second upstream fetch — for a memory body and a file.
func TestMissAfterStoreServesFromCache(t *testing.T) {
	e, fetches := countingEdge(t, Config{CacheDir: t.TempDir()})
	for _, size := range []int{100, 64 << 10} { // under and over the disk threshold
		key := "/live/c/v/seg" + string(rune('0'+size%10)) + ".m4s"
		body := bytes.Repeat([]byte{byte(size)}, size)
		e.cache.put(key, http.StatusOK, "video/mp4", body, time.Minute)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, key, nil)
		e.serveMiss(rec, req, key, time.Now())
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), body) {
			t.Fatalf("size %d: status %d, %d body bytes, want 200 and the cached %d", size, rec.Code, rec.Body.Len(), size)
		}
		if got := rec.Header().Get("X-Cache-Via"); got != "cache" {
			t.Errorf("size %d: X-Cache-Via %q, want cache", size, got)
		}
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("origin fetched %d times, want 0", n)
	}
	if st := e.Stats(); st.Refilled != 2 || st.OriginFetches != 0 {
		t.Errorf("stats: refilled %d, origin fetches %d; want 2, 0", st.Refilled, st.OriginFetches)
	}
}

// TestMissWaitsForAbandonedFill: a flight whose last viewer hung up leaves
// the flight map while its fill is still storing the body; a request in
// that window starts a new flight, whose fill must wait for the old one and
// answer from the cache instead of fetching again (the second origin fetch
// bench/edgebench's TestPeers caught). The old fill is simulated by a
// registered fill that stores the body and then ends.
func TestMissWaitsForAbandonedFill(t *testing.T) {
	e, fetches := countingEdge(t, Config{})
	key := "/vod/a/seg-1.m4s"
	flightKey := key + "\x00origin" // this edge owns every key: a tier of one
	_, oldFill := e.fills.enter(flightKey)

	servedFromCacheAfter(t, e, key, "the previous fill", func() { e.fills.exit(flightKey, oldFill) })
	if n := fetches.Load(); n != 0 {
		t.Errorf("origin fetched %d times, want 0", n)
	}
	if len(e.fills.m) != 0 {
		t.Errorf("fill registry keeps %d keys after every fill ended", len(e.fills.m))
	}
}

// TestCancelledMiddleFillKeepsChain: fills of one flight key form a chain
// A ← B ← C. When B's request ends while B waits for A, B must not release
// C before A is done: C would miss the cache and fetch a second time.
func TestCancelledMiddleFillKeepsChain(t *testing.T) {
	e, fetches := countingEdge(t, Config{})
	key := "/vod/a/seg-2.m4s"
	flightKey := key + "\x00origin"
	_, fillA := e.fills.enter(flightKey)

	// B: a request whose client leaves while its fill waits for A.
	ctxB, cancelB := context.WithCancel(context.Background())
	servedB := make(chan struct{})
	go func() {
		defer close(servedB)
		req := httptest.NewRequest(http.MethodGet, key, nil).WithContext(ctxB)
		e.serveMiss(httptest.NewRecorder(), req, key, time.Now())
	}()
	waitFor(t, "fill B registered", func() bool {
		e.fills.mu.Lock()
		defer e.fills.mu.Unlock()
		return e.fills.m[flightKey] != fillA
	})
	cancelB()
	<-servedB

	// C: a request after B left, while A still runs.
	servedFromCacheAfter(t, e, key, "fill A", func() { e.fills.exit(flightKey, fillA) })
	if n := fetches.Load(); n != 0 {
		t.Errorf("origin fetched %d times, want 0", n)
	}
	waitFor(t, "fill registry empty", func() bool {
		e.fills.mu.Lock()
		defer e.fills.mu.Unlock()
		return len(e.fills.m) == 0
	})
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// countingEdge returns an Edge (cfg with its Origin and Self filled in) on
// an origin that counts its requests.
func countingEdge(t *testing.T, cfg Config) (*Edge, *atomic.Int64) {
	t.Helper()
	fetches := new(atomic.Int64)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write([]byte("from origin"))
	}))
	t.Cleanup(origin.Close)
	cfg.Origin, cfg.Self = origin.URL, "http://127.0.0.1:1"
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, fetches
}

// servedFromCacheAfter starts a miss for key, checks that it is not answered
// while the fill it waits for (named running) runs, then stores a body
// under key and calls finish (the end of that fill), and checks that the
// miss is answered with the stored body, from the cache.
func servedFromCacheAfter(t *testing.T, e *Edge, key, running string, finish func()) {
	t.Helper()
	rec := httptest.NewRecorder()
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.serveMiss(rec, httptest.NewRequest(http.MethodGet, key, nil), key, time.Now())
	}()
	select {
	case <-served:
		t.Fatalf("request answered (status %d, X-Cache-Via %q) while %s was still running", rec.Code, rec.Header().Get("X-Cache-Via"), running)
	case <-time.After(50 * time.Millisecond):
	}
	body := bytes.Repeat([]byte("x"), 4096)
	e.cache.put(key, http.StatusOK, "video/mp4", body, time.Minute)
	finish()
	<-served
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), body) || rec.Header().Get("X-Cache-Via") != "cache" {
		t.Fatalf("status %d, %d body bytes, X-Cache-Via %q; want 200, the cached body, cache", rec.Code, rec.Body.Len(), rec.Header().Get("X-Cache-Via"))
	}
}
