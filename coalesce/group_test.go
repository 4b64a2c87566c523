package coalesce_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgekit/edgekit/coalesce"
)

// TestDoManyCallersOneCall is the headline: 10,000 concurrent
// callers for one key cause exactly one call, and all get the same bytes.
func TestDoManyCallersOneCall(t *testing.T) {
	const callers = 10_000
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g coalesce.Group[string, []byte]
				var calls atomic.Int32
				release := make(chan struct{})
				want := make([]byte, 4096)
				for i := range want {
					want[i] = byte(rand.Uint32())
				}
				fn := func(context.Context) ([]byte, error) {
					calls.Add(1)
					<-release
					return bytes.Clone(want), nil
				}
				got := make([][]byte, callers)
				shared := make([]bool, callers)
				errs := make([]error, callers)
				var wg sync.WaitGroup
				for i := range callers {
					wg.Go(func() {
						ctx, cancel := tc.ctx()
						defer cancel()
						got[i], shared[i], errs[i] = g.Do(ctx, "seg-1", fn)
					})
				}
				synctest.Wait() // every caller is now blocked in Do
				if s := g.Stats(); s.Flights != 1 || s.Joins != callers-1 || s.InFlight != 1 {
					t.Fatalf("stats while blocked = %+v, want 1 flight, %d joins, 1 in flight", s, callers-1)
				}
				close(release)
				wg.Wait()
				if n := calls.Load(); n != 1 {
					t.Fatalf("fn ran %d times, want 1", n)
				}
				for i := range callers {
					if errs[i] != nil || !shared[i] || !bytes.Equal(got[i], want) {
						t.Fatalf("caller %d: err=%v shared=%v equal=%v, want nil, true, true", i, errs[i], shared[i], bytes.Equal(got[i], want))
					}
					if &got[i][0] != &got[0][0] {
						t.Fatalf("caller %d got its own copy; want the one shared slice", i)
					}
				}
				if s := g.Stats(); s.InFlight != 0 || s.Lingering != 0 {
					t.Fatalf("stats after = %+v, want nothing in flight or lingering", s)
				}
			})
		})
	}
}

// TestDoWaiterCancel: one waiter giving up returns at once with its own
// ctx error and changes nothing for the others or for fn.
func TestDoWaiterCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g coalesce.Group[string, int]
		release := make(chan struct{})
		var fnCtx context.Context
		fn := func(ctx context.Context) (int, error) {
			fnCtx = ctx
			<-release
			return 42, ctx.Err()
		}
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		defer cancelLeader()
		type res struct {
			v      int
			shared bool
			err    error
		}
		results := make([]chan res, 3)
		cancels := make([]context.CancelFunc, 3)
		for i := range results {
			results[i] = make(chan res, 1)
			ctx := leaderCtx
			if i > 0 {
				ctx, cancels[i] = context.WithCancel(context.Background())
				defer cancels[i]()
			}
			go func() {
				v, shared, err := g.Do(ctx, "k", fn)
				results[i] <- res{v, shared, err}
			}()
			synctest.Wait()
		}
		// The leader itself leaves first: fn must not notice.
		cancelLeader()
		if r := <-results[0]; !errors.Is(r.err, context.Canceled) || r.v != 0 {
			t.Fatalf("cancelled leader got (%d, %v), want (0, context.Canceled)", r.v, r.err)
		}
		cancels[1]()
		if r := <-results[1]; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled waiter got err %v, want context.Canceled", r.err)
		}
		synctest.Wait()
		if err := fnCtx.Err(); err != nil {
			t.Fatalf("fn's ctx ended (%v) while a waiter remained", err)
		}
		close(release)
		if r := <-results[2]; r.err != nil || r.v != 42 || !r.shared {
			t.Fatalf("remaining waiter got %+v, want 42, shared, nil", r)
		}
	})
}

