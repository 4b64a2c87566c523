package timeseries

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Item is one key → value pair of an event: a plain value, safe to share
// between goroutines while none changes it (Write copies what it keeps).
type Item struct {
	Key   string
	Value []byte
}

// Event is one immutable point of a series (a plain value: Write does not
// retain it once it returns): a time (kept to the
// microsecond), an id unique among events of the series at that time, and
// its items.
type Event struct {
	Time  time.Time
	ID    string
	Items []Item
}

// Item returns the value of the item with key k, and whether it exists.
func (e Event) Item(k string) ([]byte, bool) {
	for _, it := range e.Items {
		if it.Key == k {
			return it.Value, true
		}
	}
	return nil, false
}

// Write stores events of series. Writes are idempotent by (series, event
// time, event id, item key): repeating a write, whole or in part, stores
// nothing new. Every event is checked against the accept window first; if
// any is outside it, nothing is written and the error is a *WindowError.
//
// Events are batched by partition, one kv Apply per partition, up to
// Options.WriteParallelism at once. With Options.Coalesce set, Write only
// queues the events (see Flush). Close waits for a Write in progress (and
// flushes what it queued); a Write begun after Close fails with ErrClosed.
func (n *Namespace) Write(ctx context.Context, series string, events ...Event) error {
	// Held until Write returns, inline flush included, so that Close,
	// which waits for it, never misses events buffered here and never
	// returns while this Write is still applying (see Namespace.openMu).
	n.openMu.RLock()
	defer n.openMu.RUnlock()
	if err := n.checkOpen(); err != nil {
		return err
	}
	if err := n.validate(series, events); err != nil {
		return err
	}
	if n.buf != nil {
		batch := make([]pending, len(events))
		for i, e := range events {
			// The caller may reuse its buffers once Write returns.
			batch[i] = pending{series: series, ev: Event{Time: e.Time, ID: e.ID, Items: cloneItems(e.Items)}}
		}
		if n.buf.add(batch) >= n.opts.BufferBytes {
			return n.flushBuffer(ctx)
		}
		return nil
	}
	return n.writeNow(ctx, len(events), func(i int) (string, *Event) { return series, &events[i] })
}

// validate checks limits and the accept window.
func (n *Namespace) validate(series string, events []Event) error {
	if err := checkSeries(series); err != nil {
		return err
	}
	now := n.opts.Now()
	earliest, latest := time.Unix(0, 0).Add(time.Microsecond), time.Unix(1<<40, 0)
	if n.opts.AcceptPast >= 0 {
		earliest = now.Add(-n.opts.AcceptPast)
	}
	if n.opts.Retention > 0 {
		// An event older than the retention would land in (or revive) a
		// slice that retention drops.
		earliest = later(earliest, now.Add(-n.opts.Retention))
	}
	if n.opts.AcceptFuture >= 0 {
		latest = now.Add(n.opts.AcceptFuture)
	}
	for _, e := range events {
		if e.ID == "" || len(e.ID) > MaxEventIDLen {
			return fmt.Errorf("%w: event id must be 1..%d bytes", ErrInvalid, MaxEventIDLen)
		}
		if len(e.Items) == 0 {
			return fmt.Errorf("%w: event %q has no items", ErrInvalid, e.ID)
		}
		for _, it := range e.Items {
			if len(it.Key) > MaxItemKeyLen {
				return fmt.Errorf("%w: item key of %d bytes exceeds %d", ErrInvalid, len(it.Key), MaxItemKeyLen)
			}
		}
		if e.Time.UnixMicro() < 1 || e.Time.Before(earliest) || e.Time.After(latest) {
			return &WindowError{Series: series, EventTime: e.Time, Now: now, Earliest: earliest, Latest: latest}
		}
	}
	return nil
}

// pending is one event on its way to the store.
type pending struct {
	series string
	ev     Event
}

// group is the events of a batch that go to one base partition; their
// mutations are muts[off:off+items] of the batch, in batch order.
type group struct {
	ns         string
	base       partition
	bid        string // base.id()
	start      int64  // slice start (µs), for density
	items, off int
	bytes      int64
}

// groupKey finds a batch's group: series by its index in the batch.
type groupKey struct {
	series int
	tb     int64
	eb, n  int
}

