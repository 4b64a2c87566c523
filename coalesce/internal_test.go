package coalesce

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLingerQueue drives the FIFO through pushes, removals from the middle
// and pops past the compaction threshold, checking order and base.
func TestLingerQueue(t *testing.T) {
	var q lingerQueue[int, int]
	var all []*flight[int, int]
	for i := range 1000 {
		f := &flight[int, int]{key: i}
		q.push(f)
		all = append(all, f)
	}
	for i := 0; i < 1000; i += 3 {
		q.remove(all[i]) // forgotten: their slots must be skipped
	}
	for i := range 1000 {
		if i%3 == 0 {
			continue
		}
		f := q.front()
		if f != all[i] {
			t.Fatalf("front = %v, want key %d", f, i)
		}
		q.pop()
		if i == 601 {
			// Pushing after compaction must keep sequence numbers valid.
			g := &flight[int, int]{key: 1000}
			q.push(g)
			all = append(all, g)
		}
	}
	if f := q.front(); f != all[1000] {
		t.Fatalf("front after drain = %v, want the late push", f)
	}
	q.remove(all[1000])
	if f := q.front(); f != nil {
		t.Fatalf("front = %v, want empty", f)
	}
	if len(q.items) != 0 || q.head != 0 {
		t.Fatalf("queue not compacted: len %d head %d", len(q.items), q.head)
	}
	q.remove(all[5]) // long gone: must be a no-op
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
	if n := runtime.NumGoroutine(); n != before {
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