// TestDoAllWaitersCancel: when every waiter has gone, fn's context is
// cancelled with the abandonment, and the key starts afresh.
func TestDoAllWaitersCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g coalesce.Group[string, int]
		fnErr := make(chan error, 1)
		fn := func(ctx context.Context) (int, error) {
			<-ctx.Done()
			fnErr <- ctx.Err()
			return 0, ctx.Err()
		}
		var wg sync.WaitGroup
		var cancels []context.CancelFunc
		for range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			wg.Go(func() {
				if _, _, err := g.Do(ctx, "k", fn); !errors.Is(err, context.Canceled) {
					t.Errorf("Do = %v, want context.Canceled", err)
				}
			})
		}
		synctest.Wait()
		for i, cancel := range cancels {
			cancel()
			if i < len(cancels)-1 {
				synctest.Wait()
				select {
				case err := <-fnErr:
					t.Fatalf("fn's ctx ended (%v) with %d waiters left", err, len(cancels)-1-i)
				default:
				}
			}
		}
		wg.Wait()
		if err := <-fnErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("fn's ctx err = %v, want context.Canceled", err)
		}
		if s := g.Stats(); s.Abandoned != 1 || s.InFlight != 0 {
			t.Fatalf("stats = %+v, want 1 abandoned, 0 in flight", s)
		}
		v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
		if v != 7 || shared || err != nil {
			t.Fatalf("Do after abandonment = (%d, %v, %v), want a fresh call (7, false, nil)", v, shared, err)
		}
	})
}

// TestDoContextValues: fn sees the first caller's values but not its
// cancellation, and contexts derived from fn's are cancelled with it.
func TestDoContextValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g coalesce.Group[string, string]
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "trace-1"))
		derived := make(chan context.Context, 1)
		fn := func(ctx context.Context) (string, error) {
			child, stop := context.WithTimeout(ctx, time.Hour)
			defer stop()
			derived <- child
			<-ctx.Done()
			if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("context.Cause(fn ctx) = %v, want context.Canceled", err)
			}
			return ctx.Value(key{}).(string), nil
		}
		go func() { _, _, _ = g.Do(ctx, "k", fn) }()
		child := <-derived
		if _, ok := child.Deadline(); !ok {
			t.Fatal("derived context lost its deadline")
		}
		cancel() // the only waiter leaves: fn's ctx and the child end
		<-child.Done()
		if err := child.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("derived ctx err = %v, want context.Canceled", err)
		}
	})
}

// TestDoPanic: a panic in fn reaches every waiter as a *PanicError with the
// stack, the process survives, and the key works again at once.
func TestDoPanic(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		value any
		is    error
	}{
		{"string", "kaput", nil},
		{"error", errBoom, errBoom},
		{"nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g coalesce.Group[int, int]
				release := make(chan struct{})
				fn := func(context.Context) (int, error) {
					<-release
					panic(tc.value)
				}
				errs := make(chan error, 3)
				for range 3 {
					go func() {
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						_, _, err := g.Do(ctx, 1, fn)
						errs <- err
					}()
				}
				synctest.Wait()
				close(release)
				for range 3 {
					err := <-errs
					var pe *coalesce.PanicError
					if !errors.As(err, &pe) {
						t.Fatalf("err = %v, want *PanicError", err)
					}
					if tc.value != nil && pe.Value != tc.value {
						t.Fatalf("panic value = %v, want %v", pe.Value, tc.value)
					}
					if !strings.Contains(string(pe.Stack), "group_test.go") {
						t.Fatalf("stack does not show the panicking fn:\n%s", pe.Stack)
					}
					if tc.is != nil && !errors.Is(err, tc.is) {
						t.Fatalf("errors.Is(err, %v) = false", tc.is)
					}
				}
				if s := g.Stats(); s.Panics != 1 {
					t.Fatalf("stats.Panics = %d, want 1", s.Panics)
				}
				v, _, err := g.Do(context.Background(), 1, func(context.Context) (int, error) { return 5, nil })
				if v != 5 || err != nil {
					t.Fatalf("Do after panic = (%d, %v), want (5, nil)", v, err)
				}
			})
		})
	}
}

// TestDoPanicInline: the leader that runs fn on its own goroutine (a
// context that cannot end) gets the error too, instead of the panic.
func TestDoPanicInline(t *testing.T) {
	var g coalesce.Group[int, int]
	_, _, err := g.Do(context.Background(), 1, func(context.Context) (int, error) { panic("inline") })
	var pe *coalesce.PanicError
	if !errors.As(err, &pe) || pe.Value != "inline" {
		t.Fatalf("err = %v, want *PanicError(inline)", err)
	}
}

// TestDoGoexit: fn calling runtime.Goexit wakes every waiter with
// ErrGoexit instead of hanging them.
func TestDoGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g coalesce.Group[int, int]
		release := make(chan struct{})
		fn := func(context.Context) (int, error) {
			<-release
			runtime.Goexit()
			return 0, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errs := make(chan error, 2)
		for range 2 {
			go func() { _, _, err := g.Do(ctx, 1, fn); errs <- err }()
		}
		synctest.Wait()
		close(release)
		for range 2 {
			if err := <-errs; !errors.Is(err, coalesce.ErrGoexit) {
				t.Fatalf("err = %v, want ErrGoexit", err)
			}
		}
	})
}

