package coalesce

import (
	"context"
	"sync/atomic"
	"time"
)

// Stream coalesces concurrent requests for the same key into one fill that
// writes a body once, while every requester reads it as it grows: the
// read-while-write of a caching proxy, without nginx's polling or a copy
// per reader.
//
// A fill first publishes a small typed header H (an HTTP status and
// headers, say) with Writer.SetHeader, then writes the body. Readers can
// act on the header before the body is complete, read the body at their
// own pace, and learn from the end of Read (io.EOF or the fill's error)
// or from Reader.Wait whether the body was complete. A stalled reader holds
// nothing up: the Writer never waits, and the body grows in memory up to
// Options.MaxBodySize.
//
// The zero value is ready to use with default Options; NewStream sets
// others. A Stream is safe for concurrent use and must not be copied after
// first use.
type Stream[K comparable, H any] struct {
	r registry[K, *body[H]]
}

// FillFunc produces a streaming body: it publishes the header (optional)
// and writes the body into w, then returns nil if the body is complete or
// the error that cut it short. ctx is the flight's context (see Group.Do).
// It is called once per flight, on a goroutine of its own; w is valid only
// until it returns.
type FillFunc[H any] func(ctx context.Context, w *Writer[H]) error

// NewStream returns a Stream with the given options; nil means the
// defaults of the zero Stream.
func NewStream[K comparable, H any](opts *Options) *Stream[K, H] {
	s := new(Stream[K, H])
	if opts != nil {
		s.r.opts = *opts
	}
	return s
}

// Open returns a Reader on key's body, from offset 0. If a complete body
// lingers, the Reader reads it from memory; if a fill is running, the
// Reader joins it; otherwise Open starts one, and fill runs on its own
// goroutine. Reader.Shared tells the first case and the second from the
// third.
//
// The Reader counts as a waiter until it is closed or ctx is done; when
// the last waiter of a running flight goes, the fill's context is
// cancelled. To let a fill finish that nobody reads (to store the body),
// keep a Reader of your own open until Wait returns. Open itself does not
// block; the Reader's methods wait, and return ctx.Err() when ctx is done.
func (s *Stream[K, H]) Open(ctx context.Context, key K, fill FillFunc[H]) (*Reader[H], error) {
	if err := ctx.Err(); err != nil {
		return nil, err // do not start a flight nobody will read
	}
	f, role, err := s.r.acquire(ctx, key, s.newBody, false)
	if err != nil {
		return nil, err
	}
	rd := &Reader[H]{ctx: ctx, b: f.val, shared: role != roleLead && role != roleLeadHot}
	switch role {
	case roleLead, roleLeadHot:
		rd.m = s.member(ctx, f)
		go s.run(f, fill)
	case roleJoin:
		rd.m = s.member(ctx, f)
		if d := s.r.opts.LockTimeout; d > 0 {
			ch := make(chan struct{})
			rd.timer = s.r.clock().AfterFunc(d, func() { close(ch) })
			rd.timeout = ch
			rd.fallback = func() (*body[H], *membership, error) { return s.own(ctx, fill) }
		}
	}
	return rd, nil
}

// Forget removes key's lingering body, or detaches its running flight:
// readers already on it read on, but it will not linger, and the next Open
// starts a new fill. It reports whether there was anything to forget.
func (s *Stream[K, H]) Forget(key K) bool { return s.r.forget(key) }

// Stats returns a snapshot of the Stream's counters.
func (s *Stream[K, H]) Stats() Stats { return s.r.stats() }

// Close ends every fill in progress with ErrClosed (readers see it after
// the bytes already written, and the Writer refuses more), drops lingering
// bodies, and makes later Opens return ErrClosed. It does not wait for the
// fills to return and always returns nil.
func (s *Stream[K, H]) Close() error {
	s.r.close()
	return nil
}

// own starts a reader's own fill after LockTimeout: a flight outside the
// map, whose body nobody else reads and which does not linger.
func (s *Stream[K, H]) own(ctx context.Context, fill FillFunc[H]) (*body[H], *membership, error) {
	f, err := s.r.private(ctx, s.newBody)
	if err != nil {
		return nil, nil, err
	}
	m := s.member(ctx, f)
	go s.run(f, fill)
	return f.val, m, nil
}

func (s *Stream[K, H]) newBody() *body[H] { return newBody[H](s.r.clock()) }

// run is the fill's goroutine.
func (s *Stream[K, H]) run(f *flight[K, *body[H]], fill FillFunc[H]) {
	w := &Writer[H]{b: f.val, fc: &f.ctx, max: s.r.maxBody()}
	w.set = func(d time.Duration) { f.linger, f.lingerSet = d, true }
	s.r.run(f, func(ctx context.Context) (*body[H], error) {
		err := fill(ctx, w)
		if err == nil {
			err = w.err // a fill that ignored a refusal (ErrTooLarge, ErrLeaderTimeout, ...) still failed
		}
		return f.val, err
	}, false) // joiners of a stream read while it fills: no need to wait for them
}

// member makes a Reader's membership of flight f: leaving it (on Close, or
// when ctx is done) drops one waiter, once.
func (s *Stream[K, H]) member(ctx context.Context, f *flight[K, *body[H]]) *membership {
	m := new(membership)
	m.leaveFn = func() {
		if m.left.CompareAndSwap(false, true) {
			s.r.leave(f)
		}
	}
	if ctx.Done() != nil {
		m.stop = context.AfterFunc(ctx, m.leaveFn)
	}
	return m
}

// membership is a Reader's place among a flight's waiters.
type membership struct {
	left    atomic.Bool
	leaveFn func()      // drops the waiter once; safe from any goroutine
	stop    func() bool // stops the ctx watcher; nil if ctx cannot end
}

func (m *membership) leave() {
	if m.stop != nil {
		m.stop()
	}
	m.leaveFn()
}
