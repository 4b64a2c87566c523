package segment_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/segment"
)

// fakeClock is a manually advanced Clock.
type fakeClock struct {
	mu      sync.Mutex // guards now, waiters
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	w := fakeWaiter{at: c.now.Add(d), ch: ch}
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, w)
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// waitFor polls cond for up to 5 s of real time (goroutines under test need
// scheduling, not wall-clock time, to make progress).
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

// TestLoopSegmentsValid: segments across several loop boundaries inspect
// clean and continuous, lock to their own number, carry rewritten tfdt and
// sequence numbers, and are identical from two independent Loops.
func TestLoopSegmentsValid(t *testing.T) {
	a := loadVOD(t)
	if a.LoopDuration() != 8*time.Second || a.SegmentDuration() != 2*time.Second {
		t.Fatalf("asset: loop %v segment %v, want 8s/2s", a.LoopDuration(), a.SegmentDuration())
	}
	l1 := testLoop(t, &segment.LoopOptions{Start: epochStart, StartNumber: 5})
	l2 := testLoop(t, &segment.LoopOptions{Start: epochStart, StartNumber: 5})
	for _, id := range vodReps {
		t.Run("rep"+id, func(t *testing.T) {
			ib, _ := l1.Init(id)
			in, err := segment.InspectInit(ib)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(ib, []byte("mehd")) {
				t.Fatal("live init still carries a mehd")
			}
			var prev *segment.Info
			for n := uint64(1_000_001); n < 1_000_011; n++ {
				b, err := l1.Segment(id, n)
				if err != nil {
					t.Fatal(err)
				}
				b2, _ := l2.Segment(id, n)
				if !bytes.Equal(b, b2) {
					t.Fatalf("segment %d differs between two loops", n)
				}
				info := segment.Inspect(in, b, prev)
				if err := info.Err(); err != nil {
					t.Fatalf("segment %d: %v", n, err)
				}
				if err := l1.Epoch().Lock(info); err != nil || info.Number != n {
					t.Fatalf("segment %d locked to %d: %v", n, info.Number, err)
				}
				if want := uint32(n - 5 + 1); info.SequenceNumber != want {
					t.Fatalf("segment %d: mfhd %d, want %d", n, info.SequenceNumber, want)
				}
				prev = info
			}
		})
	}
	if _, err := l1.Segment("nope", 9); !errors.Is(err, segment.ErrUnknownRendition) {
		t.Fatalf("unknown rendition: got %v", err)
	}
	if _, err := l1.Segment("0", 4); !errors.Is(err, segment.ErrNotAvailable) {
		t.Fatalf("number before start: got %v", err)
	}
}

func TestLoopChunks(t *testing.T) {
	l := testLoop(t, &segment.LoopOptions{Start: epochStart, ChunkDuration: 500 * time.Millisecond})
	for _, id := range []string{"1", "3"} {
		ib, _ := l.Init(id)
		in, _ := segment.InspectInit(ib)
		chunks, err := l.Chunks(id, 42)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) != 4 {
			t.Fatalf("rep %s: %d chunks, want 4", id, len(chunks))
		}
		var prev *segment.Info
		for j, c := range chunks {
			info := segment.InspectChunk(in, c, prev)
			if err := info.Err(); err != nil {
				t.Fatalf("rep %s chunk %d: %v", id, j, err)
			}
			if j == 0 {
				if err := segment.Inspect(in, c, nil).Err(); err != nil {
					t.Fatalf("first chunk must start with a keyframe: %v", err)
				}
			}
			prev = info
		}
		whole, _ := l.Segment(id, 42)
		info := segment.Inspect(in, whole, nil)
		if err := info.Err(); err != nil || info.Fragments != 4 {
			t.Fatalf("rep %s whole chunked segment: fragments %d, %v", id, info.Fragments, err)
		}
	}
	if _, err := segment.NewLoop(loadVOD(t), &segment.LoopOptions{ChunkDuration: 300 * time.Millisecond}); err == nil {
		t.Fatal("chunk duration that does not divide the segment accepted")
	}
}

// lockedWriter records how many bytes had arrived at each Flush.
type lockedWriter struct {
	mu      sync.Mutex // guards buf, flushes
	buf     bytes.Buffer
	flushes []int
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes = append(w.flushes, w.buf.Len())
}