// TestDoValueAndError: fn's value and error reach every caller together,
// and such a result lingers under ErrorLinger, not Linger.
func TestDoValueAndError(t *testing.T) {
	errPartial := errors.New("partial")
	for _, tc := range []struct {
		name        string
		linger      time.Duration
		errorLinger time.Duration
		wantHit     bool
	}{
		{"no error linger", time.Minute, 0, false},
		{"error linger", 0, time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			g := coalesce.New[string, string](&coalesce.Options{Linger: tc.linger, ErrorLinger: tc.errorLinger, Clock: clk})
			calls := 0
			fn := func(context.Context) (string, error) { calls++; return "half", errPartial }
			for i := range 2 {
				v, shared, err := g.Do(context.Background(), "k", fn)
				if v != "half" || !errors.Is(err, errPartial) {
					t.Fatalf("call %d = (%q, %v), want (half, partial)", i, v, err)
				}
				if i == 1 && shared != tc.wantHit {
					t.Fatalf("second call shared = %v, want %v", shared, tc.wantHit)
				}
			}
			if want := map[bool]int{true: 1, false: 2}[tc.wantHit]; calls != want {
				t.Fatalf("fn ran %d times, want %d", calls, want)
			}
		})
	}
}

// TestDoLockTimeout: a waiter that has seen no result after LockTimeout
// runs its own call; the flight goes on for the others.
func TestDoLockTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		g := coalesce.New[string, string](&coalesce.Options{LockTimeout: 5 * time.Second, Clock: clk})
		release := make(chan struct{})
		leader := make(chan string, 1)
		go func() {
			v, _, _ := g.Do(context.Background(), "k", func(context.Context) (string, error) {
				<-release
				return "shared", nil
			})
			leader <- v
		}()
		synctest.Wait()
		joined := make(chan string, 1)
		var ownCtxIsCallers atomic.Bool
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ownKey{}, "mine"))
		defer cancel()
		go func() {
			v, shared, err := g.Do(ctx, "k", func(c context.Context) (string, error) {
				ownCtxIsCallers.Store(c == ctx)
				return "own", nil
			})
			if shared || err != nil {
				t.Errorf("fallback shared=%v err=%v, want false, nil", shared, err)
			}
			joined <- v
		}()
		synctest.Wait()
		clk.Advance(5*time.Second - time.Nanosecond)
		synctest.Wait()
		select {
		case v := <-joined:
			t.Fatalf("waiter left early with %q", v)
		default:
		}
		clk.Advance(time.Nanosecond)
		if v := <-joined; v != "own" || !ownCtxIsCallers.Load() {
			t.Fatalf("timed-out waiter got %q (own ctx %v), want its own call with its own ctx", v, ownCtxIsCallers.Load())
		}
		close(release)
		if v := <-leader; v != "shared" {
			t.Fatalf("leader got %q, want shared", v)
		}
		if s := g.Stats(); s.Timeouts != 1 || s.Flights != 1 || s.Joins != 1 {
			t.Fatalf("stats = %+v, want 1 timeout, 1 flight, 1 join", s)
		}
	})
}

type ownKey struct{}

// TestDoLeaderTimeout: the leader deadline cancels fn's context (with a
// visible Deadline) even though waiters remain.
func TestDoLeaderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		g := coalesce.New[string, int](&coalesce.Options{LeaderTimeout: 2 * time.Second, Clock: clk})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, _, err := g.Do(ctx, "k", func(ctx context.Context) (int, error) {
				if d, ok := ctx.Deadline(); !ok || !d.Equal(epoch.Add(2*time.Second)) {
					t.Errorf("Deadline() = %v, %v; want %v, true", d, ok, epoch.Add(2*time.Second))
				}
				<-ctx.Done()
				return 0, ctx.Err()
			})
			done <- err
		}()
		synctest.Wait()
		clk.Advance(2 * time.Second)
		if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, want context.DeadlineExceeded from fn", err)
		}
	})
}

