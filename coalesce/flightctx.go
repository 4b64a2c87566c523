package coalesce

import (
	"context"
	"sync"
	"sync/atomic"
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
//
// Most flights end without anyone having asked for Done or registered an
// after-function, so cancel is one atomic compare-and-swap until someone
// "watches"; only then does it take mu. The watched bit and the cause share
// one word, so exactly one of cancel and the watcher sees the other and
// acts (closes done, runs the after-functions).
type flightCtx struct {
	values context.Context // first caller's values; nil when it had none to give
	dl     *leaderDeadline // nil without Options.LeaderTimeout; fixed at start
	state  atomic.Uint32   // cause code (low bits) | watched

	mu         sync.Mutex // guards done, doneClosed, afters
	done       chan struct{}
	doneClosed bool
	afters     *afterFunc // registered after-functions, newest first
}

// Cause codes kept in flightCtx.state; 0 means live.
const (
	causeFinished uint32 = iota + 1 // fn returned
	causeAbandoned
	causeClosed
	causeLeaderTimeout
	causeMask uint32 = 0xff
	watched   uint32 = 0x100 // Done or AfterFunc was called
)

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
		if c.state.Or(watched)&causeMask != 0 && !c.doneClosed {
			close(c.done) // cancelled before anyone watched: cancel left this to us
			c.doneClosed = true
		}
	}
	return c.done
}

// Err follows the context contract: DeadlineExceeded when the leader
// deadline passed, Canceled for every other end.
func (c *flightCtx) Err() error {
	switch c.state.Load() & causeMask {
	case 0:
		return nil
	case causeLeaderTimeout:
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
	switch c.state.Load() & causeMask {
	case 0:
		return nil
	case causeFinished:
		return errFinished
	case causeAbandoned:
		return ErrAbandoned
	case causeClosed:
		return ErrClosed
	default:
		return ErrLeaderTimeout
	}
}

// AfterFunc arranges for f to run once the context is cancelled (at once if
// it already is) and returns a stop function with context.AfterFunc's
// meaning. The context package calls it when a context is derived from this
// one; f is then a short cancellation, so it runs synchronously.
func (c *flightCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.state.Or(watched)&causeMask != 0 {
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

// cancel ends the context once with the given cause code; later calls do
// nothing. It must not be called with the registry lock held: the
// after-functions take locks of derived contexts.
func (c *flightCtx) cancel(code uint32) {
	for {
		old := c.state.Load()
		if old&causeMask != 0 {
			return
		}
		if !c.state.CompareAndSwap(old, old|code) {
			continue // a watcher arrived; go round and take the slow path
		}
		if old&watched == 0 {
			return // nobody watches; a later Done sees the cause itself
		}
		c.mu.Lock()
		if c.done != nil && !c.doneClosed {
			close(c.done)
			c.doneClosed = true
		}
		as := c.afters
		c.afters = nil
		c.mu.Unlock()
		for ; as != nil; as = as.next {
			as.f()
		}
		return
	}
}

// String names the context the way the context package names its own.
func (c *flightCtx) String() string { return "coalesce.flightContext" }
