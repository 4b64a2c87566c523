package timeseries

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// ReadOptions are the per-call settings of Read and Search. A nil
// *ReadOptions means the defaults. A plain value: a call copies it and
// never writes to it, so concurrent calls may share one while none
// changes it.
type ReadOptions struct {
	// Limit is the most events on one page: default DefaultPageEvents, at
	// most MaxPageEvents.
	Limit int
	// PageToken continues a previous call with the same series, range and
	// kind (Page.Next); anything else is ErrBadToken.
	PageToken []byte
	// SLO, when positive, is the latency target of the call: when it
	// passes, the call returns the events gathered so far with
	// Page.Partial set (and a Page.Next to continue), instead of waiting.
	SLO time.Duration
	// Partial returns early in the same way when ctx's deadline passes,
	// rather than failing with context.DeadlineExceeded.
	Partial bool
}

// Page is one call's worth of events, newest first. A plain value that
// belongs to the caller: the Namespace keeps no reference to it, so it is
// as safe for concurrent use as any value nobody writes.
type Page struct {
	Events []Event
	// Next continues the read where this page stopped, across time-bucket
	// and slice boundaries; nil when the range is exhausted. A page may be
	// short (even empty) while Next is set.
	Next []byte
	// Partial reports that a deadline cut the page short. The events are
	// still the newest-first prefix of the range after the token.
	Partial bool
}

// Read returns the events of series with from <= time < to, newest first,
// at most ReadOptions.Limit per page. Within each time bucket it reads the
// event buckets (or, for split partitions, their sub-buckets) in parallel,
// up to Options.FanOut at once, and merges them by time.
func (n *Namespace) Read(ctx context.Context, series string, from, to time.Time, opts *ReadOptions) (*Page, error) {
	return n.scan(ctx, series, from, to, opts, 'r', nil)
}

// leaf is one kv record a read visits. base is the partition id when the
// leaf is an unsplit base partition (a candidate for splitting).
type leaf struct {
	ns, id, base string
	// share is how many leaves split this leaf's part of the data: the
	// slice's event buckets for a base partition, m for a sub-bucket of a
	// split one (which was wide, so its sub-buckets are the dense leaves).
	share int
}

// leaves lists the records that hold (series, tb) in slice s — the base
// partitions of every registered layout — routing published splits to
// their sub-buckets.
func (n *Namespace) leaves(s *slice, series string, tb int64) []leaf {
	n.splitMu.RLock()
	defer n.splitMu.RUnlock()
	total := s.totalBuckets()
	out := make([]leaf, 0, total)
	for _, nb := range s.layouts {
		for eb := range nb {
			p := partition{series: series, tb: tb, eb: eb, n: nb}
			pid := p.id()
			if n.bloom.has(pid) {
				if r := n.splits[pid]; r != nil && r.state == statePublished {
					for j := range r.m {
						c := p
						c.j, c.m = j, r.m
						out = append(out, leaf{ns: s.ns, id: c.id(), share: r.m})
					}
					continue
				}
			}
			out = append(out, leaf{ns: s.ns, id: pid, base: pid, share: total})
		}
	}
	return out
}

