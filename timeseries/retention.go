package timeseries

import (
	"context"
	"slices"
	"time"
)

// EnforceRetention drops every slice that ended more than
// Options.Retention ago and can no longer be written (it also ended before
// the accept window), and returns the kv namespaces it dropped. A slice
// that overlaps the retention period or the accept window is live and never
// touched. The background goroutine calls it every
// Options.RetentionInterval.
func (n *Namespace) EnforceRetention(ctx context.Context) ([]string, error) {
	if err := n.checkOpen(); err != nil {
		return nil, err
	}
	if n.opts.Retention <= 0 {
		return nil, nil
	}
	now := n.opts.Now()
	keepAfter := now.Add(-n.opts.Retention).UnixMicro()
	if n.opts.AcceptPast >= 0 {
		keepAfter = min(keepAfter, now.Add(-n.opts.AcceptPast).UnixMicro())
	}
	names, err := n.store.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, ns := range names {
		start, ok := n.parseSliceName(ns)
		if !ok || start+n.sliceU > keepAfter {
			continue
		}
		// Forget the slice first: a read that raced in sees it missing.
		n.forgetSlice(start, ns)
		if err := n.store.DropNamespace(ctx, ns); err != nil {
			return dropped, err
		}
		dropped = append(dropped, ns)
		n.stats.slicesDropped.Add(1)
	}
	return dropped, nil
}

// forgetSlice drops the in-memory state of a slice.
func (n *Namespace) forgetSlice(start int64, ns string) {
	n.sliceMu.Lock()
	delete(n.slices, start)
	n.sliceMu.Unlock()
	n.densMu.Lock()
	delete(n.dens, start)
	n.densMu.Unlock()
	n.splitMu.Lock()
	defer n.splitMu.Unlock()
	before := len(n.splits)
	for pid, r := range n.splits {
		if r.ns == ns {
			delete(n.splits, pid)
		}
	}
	if len(n.splits) != before {
		n.rebuildBloomLocked()
	}
}

// Slices returns the start times of the slices in the store, oldest first.
func (n *Namespace) Slices(ctx context.Context) ([]time.Time, error) {
	names, err := n.store.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for _, ns := range names {
		if start, ok := n.parseSliceName(ns); ok {
			out = append(out, time.UnixMicro(start).UTC())
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out, nil
}

// EventBuckets returns the event-bucket count new writes use in the slice
// holding t (the largest registered, see the package doc's Caveats), or 0
// when that slice does not exist (yet, or any more).
func (n *Namespace) EventBuckets(ctx context.Context, t time.Time) (int, error) {
	s, err := n.sliceForRead(ctx, n.sliceStart(t.UnixMicro()), map[int64]*slice{})
	if s == nil || err != nil {
		return 0, err
	}
	return s.buckets, nil
}
