package timeseries

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Item is one key → value pair of an event.
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
// queues the events (see Flush).
func (n *Namespace) Write(ctx context.Context, series string, events ...Event) error {
	if err := n.checkOpen(); err != nil {
		return err
	}
	if err := n.validate(series, events); err != nil {
		return err
	}
	batch := make([]pending, len(events))
	for i, e := range events {
		batch[i] = pending{series: series, ev: e}
	}
	if n.buf != nil {
		for i := range batch { // the caller may reuse its buffers once Write returns
			batch[i].ev.Items = cloneItems(batch[i].ev.Items)
		}
		if n.buf.add(batch) >= n.opts.BufferBytes {
			return n.flushBuffer(ctx)
		}
		return nil
	}
	return n.writeNow(ctx, batch)
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

// placed is an event's mutations and the base partition they belong to.
type placed struct {
	ns   string
	bid  string // base.id()
	base partition
	id   string
	muts []kv.Mutation
}

// target is one kv record a batch writes.
type target struct{ ns, id string }

// writeNow applies a batch, one Apply per partition.
func (n *Namespace) writeNow(ctx context.Context, batch []pending) error {
	if len(batch) == 0 {
		return nil
	}
	// Per-batch caches: a burst mostly hits a few slices and partitions, so
	// slice lookups, partition ids and density updates are done once each.
	type densKey struct {
		start  int64
		series string
		tb     int64
	}
	type baseKey struct {
		series string
		tb     int64
		eb, n  int
	}
	sliceOf := make(map[int64]*slice, 2)
	baseIDs := make(map[baseKey]string)
	dens := make(map[densKey]int64)
	evs := make([]placed, 0, len(batch))
	// One arena for every item key of the batch.
	arenaLen := 0
	for _, pe := range batch {
		for _, it := range pe.ev.Items {
			arenaLen += keyHeaderLen + len(pe.ev.ID) + len(it.Key)
		}
	}
	arena := make([]byte, 0, arenaLen)
	for _, pe := range batch {
		us := pe.ev.Time.UnixMicro()
		start := n.sliceStart(us)
		s := sliceOf[start]
		if s == nil {
			var err error
			if s, err = n.ensureSlice(ctx, start); err != nil {
				return err
			}
			sliceOf[start] = s
		}
		tb := us / n.bktU
		ps := len(arena) // the event prefix is arena[ps:ps+pl]
		arena = eventPrefix(arena, us, pe.ev.ID)
		pl := keyHeaderLen + len(pe.ev.ID)
		muts := make([]kv.Mutation, len(pe.ev.Items))
		size := int64(0)
		for i, it := range pe.ev.Items {
			if i > 0 {
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
			muts[i] = kv.Mutation{Op: kv.OpPut, Key: key, Value: v, Timestamp: us}
			size += int64(len(key) + len(v))
		}
		dens[densKey{start, pe.series, tb}] += size
		bk := baseKey{pe.series, tb, eventBucket(pe.ev.ID, s.buckets), s.buckets}
		bid, ok := baseIDs[bk]
		if !ok {
			bid = partition{series: bk.series, tb: tb, eb: bk.eb, n: bk.n}.id()
			baseIDs[bk] = bid
		}
		evs = append(evs, placed{ns: s.ns, bid: bid, base: partition{series: pe.series, tb: tb, eb: bk.eb, n: bk.n}, id: pe.ev.ID, muts: muts})
	}
	for k, size := range dens {
		n.recordDensity(k.start, k.series, k.tb, size)
	}

	// Held shared until every Apply returns: see Namespace.splitMu.
	n.splitMu.RLock()
	defer n.splitMu.RUnlock()
	groups := make(map[target][]kv.Mutation)
	var order []target
	add := func(t target, m []kv.Mutation) {
		if _, ok := groups[t]; !ok {
			order = append(order, t)
		}
		groups[t] = append(groups[t], m...)
	}
	for _, e := range evs {
		bid := e.bid
		add(target{e.ns, bid}, e.muts)
		if r := n.splits[bid]; r != nil && (r.state == stateCopying || r.state == statePublished) {
			c := e.base
			c.j, c.m = subBucket(e.id, r.m), r.m
			add(target{e.ns, c.id()}, e.muts)
		}
	}
	// One Apply per partition, cut at MaxApplyItems so that no backend
	// sees an unbounded batch (a Cassandra batch is one mutation, bounded
	// by the commit log segment). Events never straddle two cuts.
	type call struct {
		t    target
		muts []kv.Mutation
	}
	var calls []call
	for _, t := range order {
		muts := groups[t]
		for len(muts) > 0 {
			cut := min(len(muts), n.opts.MaxApplyItems)
			for cut < len(muts) && cut > 0 && sameEvent(muts[cut-1].Key, muts[cut].Key) {
				cut++ // keep an event's items in one Apply
			}
			calls = append(calls, call{t, muts[:cut]})
			muts = muts[cut:]
		}
	}
	err := forEach(ctx, len(calls), n.opts.WriteParallelism, func(ctx context.Context, i int) error {
		return n.store.Apply(ctx, calls[i].t.ns, calls[i].t.id, calls[i].muts)
	})
	if err == nil {
		n.stats.eventsWritten.Add(int64(len(batch)))
	}
	return err
}

// forEach runs fn(0..count-1) with at most limit calls at once and returns
// the first error; after an error it starts no new calls.
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
	for i := range count {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = pctx.Err() // the loop stopped early only if the caller gave up
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