// TestDoClose: Close ends flights in progress with ErrClosed even when fn
// ignores its context, never hangs, and later calls fail fast.
func TestDoClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g coalesce.Group[int, int]
		release := make(chan struct{})
		fnCtxs := make(chan context.Context, 3)
		errs := make(chan error, 6)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for k := range 3 {
			for range 2 {
				go func() {
					_, _, err := g.Do(ctx, k, func(ctx context.Context) (int, error) {
						fnCtxs <- ctx
						<-release // ignores ctx on purpose
						return 1, nil
					})
					errs <- err
				}()
			}
		}
		synctest.Wait()
		if err := g.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		for range 6 {
			if err := <-errs; !errors.Is(err, coalesce.ErrClosed) {
				t.Fatalf("waiter err = %v, want ErrClosed", err)
			}
		}
		for range 3 {
			if c := <-fnCtxs; c.Err() == nil {
				t.Fatal("fn's ctx not cancelled by Close")
			}
		}
		if _, _, err := g.Do(ctx, 9, func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, coalesce.ErrClosed) {
			t.Fatalf("Do after Close = %v, want ErrClosed", err)
		}
		_ = g.Close() // twice is fine
		close(release)
		synctest.Wait() // the fn goroutines end; goleak checks at exit
		if s := g.Stats(); s.InFlight != 0 {
			t.Fatalf("stats after close = %+v", s)
		}
	})
}

// TestForget covers both halves of invalidation: a lingering result, and a
// flight in progress whose waiters keep their result.
func TestForget(t *testing.T) {
	t.Run("lingering", func(t *testing.T) {
		g := coalesce.New[string, int](&coalesce.Options{Linger: time.Hour, Clock: newClock()})
		n := 0
		fn := func(context.Context) (int, error) { n++; return n, nil }
		ctx := context.Background()
		if v, _, _ := g.Do(ctx, "k", fn); v != 1 {
			t.Fatalf("first = %d", v)
		}
		if v, shared, _ := g.Do(ctx, "k", fn); v != 1 || !shared {
			t.Fatalf("lingering = (%d, %v), want (1, true)", v, shared)
		}
		if !g.Forget("k") {
			t.Fatal("Forget = false, want true")
		}
		if g.Forget("k") {
			t.Fatal("second Forget = true, want false")
		}
		if v, _, _ := g.Do(ctx, "k", fn); v != 2 {
			t.Fatalf("after Forget = %d, want a new call (2)", v)
		}
		if s := g.Stats(); s.Lingering != 1 {
			t.Fatalf("Lingering = %d, want 1", s.Lingering)
		}
	})
	t.Run("in flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := coalesce.New[string, string](&coalesce.Options{Linger: time.Hour, Clock: newClock()})
			release := make(chan struct{})
			old := make(chan string, 1)
			go func() {
				v, _, _ := g.Do(context.Background(), "k", func(context.Context) (string, error) { <-release; return "old", nil })
				old <- v
			}()
			synctest.Wait()
			g.Forget("k")
			v, _, _ := g.Do(context.Background(), "k", func(context.Context) (string, error) { return "new", nil })
			if v != "new" {
				t.Fatalf("Do after Forget = %q, want new", v)
			}
			close(release)
			if v := <-old; v != "old" {
				t.Fatalf("forgotten flight's waiter got %q, want old", v)
			}
			// The forgotten result must not replace the new lingering one.
			v, _, _ = g.Do(context.Background(), "k", func(context.Context) (string, error) { return "third", nil })
			if v != "new" {
				t.Fatalf("lingering value = %q, want new", v)
			}
		})
	})
}

// TestDoHotLeaderYields: once a Group has seen callers pile up (its last
// flight had joiners), a new leader lets the callers that are already
// runnable reach Do before it calls fn, so they join its flight instead of
// each starting the next one. On one P the order is exact: without the
// yield, every one of the callers runs fn in turn (fn never blocks).
func TestDoHotLeaderYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"background", context.Background()},
		{"cancellable", cancellableCtx(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g coalesce.Group[string, int]
			// Make the Group hot: a flight with a joiner.
			release := make(chan struct{})
			led := make(chan struct{})
			go func() {
				_, _, _ = g.Do(tc.ctx, "warm", func(context.Context) (int, error) { close(led); <-release; return 0, nil })
			}()
			<-led
			joined := make(chan struct{})
			go func() { _, _, _ = g.Do(tc.ctx, "warm", nil); close(joined) }()
			for g.Stats().Joins == 0 {
				runtime.Gosched()
			}
			close(release)
			<-joined

			const callers = 50
			var calls atomic.Int64
			var wg sync.WaitGroup
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, _ = g.Do(tc.ctx, "seg", func(context.Context) (int, error) { calls.Add(1); return 1, nil })
				}()
			}
			wg.Wait()
			if got := calls.Load(); got > callers/5 {
				t.Fatalf("fn ran %d times for %d callers released together; want the runnable callers to join (at most %d runs)", got, callers, callers/5)
			}
		})
	}
}

func cancellableCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
