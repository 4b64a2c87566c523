package coalesce

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLingerHeap pushes flights with random expiries, removes some from the
// middle (Forget), and checks the rest pop in expiry order with their
// indexes kept right. Replay with COALESCE_SEED=<logged seed>.
func TestLingerHeap(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v, _ := strconv.ParseUint(os.Getenv("COALESCE_SEED"), 10, 64); v != 0 {
		seed = v
	}
	t.Logf("seed %d (replay with COALESCE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var h lingerHeap[int, int]
	var all []*flight[int, int]
	for i := range 1000 {
		f := &flight[int, int]{key: i, qidx: -1, expires: int64(rng.IntN(1e6))}
		heap.Push(&h, f)
		all = append(all, f)
	}
	for i := 0; i < len(all); i += 3 {
		heap.Remove(&h, int(all[i].qidx))
		if all[i].qidx != -1 {
			t.Fatalf("removed flight keeps index %d", all[i].qidx)
		}
	}
	for i, f := range h {
		if int(f.qidx) != i {
			t.Fatalf("h[%d].qidx = %d", i, f.qidx)
		}
	}
	last := int64(0)
	n := 0
	for h.Len() > 0 {
		f := heap.Pop(&h).(*flight[int, int])
		if f.expires < last {
			t.Fatalf("seed %d: popped %v after %v", seed, f.expires, last)
		}
		if f.key%3 == 0 {
			t.Fatalf("seed %d: removed flight %d popped", seed, f.key)
		}
		last = f.expires
		n++
	}
	if n != 666 {
		t.Fatalf("popped %d, want 666", n)
	}
}

// TestFlightCtx checks the context contract of the flight's context:
// lazily made Done, Err by cause, values, and AfterFunc/stop semantics
// that let derived contexts avoid a goroutine.
func TestFlightCtx(t *testing.T) {
	type key struct{}
	var c flightCtx
	c.init(context.WithValue(context.Background(), key{}, "v"))
	if c.Value(key{}) != "v" || c.Err() != nil {
		t.Fatalf("Value = %v, Err = %v", c.Value(key{}), c.Err())
	}
	if _, ok := c.Deadline(); ok {
		t.Fatal("Deadline reported without a leader deadline")
	}
	ran := 0
	stopMe := c.AfterFunc(func() { ran += 10 })
	c.AfterFunc(func() { ran++ })
	if !stopMe() || stopMe() {
		t.Fatal("stop: want true once, then false")
	}
	before := runtime.NumGoroutine()
	child, cancelChild := context.WithCancel(&c)
	defer cancelChild()
	if n := runtime.NumGoroutine(); n > before { // only growth counts: earlier tests' goroutines may still be exiting
		t.Fatalf("deriving a context started %d goroutines", n-before)
	}
	c.cancel(causeAbandoned)
	c.cancel(causeClosed) // first cause wins
	if ran != 1 {
		t.Fatalf("after-functions ran = %d, want only the unstopped one", ran)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after cancel")
	}
	if !errors.Is(c.Err(), context.Canceled) || c.why() != ErrAbandoned {
		t.Fatalf("Err = %v, why = %v", c.Err(), c.why())
	}
	<-child.Done()
	late := false
	if c.AfterFunc(func() { late = true })(); !late {
		t.Fatal("AfterFunc on a cancelled context did not run f at once")
	}

	d := flightCtx{dl: &leaderDeadline{at: time.Unix(100, 0)}}
	d.cancel(causeLeaderTimeout)
	if at, ok := d.Deadline(); !ok || !at.Equal(time.Unix(100, 0)) || d.Err() != context.DeadlineExceeded {
		t.Fatalf("deadline ctx: Deadline = %v %v, Err = %v", at, ok, d.Err())
	}
}

// TestFlightCtxCancelRace races cancel against the first Done and
// AfterFunc calls: in every trial Done must end up closed exactly once and
// every after-function run exactly once, whichever side came first.
func TestFlightCtxCancelRace(t *testing.T) {
	for trial := range 2000 {
		var c flightCtx
		var ran atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; c.cancel(causeAbandoned) })
		wg.Go(func() { <-start; c.AfterFunc(func() { ran.Add(1) }) })
		var done <-chan struct{}
		wg.Go(func() { <-start; done = c.Done() })
		close(start)
		wg.Wait()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("trial %d: Done never closed", trial)
		}
		if n := ran.Load(); n != 1 {
			t.Fatalf("trial %d: after-function ran %d times, want 1", trial, n)
		}
		if c.Err() != context.Canceled {
			t.Fatalf("trial %d: Err = %v", trial, c.Err())
		}
	}
}

// TestHintedBodyIsOneChunk: a body whose size was hinted is stored in one
// chunk of exactly that size; reading the source's EOF must not add another
// (it used to add a 1 MiB one, held for as long as the body lingered).
func TestHintedBodyIsOneChunk(t *testing.T) {
	const n = 2 << 20
	s := NewStream[string, int](&Options{Linger: time.Minute})
	defer s.Close()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	rd, err := s.Open(context.Background(), "seg", func(_ context.Context, w *Writer[int]) error {
		w.SizeHint(n)
		_, err := w.ReadFrom(bytesReader(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, err := rd.Wait(); err != nil {
		t.Fatal(err)
	}
	rd.b.mu.Lock()
	defer rd.b.mu.Unlock()
	if len(rd.b.chunks) != 1 || cap(rd.b.chunks[0]) != n || rd.b.size != n {
		var caps []int
		for _, c := range rd.b.chunks {
			caps = append(caps, cap(c))
		}
		t.Fatalf("body of %d bytes in chunks of capacity %v; want one of %d", rd.b.size, caps, n)
	}
}

// bytesReader is a reader that, like bytes.Reader and most network bodies,
// returns its data and then io.EOF from a later Read.
func bytesReader(p []byte) io.Reader { return &sliceReader{p: p} }

type sliceReader struct{ p []byte }

func (r *sliceReader) Read(b []byte) (int, error) {
	if len(r.p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.p)
	r.p = r.p[n:]
	return n, nil
}
