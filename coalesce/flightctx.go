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
	values context.Context // first caller's values; nil when it had none to give
	dl     *leaderDeadline // nil without Options.LeaderTimeout; fixed at start

	mu     sync.Mutex // guards done, cause, afters
	done   chan struct{}
	cause  error      // nil while live; then ErrAbandoned, ErrClosed, ErrLeaderTimeout or errFinished
	afters *afterFunc // registered after-functions, newest first
}

// leaderDeadline is the Options.LeaderTimeout of one flight.
type leaderDeadline struct {
	at    time.Time
	timer Timer
}

// afterFunc is one registration made through flightCtx.AfterFunc.
type afterFunc struct {
	f    func()
	next *afterFunc
}

func (c *flightCtx) init(parent context.Context) {
	if parent != context.Background() && parent != context.TODO() {
		c.values = context.WithoutCancel(parent)
	}
}

func (c *flightCtx) Deadline() (time.Time, bool) {
	if c.dl == nil {
		return time.Time{}, false
	}
	return c.dl.at, true
}

// Done makes the channel lazily: most flights finish without anyone asking.
func (c *flightCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.cause != nil {
			close(c.done)
		}
	}
	return c.done
}

// Err follows the context contract: DeadlineExceeded when the leader
// deadline passed, Canceled for every other end.
func (c *flightCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.cause {
	case nil:
		return nil
	case ErrLeaderTimeout:
		return context.DeadlineExceeded
	default:
		return context.Canceled
	}
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
	if c.cause != nil {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	a.next, c.afters = c.afters, a
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p := &c.afters; *p != nil; p = &(*p).next {
			if *p == a {
				*p = a.next
				return true
			}
		}
		return false // already ran, or stopped before
	}
}

// cancel ends the context once with the given cause; later calls do
// nothing. It must not be called with the registry lock held: the
// after-functions take locks of derived contexts.
func (c *flightCtx) cancel(cause error) {
	c.mu.Lock()
	if c.cause != nil {
		c.mu.Unlock()
		return
	}
	c.cause = cause
	if c.done != nil {
		close(c.done)
	}
	as := c.afters
	c.afters = nil
	c.mu.Unlock()
	for ; as != nil; as = as.next {
		as.f()
	}
}

// String names the context the way the context package names its own.
func (c *flightCtx) String() string { return "coalesce.flightContext" }
