package coalesce

import (
	"context"
	"runtime"
	"runtime/debug"
)

// Group coalesces concurrent calls for the same key into one call of fn
// whose result every caller receives. Unlike x/sync/singleflight, fn runs
// under a context that no single caller owns, each caller can give up on
// its own context, panics become errors, and a result can linger for
// callers that arrive just after it.
//
// The zero value is ready to use with default Options; New sets others.
// A Group is safe for concurrent use and must not be copied after first use.
type Group[K comparable, V any] struct {
	r registry[K, V]
}

// New returns a Group with the given options; nil means the defaults of
// the zero Group.
func New[K comparable, V any](opts *Options) *Group[K, V] {
	g := new(Group[K, V])
	if opts != nil {
		g.r.opts = *opts
	}
	return g
}

// Do returns the result of fn for key, calling fn only if no call for key
// is running or lingering. The result is fn's (v, err) pair exactly as fn
// returned it: a non-nil v with a non-nil err reaches every caller as is,
// and lingers under ErrorLinger, not Linger.
//
// fn receives a context that no caller owns. It carries the first caller's
// values, and it is cancelled only when every caller waiting for this call
// has returned (cause ErrAbandoned), when Options.LeaderTimeout passes, when
// the Group is closed, or after fn returns.
//
// Do returns when the result is ready, or as soon as ctx is done (with
// ctx.Err()), whichever comes first; fn goes on for the others. shared
// reports whether the result went to more than one caller or came from a
// lingering result.
//
// With Options.LockTimeout, a caller that joined a flight and has no result
// after that long stops waiting and calls fn itself, with its own ctx; that
// result is its alone (shared is false) and does not linger.
//
// If fn panics or calls runtime.Goexit, every caller gets a *PanicError or
// ErrGoexit and the key is usable at once. When ctx can never be cancelled
// (ctx.Done() returns nil) the leader calls fn on its own goroutine, as
// singleflight does; otherwise fn runs on a new goroutine so the leader can
// leave early. While callers pile up on the Group, fn starts after one
// yield of the processor (see the package doc).
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	inline := ctx.Done() == nil
	if !inline {
		if err := ctx.Err(); err != nil {
			return v, false, err // do not start a flight nobody will wait for
		}
	}
	f, role, err := g.r.acquire(ctx, key, nil, !inline)
	if err != nil {
		return v, false, err
	}
	switch role {
	case roleHit:
		return f.val, true, f.err
	case roleLead, roleLeadHot:
		hot := role == roleLeadHot
		if inline {
			g.r.run(f, fn, hot)
			// run took the registry lock after the result was set, so
			// reading it here is ordered after the write.
			return f.val, f.shared, f.err
		}
		go g.r.run(f, fn, hot)
		return g.r.wait(ctx, f, nil)
	default:
		return g.r.wait(ctx, f, fn)
	}
}

// Forget removes key's lingering result, or detaches its running flight:
// callers already waiting still get that flight's result, but it will not
// linger, and the next Do for key starts a new call. Use it when the
// object behind key changed (a segment republished by another pipeline).
// It reports whether there was anything to forget.
func (g *Group[K, V]) Forget(key K) bool { return g.r.forget(key) }

// Stats returns a snapshot of the Group's counters.
func (g *Group[K, V]) Stats() Stats { return g.r.stats() }

// Close ends every flight in progress with ErrClosed (its waiters return at
// once and fn's context is cancelled), drops lingering results, and makes
// later calls return ErrClosed. It does not wait for fn to return and
// always returns nil.
func (g *Group[K, V]) Close() error {
	g.r.close()
	return nil
}

// wait blocks a caller on f until the result, ctx, or the lock timeout.
// fallback is fn for a joiner (nil for the leader, who never times out).
func (r *registry[K, V]) wait(ctx context.Context, f *flight[K, V], fallback func(context.Context) (V, error)) (v V, shared bool, err error) {
	if ctx.Done() == nil && (fallback == nil || r.opts.LockTimeout <= 0) {
		// Nothing can interrupt the wait: a plain receive is cheaper than
		// a select, which matters when a thousand callers pile up.
		<-f.done
		return f.val, f.shared, f.err
	}
	var timeout <-chan struct{}
	if fallback != nil && r.opts.LockTimeout > 0 {
		ch := make(chan struct{})
		t := r.clock().AfterFunc(r.opts.LockTimeout, func() { close(ch) })
		defer t.Stop()
		timeout = ch
	}
	select {
	case <-f.done:
		return f.val, f.shared, f.err
	case <-ctx.Done():
		if r.leave(f) {
			return f.val, f.shared, f.err
		}
		return v, false, ctx.Err()
	case <-timeout:
		if r.leave(f) {
			return f.val, f.shared, f.err
		}
		if err := r.timedOut(); err != nil {
			return v, false, err
		}
		// The own call is the caller's alone: its ctx, no sharing, no linger.
		v, err, panicked := protect(ctx, fallback)
		if panicked {
			r.countPanic()
		}
		return v, false, err
	}
}

// run calls fn for flight f and finishes f whatever happens: a return, a
// panic (converted to *PanicError) or runtime.Goexit (ErrGoexit; the
// goroutine still exits, but only after waking the waiters). One deferred
// check serves both escapes, so the common path pays for a single defer.
// With yield (the Group is hot, see hotFlights) fn waits for one pass of
// the scheduler, which lets the callers already runnable join f.
func (r *registry[K, V]) run(f *flight[K, V], fn func(context.Context) (V, error), yield bool) {
	returned := false
	defer func() {
		if returned {
			return
		}
		var zero V
		if p := recover(); p != nil {
			r.finish(f, zero, &PanicError{Value: p, Stack: debug.Stack()}, true)
			return
		}
		r.finish(f, zero, ErrGoexit, false) // recover is nil only for Goexit
	}()
	if yield {
		runtime.Gosched()
	}
	v, err := fn(&f.ctx)
	returned = true
	r.finish(f, v, err, false)
}

// protect calls fn, turning a panic into a *PanicError with the stack.
// If fn calls runtime.Goexit, protect does not return.
func protect[V any](ctx context.Context, fn func(context.Context) (V, error)) (v V, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			v, err, panicked = *new(V), &PanicError{Value: p, Stack: debug.Stack()}, true
		}
	}()
	v, err = fn(ctx)
	return v, err, false
}