// scan is Read, and Search with match set. kind binds page tokens to the
// entry point.
func (n *Namespace) scan(ctx context.Context, series string, from, to time.Time, o *ReadOptions, kind byte, match func(*Event) bool) (*Page, error) {
	if err := n.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkSeries(series); err != nil {
		return nil, err
	}
	var opt ReadOptions
	if o != nil {
		opt = *o
	}
	fromU, toU := max(from.UnixMicro(), 1), to.UnixMicro()
	if toU <= fromU {
		return nil, fmt.Errorf("%w: empty time range %v .. %v", ErrInvalid, from, to)
	}
	limit := opt.Limit
	if limit == 0 {
		limit = DefaultPageEvents
	}
	if limit < 0 || limit > MaxPageEvents {
		return nil, fmt.Errorf("%w: limit %d outside 1..%d", ErrInvalid, limit, MaxPageEvents)
	}
	bind := bindHash(n.name, series, fromU, toU, kind)
	pos := position{us: toU - 1}
	var carry token
	if opt.PageToken != nil {
		t, err := decodeToken(opt.PageToken, bind)
		if err != nil {
			return nil, err
		}
		if t.pos.us < fromU || t.pos.us >= toU {
			return nil, fmt.Errorf("%w: position outside the range", ErrBadToken)
		}
		pos, carry = t.pos, t
	}
	partialOK := opt.Partial || opt.SLO > 0
	if opt.SLO > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.SLO)
		defer cancel()
	}
	page := &Page{}
	cutShort := func(err error, tb int64, b []int64) (*Page, error) {
		if partialOK && errors.Is(err, context.DeadlineExceeded) {
			page.Partial = true
			page.Next = token{pos: pos, tb: tb, bytes: clampBytes(b)}.encode(bind)
			n.stats.partialReads.Add(1)
			return page, nil
		}
		return nil, err
	}
	if (pos.us-fromU)/n.sliceU > 8 {
		// A long range: start no earlier than the oldest slice there is,
		// rather than probing every bucket back to from.
		oldest, err := n.oldestSlice(ctx)
		if err != nil {
			return cutShort(err, pos.us/n.bktU, nil)
		}
		if oldest < 0 || oldest > pos.us {
			return page, nil
		}
		fromU = max(fromU, oldest)
	}
	loTB := fromU / n.bktU
	view := make(map[int64]*slice, 1) // the layouts this call read
	for tb := pos.us / n.bktU; tb >= loTB; tb-- {
		tbStart := tb * n.bktU
		lo := max(fromU, tbStart)
		start := pos.startKey()
		end := timeKey(lo - 1)
		sliceAt := n.sliceStart(tbStart)
		s, fresh, err := n.sliceForScan(ctx, sliceAt, view)
		if err != nil {
			return cutShort(err, tb, nil)
		}
		if s == nil {
			// No slice: skip its remaining buckets in one step.
			tb = sliceAt / n.bktU
			tbStart = sliceAt
		}
		if s != nil && start != nil {
			build := func(s *slice) (*merger, []leaf, []int64) {
				lv := n.leaves(s, series, tb)
				b := make([]int64, len(lv))
				if carry.tb == tb && len(carry.bytes) == len(lv) {
					for i, x := range carry.bytes {
						b[i] = int64(x)
					}
				}
				return &merger{n: n, leaves: lv, start: start, end: end, bytes: b, match: match}, lv, b
			}
			m, lv, b := build(s)
			if fresh != nil {
				// The first fetches run with the cached layouts while
				// they are re-read; nothing is emitted before they agree.
				m.verify = func() error {
					fs, err := fresh()
					if err == nil && (fs == nil || !slices.Equal(fs.layouts, s.layouts)) {
						err = errLayoutChanged
					}
					return err
				}
			}
			err := m.run(ctx, limit-len(page.Events), &page.Events)
			if errors.Is(err, errLayoutChanged) {
				fs, _ := fresh()
				if fs == nil {
					fs = &slice{ns: s.ns} // dropped meanwhile: nothing to read
				}
				m, lv, b = build(fs)
				err = m.run(ctx, limit-len(page.Events), &page.Events)
			}
			if fresh != nil {
				fresh() // no goroutine outlives the call
			}
			n.detectWide(ctx, lv, b)
			if m.last != nil {
				us, id, _, _ := parseItemKey(m.last)
				pos = position{us: us, id: id, after: true}
			}
			if err != nil {
				return cutShort(err, tb, b)
			}
			if len(page.Events) >= limit {
				if !m.exhausted || tb > loTB {
					page.Next = token{pos: pos, tb: tb, bytes: clampBytes(b)}.encode(bind)
				}
				return page, nil
			}
		}
		if fresh != nil {
			fresh() // later buckets of the slice use the re-read set
		}
		if tbStart-1 < 1 {
			break
		}
		pos = position{us: tbStart - 1}
	}
	return page, nil
}

// oldestSlice returns the start (µs) of the oldest slice, or -1.
func (n *Namespace) oldestSlice(ctx context.Context) (int64, error) {
	names, err := n.store.Namespaces(ctx)
	if err != nil {
		return 0, err
	}
	oldest := int64(-1)
	for _, ns := range names {
		if start, ok := n.parseSliceName(ns); ok && (oldest < 0 || start < oldest) {
			oldest = start
		}
	}
	return oldest, nil
}

func clampBytes(b []int64) []uint32 {
	if len(b) > tokenMaxLeaf {
		return nil
	}
	out := make([]uint32, len(b))
	for i, x := range b {
		out[i] = uint32(min(x, math.MaxUint32))
	}
	return out
}

// errLayoutChanged: a slice's layout set changed under a read that
// started with the cached one; the read starts the bucket again.
var errLayoutChanged = errors.New("edgekit/timeseries: slice layouts changed")

// merger merges the leaves of one time bucket newest first.
type merger struct {
	n          *Namespace
	leaves     []leaf
	start, end []byte
	bytes      []int64 // bytes read per leaf (detection)
	match      func(*Event) bool

	// verify, when set, runs after the first fetches and before any
	// event is emitted; errLayoutChanged means the leaves were wrong.
	verify func() error

	cur       []leafCursor
	last      []byte // event prefix of the last event consumed
	exhausted bool   // every leaf was read to the end
}

