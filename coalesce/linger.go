package coalesce

import "time"

// Lingering results expire in the order they were queued: every result in
// one queue lingers for the same duration (Linger for successes, ErrorLinger
// for failures), so each queue is sorted by expiry for free and the sweep
// only ever looks at its front. One timer per registry, re-armed for the
// earliest front, frees expired results even when no caller comes back;
// there is never a goroutine or timer per entry.

// lingerQueue is a FIFO of lingering flights. Slot i holds sequence number
// base+i; a forgotten flight's slot is set to nil so it stops pinning memory.
type lingerQueue[K comparable, V any] struct {
	items []*flight[K, V]
	head  int    // items[:head] are already popped
	base  uint64 // sequence number of items[0]
}

func (q *lingerQueue[K, V]) push(f *flight[K, V]) {
	f.qseq = q.base + uint64(len(q.items))
	q.items = append(q.items, f)
}

// front returns the oldest flight still queued, or nil.
func (q *lingerQueue[K, V]) front() *flight[K, V] {
	for q.head < len(q.items) && q.items[q.head] == nil {
		q.head++
	}
	q.compact()
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

func (q *lingerQueue[K, V]) pop() {
	q.items[q.head] = nil
	q.head++
}

// remove clears f's slot if f is still queued.
func (q *lingerQueue[K, V]) remove(f *flight[K, V]) {
	if f.qseq < q.base {
		return
	}
	if i := f.qseq - q.base; i < uint64(len(q.items)) && q.items[i] == f {
		q.items[i] = nil
	}
}

// compact drops popped slots once they are at least half the slice, so a
// long-lived queue does not grow without bound.
func (q *lingerQueue[K, V]) compact() {
	if q.head == len(q.items) {
		q.base += uint64(len(q.items))
		q.items, q.head = q.items[:0], 0
		return
	}
	if q.head >= 32 && 2*q.head >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.base += uint64(q.head)
		q.head = 0
	}
}

// lingerFor is how long a result with err lingers.
func (r *registry[K, V]) lingerFor(err error) time.Duration {
	if err == nil {
		return r.opts.Linger
	}
	return r.opts.ErrorLinger
}

func (r *registry[K, V]) queueFor(f *flight[K, V]) *lingerQueue[K, V] {
	if f.err == nil {
		return &r.ok
	}
	return &r.bad
}

// expireLocked drops a lingering flight from the map and its queue.
func (r *registry[K, V]) expireLocked(f *flight[K, V]) {
	if r.m[f.key] == f {
		delete(r.m, f.key)
	}
	r.queueFor(f).remove(f)
	f.state = finished
	r.st.Lingering--
}

// sweepLocked expires every lingering flight whose time has come.
func (r *registry[K, V]) sweepLocked(now time.Time) {
	for _, q := range [2]*lingerQueue[K, V]{&r.ok, &r.bad} {
		for f := q.front(); f != nil && !now.Before(f.expires); f = q.front() {
			q.pop()
			r.expireLocked(f)
		}
	}
}

// scheduleLocked makes sure the sweep timer fires by the earliest expiry,
// or stops it when nothing lingers.
func (r *registry[K, V]) scheduleLocked() {
	var next time.Time
	for _, q := range [2]*lingerQueue[K, V]{&r.ok, &r.bad} {
		if f := q.front(); f != nil && (next.IsZero() || f.expires.Before(next)) {
			next = f.expires
		}
	}
	if next.IsZero() {
		if r.sweep != nil {
			r.sweep.Stop()
			r.sweep = nil
		}
		return
	}
	if r.sweep != nil && !next.Before(r.sweepAt) {
		return // the armed timer fires first; it re-arms for the rest
	}
	if r.sweep != nil {
		r.sweep.Stop()
	}
	r.sweepGen++
	gen := r.sweepGen
	r.sweepAt = next
	r.sweep = r.clock().AfterFunc(next.Sub(r.clock().Now()), func() { r.onSweep(gen) })
}

// onSweep runs on the sweep timer. A timer replaced since it was armed
// (gen is stale) does nothing.
func (r *registry[K, V]) onSweep(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || gen != r.sweepGen {
		return
	}
	r.sweep = nil
	r.sweepLocked(r.clock().Now())
	r.scheduleLocked()
}
