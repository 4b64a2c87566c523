package coalesce

import (
	"container/heap"
	"time"
)

// Lingering results wait in one min-heap ordered by expiry (durations differ:
// Linger, ErrorLinger, and Writer.SetLinger per flight). One timer per
// registry, re-armed for the earliest expiry, frees expired results even
// when no caller comes back; there is never a goroutine or a timer per
// entry. Forget and a hit on an expired entry remove it from the heap at
// once, so nothing the caller dropped stays pinned until its time.

// lingerHeap is a container/heap of lingering flights; each flight knows
// its index (qidx) so it can be removed from the middle.
type lingerHeap[K comparable, V any] []*flight[K, V]

func (h lingerHeap[K, V]) Len() int           { return len(h) }
func (h lingerHeap[K, V]) Less(i, j int) bool { return h[i].expires < h[j].expires }

func (h lingerHeap[K, V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].qidx, h[j].qidx = int32(i), int32(j)
}

func (h *lingerHeap[K, V]) Push(x any) {
	f := x.(*flight[K, V])
	f.qidx = int32(len(*h))
	*h = append(*h, f)
}

func (h *lingerHeap[K, V]) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = nil // do not pin the flight from the spare capacity
	*h = old[:len(old)-1]
	f.qidx = -1
	return f
}

// lingerFor is how long a result with err lingers by the Options.
func (r *registry[K, V]) lingerFor(err error) time.Duration {
	if err == nil {
		return r.opts.Linger
	}
	return r.opts.ErrorLinger
}

// lingerLocked starts f's linger window of d.
func (r *registry[K, V]) lingerLocked(f *flight[K, V], d time.Duration) {
	f.state = lingering
	f.expires = r.tickLocked(r.clock().Now()) + int64(d)
	heap.Push(&r.lingering, f)
	r.st.Lingering++
	r.scheduleLocked()
}

// expireLocked drops a lingering flight from the map and the heap.
func (r *registry[K, V]) expireLocked(f *flight[K, V]) {
	if r.m[f.key] == f {
		delete(r.m, f.key)
	}
	if f.qidx >= 0 {
		heap.Remove(&r.lingering, int(f.qidx))
	}
	f.state = finished
	r.st.Lingering--
}

// sweepLocked expires every lingering flight whose time has come.
func (r *registry[K, V]) sweepLocked(now time.Time) {
	t := r.tickLocked(now)
	for len(r.lingering) > 0 && t >= r.lingering[0].expires {
		r.expireLocked(r.lingering[0])
	}
}

// scheduleLocked makes sure the sweep timer fires by the earliest expiry,
// or stops it when nothing lingers.
func (r *registry[K, V]) scheduleLocked() {
	if len(r.lingering) == 0 {
		if r.sweep != nil {
			r.sweep.Stop()
			r.sweep = nil
		}
		return
	}
	next := r.lingering[0].expires
	if r.sweep != nil && next >= r.sweepAt {
		return // the armed timer fires first; it re-arms for the rest
	}
	if r.sweep != nil {
		r.sweep.Stop()
	}
	r.sweepGen++
	gen := r.sweepGen
	r.sweepAt = next
	in := time.Duration(next - r.tickLocked(r.clock().Now()))
	r.sweep = r.clock().AfterFunc(in, func() { r.onSweep(gen) })
}

// tickLocked turns a clock reading into the registry's linger time: ns
// since the first reading it was given (r.epoch). A flight keeps its expiry
// as this int64 rather than a 24-byte time.Time, which keeps a Group
// flight at 160 bytes. Sub uses the monotonic clock when both readings
// carry one, as time.Now's do, so wall-clock steps do not move expiries.
func (r *registry[K, V]) tickLocked(now time.Time) int64 {
	if !r.epochSet {
		r.epoch, r.epochSet = now, true
	}
	return int64(now.Sub(r.epoch))
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