type leafCursor struct {
	items []kv.Item
	kvc   []byte // kv cursor of the next fetch
	done  bool
}

// fetch reads the next items of leaf i.
func (m *merger) fetch(ctx context.Context, i, limit int) error {
	c := &m.cur[i]
	l := m.leaves[i]
	res, err := m.n.store.Read(ctx, l.ns, l.id, kv.Query{Start: m.start, End: m.end, Limit: limit, MaxBytes: 1 << 20, Cursor: c.kvc})
	if errors.Is(err, kv.ErrNoNamespace) {
		c.done = true // the slice was dropped by retention under us
		return nil
	}
	if err != nil {
		return err
	}
	for _, it := range res.Items {
		m.bytes[i] += int64(len(it.Key) + len(it.Value))
	}
	c.items, c.kvc = res.Items, res.Cursor
	c.done = res.Cursor == nil
	return nil
}

// refill fetches every leaf whose buffer is empty, in parallel; limit(i)
// is the item limit of leaf i.
func (m *merger) refill(ctx context.Context, limit func(i int) int) (bool, error) {
	var idx []int
	for i := range m.cur {
		if len(m.cur[i].items) == 0 && !m.cur[i].done {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return false, nil
	}
	return true, forEach(ctx, len(idx), m.n.opts.FanOut, func(ctx context.Context, k int) error {
		return m.fetch(ctx, idx[k], limit(idx[k]))
	})
}

// run appends up to need events (that match) to out.
func (m *merger) run(ctx context.Context, need int, out *[]Event) error {
	m.cur = make([]leafCursor, len(m.leaves))
	// The first fetch of each leaf expects its share of the page (about
	// two items per event); later fetches expect the rest of it.
	first := func(i int) int { return min(1000, max(16, 2*need/max(m.leaves[i].share, 1)+8)) }
	more := min(1000, max(64, 2*need))
	moreF := func(int) int { return more }
	if _, err := m.refill(ctx, first); err != nil {
		return err
	}
	if m.verify != nil {
		if err := m.verify(); err != nil {
			return err
		}
	}
	for emitted := 0; emitted < need; {
		if again, err := m.refill(ctx, moreF); err != nil {
			return err
		} else if again {
			continue
		}
		best := -1
		for i := range m.cur {
			if len(m.cur[i].items) > 0 && (best < 0 || bytes.Compare(m.cur[i].items[0].Key, m.cur[best].items[0].Key) < 0) {
				best = i
			}
		}
		if best < 0 {
			m.exhausted = true
			return nil
		}
		ev, prefix, err := m.takeEvent(ctx, best, more)
		if err != nil {
			return err
		}
		// One event may sit in partitions of two layouts (written through
		// both): the other copies head their leaves now, so fold them in.
		for i := range m.cur {
			if i != best && len(m.cur[i].items) > 0 && bytes.HasPrefix(m.cur[i].items[0].Key, prefix) {
				dup, _, err := m.takeEvent(ctx, i, more)
				if err != nil {
					return err
				}
				ev.Items = mergeItems(ev.Items, dup.Items)
			}
		}
		m.last = prefix
		if m.match == nil || m.match(&ev) {
			*out = append(*out, ev)
			emitted++
		}
	}
	return nil
}

// takeEvent consumes the items of the event at the head of leaf i, which
// may continue past the buffered items.
func (m *merger) takeEvent(ctx context.Context, i, more int) (Event, []byte, error) {
	c := &m.cur[i]
	us, id, _, err := parseItemKey(c.items[0].Key)
	if err != nil {
		return Event{}, nil, fmt.Errorf("partition %s: %w", m.leaves[i].id, err)
	}
	pl := keyHeaderLen + len(id)
	prefix := bytes.Clone(c.items[0].Key[:pl])
	ev := Event{Time: time.UnixMicro(us), ID: string(id)}
	for {
		for len(c.items) > 0 && bytes.HasPrefix(c.items[0].Key, prefix) {
			it := c.items[0]
			ev.Items = append(ev.Items, Item{Key: string(it.Key[pl:]), Value: it.Value})
			c.items = c.items[1:]
		}
		if len(c.items) > 0 || c.done {
			return ev, prefix, nil
		}
		if err := m.fetch(ctx, i, more); err != nil {
			return Event{}, nil, err
		}
	}
}

// mergeItems merges two item lists sorted by key, keeping one item per
// key; of two different values the larger wins, as kv's tie-break does.
func mergeItems(a, b []Item) []Item {
	out := make([]Item, 0, max(len(a), len(b)))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0].Key < b[0].Key):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0].Key < a[0].Key:
			out, b = append(out, b[0]), b[1:]
		default:
			if bytes.Compare(b[0].Value, a[0].Value) > 0 {
				a[0] = b[0]
			}
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}