func (w *lockedWriter) nflush() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.flushes)
}

// TestLoopWriteSegmentSchedule: chunks go out when the clock says they are
// complete, not before.
func TestLoopWriteSegmentSchedule(t *testing.T) {
	clk := &fakeClock{now: epochStart.Add(20 * time.Second)} // segment 10 starts now
	l := testLoop(t, &segment.LoopOptions{Start: epochStart, ChunkDuration: 500 * time.Millisecond, Clock: clk})
	w := &lockedWriter{}
	done := make(chan error, 1)
	go func() { done <- l.WriteSegment(context.Background(), w, "0", 10) }()
	for j := 1; j <= 4; j++ {
		waitFor(t, "writer to wait on the clock", func() bool { return clk.pending() == 1 })
		if got := w.nflush(); got != j-1 {
			t.Fatalf("before chunk %d is complete: %d chunks written", j, got)
		}
		clk.Advance(500 * time.Millisecond)
		waitFor(t, "chunk to be written", func() bool { return w.nflush() == j })
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want, _ := l.Segment("0", 10)
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatal("streamed bytes differ from Segment")
	}
}

func TestLoopHandler(t *testing.T) {
	clk := &fakeClock{now: epochStart.Add(100*time.Second + 300*time.Millisecond)} // segment 49 is complete, 50 in progress
	l := testLoop(t, &segment.LoopOptions{Start: epochStart, Clock: clk, TimeShiftBufferDepth: 10 * time.Second})
	srv := httptest.NewServer(l.Handler(nil))
	defer srv.Close()
	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/manifest.mpd", 200}, {"/master.m3u8", 200}, {"/0.m3u8", 200}, {"/0/init.mp4", 200},
		{"/0/49.m4s", 200}, {"/0/52.m4s", 404}, {"/0/40.m4s", 410}, {"/9/49.m4s", 404}, {"/9.m3u8", 404},
		{"/0/x.m4s", 404}, {"/time", 200},
	} {
		if code, b := get(tc.path); code != tc.code {
			t.Errorf("GET %s: got %d, want %d (%s)", tc.path, code, tc.code, b)
		}
	}
	if _, b := get("/manifest.mpd"); !bytes.Contains(b, []byte(srv.URL+"/time")) {
		t.Errorf("MPD UTCTiming does not point at the handler:\n%s", b)
	}
	// Segment 50 completes in 1.7 s, within the hold-open window: the
	// request is held and answered once the clock gets there.
	got := make(chan int, 1)
	go func() { code, _ := get("/0/50.m4s"); got <- code }()
	waitFor(t, "request to be held", func() bool { return clk.pending() == 1 })
	select {
	case code := <-got:
		t.Fatalf("held request answered early with %d", code)
	default:
	}
	clk.Advance(2 * time.Second)
	if code := <-got; code != 200 {
		t.Fatalf("held request: got %d, want 200", code)
	}
}

func TestLoopRun(t *testing.T) {
	clk := &fakeClock{now: epochStart.Add(7 * time.Second)} // inside segment 3
	l := testLoop(t, &segment.LoopOptions{Start: epochStart, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex // guards got
	var got []segment.Chunk
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(c segment.Chunk) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
			return nil
		})
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for i := 0; i < 3; i++ {
		waitFor(t, "Run to wait", func() bool { return clk.pending() == 1 })
		clk.Advance(2 * time.Second)
		waitFor(t, "segment emitted", func() bool { return count() == 4*(i+1) })
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[0].Number != 3 || got[0].Rendition != "0" || !got[0].Last || got[11].Number != 5 {
		t.Fatalf("emitted %d chunks starting %+v", len(got), got[0].Number)
	}
}

// TestLoopHandlerClientLeaves: a held request whose client goes away ends
// without waiting for the segment (goleak in TestMain checks nothing stays).
func TestLoopHandlerClientLeaves(t *testing.T) {
	clk := &fakeClock{now: epochStart.Add(100*time.Second + 300*time.Millisecond)}
	l := testLoop(t, &segment.LoopOptions{Start: epochStart, Clock: clk})
	h := l.Handler(nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/0/50.m4s", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	waitFor(t, "request to be held", func() bool { return clk.pending() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("held request did not end when its client left")
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("wrote %d bytes to a client that left", rec.Body.Len())
	}
}
