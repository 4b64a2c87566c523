package coalesce

import (
	"context"
	"sync"
	"time"
)

// flightCtx is the context fn receives. It is embedded in each flight so that
// a flight costs one allocation, and it is detached from every caller: it
// ends only through cancel, which the registry calls when the last waiter
// leaves, the leader deadline passes, the group closes, or fn returns.
//
// It carries the first caller's values (through context.WithoutCancel, so
// that context.Cause never finds the caller's cancelCtx) and implements the
// AfterFunc method the context package looks for, so contexts derived from
// it are cancelled without a watcher goroutine each.
type flightCtx struct {
	values   context.Context // first caller's values; nil when it had none to give
	deadline time.Time       // zero when there is no leader deadline; fixed at start

	mu     sync.Mutex // guards done, err, cause, afters
	done   chan struct{}
	err    error // context.Canceled or context.DeadlineExceeded once cancelled
	cause  error // why: ErrAbandoned, ErrClosed, ErrLeaderTimeout or errFinished
	afters []*afterFunc
}

// afterFunc is one registration made through flightCtx.AfterFunc.
type afterFunc struct {
	f func()
}

func (c *flightCtx) init(parent context.Context) {
	if parent != context.Background() && parent != context.TODO() {
		c.values = context.WithoutCancel(parent)
	}
}

func (c *flightCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

// Done makes the channel lazily: most flights finish without anyone asking.
func (c *flightCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *flightCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *flightCtx) Value(key any) any {
	if c.values == nil {
		return nil
	}
	return c.values.Value(key)
}

// why returns the reason the context ended, or nil while it is live.
func (c *flightCtx) why() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// AfterFunc arranges for f to run once the context is cancelled (at once if
// it already is) and returns a stop function with context.AfterFunc's
// meaning. The context package calls it when a context is derived from this
// one; f is then a short cancellation, so it runs synchronously.
func (c *flightCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afters {
			if x == a {
				c.afters = append(c.afters[:i], c.afters[i+1:]...)
				return true
			}
		}
		return false // already ran, or stopped before
	}
}

// cancel ends the context once; later calls do nothing. It must not be
// called with the registry lock held: the after-functions may take locks of
// derived contexts.
func (c *flightCtx) cancel(err, cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err, c.cause = err, cause
	if c.done != nil {
		close(c.done)
	}
	fs := c.afters
	c.afters = nil
	c.mu.Unlock()
	for _, a := range fs {
		a.f()
	}
}

// String names the context the way the context package names its own.
func (c *flightCtx) String() string { return "coalesce.flightContext" }