// writeNow applies a batch, one Apply per partition. It places every
// mutation of the batch in one array, grouped by partition, so that each
// Apply gets a contiguous slice of it: one allocation for the mutations and
// one for their keys, whatever the batch size.
// The batch is count events, event i being at(i) (of its series); writeNow
// does not keep them.
func (n *Namespace) writeNow(ctx context.Context, count int, at func(i int) (string, *Event)) error {
	if count == 0 {
		return nil
	}
	// Pass 1: the slice, partition and group of every event.
	var (
		groups    []group
		byKey     = make(map[groupKey]int)
		seriesIdx = make(map[string]int, 1)
		evGroup   = make([]int32, count)
		curSeries string
		curIdx    = -1
		curStart  = int64(-1)
		starts    []int64 // the slices written
		cur       *slice
		total     int
		arenaLen  int
	)
	for i := range count {
		series, ev := at(i)
		us := ev.Time.UnixMicro()
		if start := n.sliceStart(us); start != curStart || cur == nil {
			s, err := n.ensureSlice(ctx, start)
			if err != nil {
				return err
			}
			cur, curStart = s, start
			if !slices.Contains(starts, start) {
				starts = append(starts, start)
			}
		}
		if curIdx < 0 || series != curSeries {
			idx, ok := seriesIdx[series]
			if !ok {
				idx = len(seriesIdx)
				seriesIdx[series] = idx
			}
			curSeries, curIdx = series, idx
		}
		k := groupKey{series: curIdx, tb: us / n.bktU, eb: eventBucket(ev.ID, cur.buckets), n: cur.buckets}
		gi, ok := byKey[k]
		if !ok {
			p := partition{series: series, tb: k.tb, eb: k.eb, n: k.n}
			gi = len(groups)
			byKey[k] = gi
			groups = append(groups, group{ns: cur.ns, base: p, bid: p.id(), start: curStart})
		}
		evGroup[i] = int32(gi)
		groups[gi].items += len(ev.Items)
		total += len(ev.Items)
		for _, it := range ev.Items {
			arenaLen += keyHeaderLen + len(ev.ID) + len(it.Key)
		}
	}
	off := 0
	for gi := range groups {
		groups[gi].off = off
		off += groups[gi].items
	}

	// Pass 2: keys into one arena, mutations into their group's range.
	arena := make([]byte, 0, arenaLen)
	muts := make([]kv.Mutation, total)
	fill := make([]int, len(groups))
	for i := range count {
		_, ev := at(i)
		g := &groups[evGroup[i]]
		us := ev.Time.UnixMicro()
		ps := len(arena) // the event prefix is arena[ps:ps+pl]
		arena = eventPrefix(arena, us, ev.ID)
		pl := keyHeaderLen + len(ev.ID)
		dst := g.off + fill[evGroup[i]]
		for j, it := range ev.Items {
			if j > 0 {
				arena = append(arena, arena[ps:ps+pl]...)
			}
			arena = append(arena, it.Key...)
			key := arena[len(arena)-pl-len(it.Key) : len(arena) : len(arena)]
			v := it.Value
			if v == nil {
				v = []byte{}
			}
			// The event time is the write timestamp, so a rewrite of the
			// same event writes identical cells (idempotent).
			muts[dst+j] = kv.Mutation{Op: kv.OpPut, Key: key, Value: v, Timestamp: us}
			g.bytes += int64(len(key) + len(v))
		}
		fill[evGroup[i]] += len(ev.Items)
	}
	for _, g := range groups {
		n.recordDensity(g.start, g.base.series, g.base.tb, g.bytes)
	}

	// Held shared until every Apply returns: see Namespace.splitMu.
	n.splitMu.RLock()
	defer n.splitMu.RUnlock()
	type call struct {
		ns, id string
		muts   []kv.Mutation
	}
	var calls []call
	// add queues the Applies of one record, cut at MaxApplyItems so that
	// no backend sees an unbounded batch (a Cassandra batch is one
	// mutation, bounded by the commit log segment). Events never straddle
	// two cuts.
	add := func(ns, id string, m []kv.Mutation) {
		for len(m) > 0 {
			cut := min(len(m), n.opts.MaxApplyItems)
			for cut < len(m) && cut > 0 && sameEvent(m[cut-1].Key, m[cut].Key) {
				cut++ // keep an event's items in one Apply
			}
			calls = append(calls, call{ns, id, m[:cut]})
			m = m[cut:]
		}
	}
	for gi := range groups {
		g := &groups[gi]
		gm := muts[g.off : g.off+g.items]
		add(g.ns, g.bid, gm)
		// A partition being split (or split) is also written to its new
		// layout: each event to its sub-bucket.
		if r := n.splits[g.bid]; r != nil && (r.state == stateCopying || r.state == statePublished) {
			subs := make([][]kv.Mutation, r.m)
			for _, m := range gm {
				_, id, _, _ := parseItemKey(m.Key)
				j := subBucket(string(id), r.m)
				subs[j] = append(subs[j], m)
			}
			for j, sm := range subs {
				c := g.base
				c.j, c.m = j, r.m
				add(g.ns, c.id(), sm)
			}
		}
	}
	err := forEach(ctx, len(calls), n.opts.WriteParallelism, func(ctx context.Context, i int) error {
		return n.store.Apply(ctx, calls[i].ns, calls[i].id, calls[i].muts)
	})
	if err == nil {
		err = n.checkLate(starts)
	}
	if err == nil {
		n.stats.eventsWritten.Add(int64(count))
	}
	return err
}

// forEach runs fn(0..count-1) with at most limit calls at once and returns
// the first error; after an error it starts no new calls. The caller's
// cancellation is an error only if it kept a call from starting: a batch
// whose every call ran and succeeded is complete, however late ctx ends.
func forEach(ctx context.Context, count, limit int, fn func(ctx context.Context, i int) error) error {
	if count == 1 {
		return fn(ctx, 0)
	}
	pctx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, max(limit, 1))
	started := 0
	for i := range count {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && started < count {
		// With no call failing, the loop stopped early only because the
		// caller gave up.
		first = pctx.Err()
	}
	return first
}

// sameEvent reports whether two item keys belong to one event.
func sameEvent(a, b []byte) bool {
	pa := keyHeaderLen + int(a[8])
	return len(b) >= pa && string(a[:pa]) == string(b[:pa])
}

func cloneItems(items []Item) []Item {
	c := make([]Item, len(items))
	for i, it := range items {
		c[i] = Item{Key: it.Key, Value: append([]byte{}, it.Value...)}
	}
	return c
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
