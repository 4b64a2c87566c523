package coalesce_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/edgekit/edgekit/coalesce"
)

// TestLinger: a finished result serves new callers inside the window and
// not after it; errors follow ErrorLinger separately.
func TestLinger(t *testing.T) {
	errFail := errors.New("origin said 503")
	for _, tc := range []struct {
		name        string
		linger      time.Duration
		errorLinger time.Duration
		fail        bool
		wantWindow  time.Duration // 0: no hit at all
	}{
		{"success lingers", time.Second, 0, false, time.Second},
		{"success without linger", 0, time.Minute, false, 0},
		{"error does not linger by default", time.Second, 0, true, 0},
		{"error lingers separately", time.Hour, 100 * time.Millisecond, true, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			g := coalesce.New[string, int](&coalesce.Options{Linger: tc.linger, ErrorLinger: tc.errorLinger, Clock: clk})
			calls := 0
			fn := func(context.Context) (int, error) {
				calls++
				if tc.fail {
					return calls, errFail
				}
				return calls, nil
			}
			ctx := context.Background()
			if v, shared, _ := g.Do(ctx, "seg", fn); v != 1 || shared {
				t.Fatalf("first Do = (%d, %v), want (1, false)", v, shared)
			}
			if tc.wantWindow > 0 {
				clk.Advance(tc.wantWindow - time.Nanosecond)
				v, shared, err := g.Do(ctx, "seg", fn)
				if v != 1 || !shared || (err != nil) != tc.fail {
					t.Fatalf("Do inside window = (%d, %v, %v), want the lingering (1, true)", v, shared, err)
				}
				if s := g.Stats(); s.LingerHits != 1 || s.Lingering != 1 {
					t.Fatalf("stats inside window = %+v, want 1 hit, 1 lingering", s)
				}
				clk.Advance(time.Nanosecond)
				if s := g.Stats(); s.Lingering != 0 {
					t.Fatalf("expired result still lingering: %+v", s)
				}
			}
			if v, shared, _ := g.Do(ctx, "seg", fn); v != 2 || shared {
				t.Fatalf("Do after window = (%d, %v), want a new call (2, false)", v, shared)
			}
		})
	}
}

// TestLingerExpiryFreesMemory: once the window passes, the sweep timer
// drops the result without any further call, so the GC can free it.
func TestLingerExpiryFreesMemory(t *testing.T) {
	clk := newClock()
	g := coalesce.New[string, *[1 << 20]byte](&coalesce.Options{Linger: time.Second, Clock: clk})
	var wp weak.Pointer[[1 << 20]byte]
	func() {
		v, _, _ := g.Do(context.Background(), "big", func(context.Context) (*[1 << 20]byte, error) {
			return new([1 << 20]byte), nil
		})
		wp = weak.Make(v)
	}()
	runtime.GC()
	if wp.Value() == nil {
		t.Fatal("lingering value freed inside its window")
	}
	if clk.Pending() != 1 {
		t.Fatalf("pending timers = %d, want the one sweep timer", clk.Pending())
	}
	clk.Advance(time.Second)
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("expired value still reachable after the sweep")
	}
	if clk.Pending() != 0 {
		t.Fatalf("pending timers = %d after the last expiry, want 0", clk.Pending())
	}
}

// TestLingerOneTimer: many lingering keys share one sweep timer, which
// re-arms for the next expiry and frees them in order.
func TestLingerOneTimer(t *testing.T) {
	clk := newClock()
	g := coalesce.New[int, int](&coalesce.Options{Linger: 10 * time.Second, ErrorLinger: 3 * time.Second, Clock: clk})
	ctx := context.Background()
	for i := range 100 {
		var err error
		if i%2 == 1 {
			err = errors.New("odd")
		}
		_, _, _ = g.Do(ctx, i, func(context.Context) (int, error) { return i, err })
		clk.Advance(10 * time.Millisecond)
	}
	if p := clk.Pending(); p != 1 {
		t.Fatalf("pending timers = %d, want 1", p)
	}
	if s := g.Stats(); s.Lingering != 100 {
		t.Fatalf("Lingering = %d, want 100", s.Lingering)
	}
	clk.Advance(3 * time.Second) // errors (odd keys) expire
	if s := g.Stats(); s.Lingering != 50 {
		t.Fatalf("Lingering after error window = %d, want 50", s.Lingering)
	}
	clk.Advance(7 * time.Second)
	if s := g.Stats(); s.Lingering != 0 || clk.Pending() != 0 {
		t.Fatalf("after all windows: Lingering = %d, pending timers = %d, want 0, 0", s.Lingering, clk.Pending())
	}
}

// TestLingerRealClock runs the default (real) clock inside a synctest
// bubble, whose fake time makes it exact.
func TestLingerRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := coalesce.New[string, int](&coalesce.Options{Linger: time.Second})
		calls := 0
		fn := func(context.Context) (int, error) { calls++; return calls, nil }
		_, _, _ = g.Do(context.Background(), "k", fn)
		time.Sleep(999 * time.Millisecond)
		if v, _, _ := g.Do(context.Background(), "k", fn); v != 1 {
			t.Fatalf("inside window got %d, want 1", v)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if s := g.Stats(); s.Lingering != 0 {
			t.Fatalf("Lingering = %d after expiry, want 0", s.Lingering)
		}
		if v, _, _ := g.Do(context.Background(), "k", fn); v != 2 {
			t.Fatalf("after window got %d, want 2", v)
		}
		_ = g.Close() // stops the sweep timer of the new result
	})
}
