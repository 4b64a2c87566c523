package coalesce

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errFinished is the cause recorded on a flight's context when fn returned.
var errFinished = errors.New("edgekit/coalesce: flight finished")

// state is where a flight is in its life. Only running and lingering
// flights are in registry.m.
type state uint8

const (
	running   state = iota // fn running; in m; counted in Stats.InFlight
	detached               // fn running; not in m (forgotten, abandoned, or a private fallback)
	lingering              // finished; in m until it expires or is forgotten
	finished               // finished; not in m
)

// role is how a caller relates to the flight acquire handed it.
type role uint8

const (
	roleLead    role = iota // started the flight
	roleJoin                // joined a running flight
	roleHit                 // got a lingering result
	roleLeadHot             // started the flight while callers pile up: yields before fn
)

// hotFlights is how many flights after one that had joiners start with the
// leader yielding the processor once before it calls fn, so that callers
// already runnable reach Do and join the flight rather than each start the
// next one (1,000 callers looping on one key: fn ran for 1 call in 4, and
// for 1 in ~550 with the yield; docs/bench/coalesce.md). A yield can
// come straight back (the scheduler takes the global queue first one
// time in 61), and a flight that nobody joined must not end the yielding
// at once, so it counts down; a Group without contention never yields, nor
// does one with a Linger (late callers then get the lingering result
// without parking, which costs less than joining: 1,000-caller bursts used
// 1.7× the CPU with the yield as without it).
const hotFlights = 4

// ender is implemented by values that must hear how their flight ended even
// when it is ended from outside (Close); a streaming body is one.
type ender interface{ endFlight(err, refuse error) }

// flight is one shared call of fn and its result.
type flight[K comparable, V any] struct {
	ctx flightCtx // what fn receives
	key K

	// Guarded by the owning registry's mu. The small fields come first so
	// that they pack into one word; a flight is one 160-byte allocation
	// for a Group[string, int]. Keep it small: under contention the flight
	// is most of what Do allocates, and allocation is what the GC's scan of
	// a thousand parked callers' stacks is paid from (docs/bench/coalesce.md).
	state      state
	shared     bool          // the result went to more than one caller
	lingerSet  bool          // linger overrides the Options (see below)
	made       bool          // val was made up front (a body) and is an ender; fixed at birth
	waiters    int32         // callers still interested; 0 abandons a running flight
	dups       int32         // callers that joined after the leader
	qidx       int32         // index in the linger heap; -1 when not in it
	done       chan struct{} // made when someone must wait; closed on finish
	expires    int64         // when a lingering result stops serving (registry.tickLocked)
	prev, next *flight[K, V] // neighbours in the detached list

	// linger and lingerSet are written by the fill's goroutine
	// (Writer.SetLinger) before it finishes the flight on that same
	// goroutine, and read by finish.
	linger time.Duration

	// Written under mu (with shared) before the flight leaves
	// running/detached, then immutable: read them after done is closed or
	// after seeing the state under mu.
	val V
	err error
}

// registry is the machinery Group and Stream share: the key → flight map,
// the linger queues and their sweep timer, the flights Close must end, and
// the stats. Its zero value is ready to use.
//
// Close finds running flights through m, and detached flights that still
// have waiters (forgotten ones, private fallbacks) through a doubly linked
// list; keeping only those in the list spares the common path its writes.
type registry[K comparable, V any] struct {
	opts Options // set before first use, read-only after

	mu        sync.Mutex // guards m, detached, lingering, sweep, sweepAt, sweepGen, epoch, epochSet, closed, st
	m         map[K]*flight[K, V]
	detached  *flight[K, V] // head of the list of detached flights with waiters
	lingering lingerHeap[K, V]
	sweep     Timer
	sweepAt   int64     // in tickLocked time
	epoch     time.Time // the origin of tickLocked time
	epochSet  bool
	sweepGen  uint64
	closed    bool
	hot       uint8 // coming flights whose leader yields first (see hotFlights)
	st        Stats
}

func (r *registry[K, V]) clock() Clock {
	if r.opts.Clock != nil {
		return r.opts.Clock
	}
	return realClock{}
}

// acquire finds the flight a caller should use for key: a lingering result,
// a running flight to join, or a new flight it leads. mk, if not nil, makes
// a new flight's value up front (a streaming body that joiners read while
// it grows). wantDone makes sure the done channel exists for a leader that
// will wait on it.
func (r *registry[K, V]) acquire(ctx context.Context, key K, mk func() V, wantDone bool) (*flight[K, V], role, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, 0, ErrClosed
	}
	if f := r.m[key]; f != nil {
		if f.state == running {
			f.waiters++
			f.dups++
			r.st.Joins++
			if f.done == nil {
				f.done = make(chan struct{})
			}
			r.mu.Unlock()
			return f, roleJoin, nil
		}
		// Lingering. The sweep timer may lag, so check the time here too.
		if r.tickLocked(r.clock().Now()) < f.expires {
			r.st.LingerHits++
			r.mu.Unlock()
			return f, roleHit, nil
		}
		r.expireLocked(f)
	}
	f := r.newFlightLocked(ctx, mk, running)
	f.key = key
	if wantDone {
		f.done = make(chan struct{})
	}
	if r.m == nil {
		r.m = make(map[K]*flight[K, V])
	}
	r.m[key] = f
	r.st.InFlight++
	r.st.Flights++
	// With a linger, callers arriving after fn get its lingering result
	// without parking, which is cheaper than joining: no yield then.
	hot := r.hot > 0 && r.opts.Linger <= 0
	r.mu.Unlock()
	if hot {
		return f, roleLeadHot, nil
	}
	return f, roleLead, nil
}

// private starts a flight that is not in the map: a caller's own call after
// LockTimeout. Close still ends it.
func (r *registry[K, V]) private(ctx context.Context, mk func() V) (*flight[K, V], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	r.st.Timeouts++
	f := r.newFlightLocked(ctx, mk, detached)
	r.linkLocked(f)
	return f, nil
}

func (r *registry[K, V]) newFlightLocked(ctx context.Context, mk func() V, s state) *flight[K, V] {
	f := &flight[K, V]{state: s, waiters: 1, qidx: -1}
	f.ctx.init(ctx)
	if mk != nil {
		f.val = mk()
		_, f.made = any(f.val).(ender)
	}
	if d := r.opts.LeaderTimeout; d > 0 {
		f.ctx.dl = &leaderDeadline{
			at:    r.clock().Now().Add(d),
			timer: r.clock().AfterFunc(d, func() { f.ctx.cancel(causeLeaderTimeout) }),
		}
	}
	return f
}

// linkLocked adds a detached flight with waiters to the list Close walks.
func (r *registry[K, V]) linkLocked(f *flight[K, V]) {
	f.next = r.detached
	if r.detached != nil {
		r.detached.prev = f
	}
	r.detached = f
}

func (r *registry[K, V]) unlinkLocked(f *flight[K, V]) {
	if f.prev == nil && r.detached != f {
		// Not in the list: only the head has no prev. (No "linked" flag:
		// it would push the flight into the next allocation size class.)
		return
	}
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		r.detached = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	}
	f.prev, f.next = nil, nil
}

// leave removes one waiter from a flight; the last one out of a running
// flight abandons it, which cancels fn's context. It reports whether the
// flight had already finished, in which case its result is there to take.
func (r *registry[K, V]) leave(f *flight[K, V]) (finishedAlready bool) {
	r.mu.Lock()
	if f.state >= lingering {
		r.mu.Unlock()
		return true
	}
	f.waiters--
	abandon := f.waiters == 0
	if abandon {
		if f.state == running {
			delete(r.m, f.key)
			r.st.InFlight--
		}
		f.state = detached
		r.st.Abandoned++
	}
	r.mu.Unlock()
	if abandon {
		f.ctx.cancel(causeAbandoned)
	}
	return false
}

// finish records fn's result and wakes the waiters. A flight already ended
// by Close keeps ErrClosed and drops the late result.
//
// The waiters are woken while mu is still held, as singleflight does. It
// looks wasteful, but waking them after Unlock was measured to make
// contended flights smaller (fn ran 0.48 times per call instead of 0.29,
// docs/bench/coalesce.md): the next flight for the key starts before the
// previous waiters are runnable, and they miss it.
func (r *registry[K, V]) finish(f *flight[K, V], v V, err error, panicked bool) {
	r.mu.Lock()
	if panicked {
		r.st.Panics++
	}
	if f.state >= lingering {
		r.mu.Unlock()
		f.ctx.cancel(causeFinished)
		return
	}
	f.err, f.shared = err, f.dups > 0
	if f.dups > 0 {
		r.hot = hotFlights
	} else if r.hot > 0 {
		r.hot--
	}
	if e := f.ender(); e != nil {
		// A value made up front (a body) stays; it hears how it ended.
		e.endFlight(err, ErrFillDone)
	} else {
		f.val = v
	}
	r.unlinkLocked(f)
	if f.ctx.dl != nil {
		f.ctx.dl.timer.Stop()
	}
	if f.state == running {
		r.st.InFlight--
		d := r.lingerFor(err)
		if f.lingerSet {
			d = f.linger
		}
		if d > 0 {
			r.lingerLocked(f, d)
		} else {
			delete(r.m, f.key)
			f.state = finished
		}
	} else {
		f.state = finished
	}
	f.wake()
	r.mu.Unlock()
	f.ctx.cancel(causeFinished)
}

// ender returns val when it must hear how the flight ended (a body made
// up front), else nil. The check is a flag so that a Group's flight, whose
// val is only the result, carries no interface field for it.
func (f *flight[K, V]) ender() ender {
	if !f.made {
		return nil
	}
	e, _ := any(f.val).(ender)
	return e
}

// wake releases every caller waiting for f. It is called exactly once, by
// whoever moved the flight out of running/detached under the registry lock
// (finish or close); nobody starts waiting after that, so f.done is settled.
func (f *flight[K, V]) wake() {
	if f.done != nil {
		close(f.done)
	}
}

// forget removes key's flight or lingering result from the map. A running
// flight goes on for the callers already waiting, but its result will not
// linger and new callers start afresh.
func (r *registry[K, V]) forget(key K) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.m[key]
	if f == nil {
		return false
	}
	switch f.state {
	case running:
		delete(r.m, key)
		f.state = detached
		r.linkLocked(f) // its waiters must still hear of a Close
		r.st.InFlight--
	case lingering:
		r.expireLocked(f)
	}
	return true
}

// close ends every running flight with ErrClosed, drops every lingering
// result and stops the sweep timer. It never waits for fn.
func (r *registry[K, V]) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	var ended []*flight[K, V]
	end := func(f *flight[K, V]) {
		f.err = ErrClosed
		if e := f.ender(); e != nil {
			e.endFlight(ErrClosed, ErrClosed)
		}
		if f.ctx.dl != nil {
			f.ctx.dl.timer.Stop()
		}
		f.state = finished
		ended = append(ended, f)
	}
	for f := r.detached; f != nil; {
		next := f.next
		f.prev, f.next = nil, nil
		end(f)
		f = next
	}
	r.detached = nil
	for _, f := range r.m {
		if f.state == running {
			end(f)
		} else {
			f.state = finished
		}
	}
	r.m = nil
	r.lingering = nil
	if r.sweep != nil {
		r.sweep.Stop()
		r.sweep = nil
	}
	r.st.InFlight, r.st.Lingering = 0, 0
	r.mu.Unlock()
	for _, f := range ended {
		f.wake()
		f.ctx.cancel(causeClosed)
	}
}

func (r *registry[K, V]) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// timedOut counts a caller giving up on a flight after LockTimeout to run
// its own call, unless the registry is closed.
func (r *registry[K, V]) timedOut() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.st.Timeouts++
	return nil
}

func (r *registry[K, V]) countPanic() {
	r.mu.Lock()
	r.st.Panics++
	r.mu.Unlock()
}

// maxBody resolves Options.MaxBodySize; -1 means unbounded.
func (r *registry[K, V]) maxBody() int64 {
	switch m := r.opts.MaxBodySize; {
	case m == 0:
		return DefaultMaxBodySize
	case m < 0:
		return -1
	default:
		return m
	}
}
