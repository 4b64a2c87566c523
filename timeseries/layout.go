package timeseries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Slice layouts. A slice's event-bucket count is chosen by whichever writer
// creates the slice, from the density that writer observed, so two writers
// that create it at once may choose differently — and kv has no
// compare-and-set to let the first one win. Instead every count a writer
// uses is registered in the slice's "m/slice" record (item "layout.<n>")
// before any event is written under it, and reads visit the partitions of
// every registered count. The set only grows, so:
//
//   - a read that fetches the set after an event's Write returned sees the
//     layout that event was written under;
//   - writers converge on the largest registered count (item "buckets"
//     holds it too: same timestamp everywhere, so kv's tie-break keeps the
//     largest), and the losing layout holds only what was written before
//     its writer noticed;
//   - an event written through two layouts is read once: the merge folds
//     the copies of one event together.
//
// Reads therefore re-read the set (one small kv read per slice per call, in
// parallel with the first partition fetches: see sliceForScan) until the slice is settled: its accept window has closed and layoutSettle
// has passed, after which no write may succeed (see checkLate), and a set
// read after that is final and cached.

// layoutSettle is how long after a slice's accept window closes a reader
// still re-reads its layout set. A write that finishes more than half of it
// after the window fails, so clocks of processes sharing a namespace may
// disagree by up to the other half.
const layoutSettle = time.Minute

// sliceMetaID is the record of a slice's layout (never a partition id).
const sliceMetaID = "m/slice"

// layoutPrefix starts the item key of each registered layout (frozen):
// "layout." n, value n, both decimal.
const layoutPrefix = "layout."

// slice is one time slice that exists in the store, as read at fetched.
// Values are immutable once published in Namespace.slices.
type slice struct {
	start   int64 // µs
	ns      string
	buckets int   // event buckets of new writes: the largest layout
	layouts []int // every registered event-bucket count, ascending
	fetched int64 // clock reading (µs) taken just before the set was read
}

// totalBuckets is the number of base partitions per time bucket.
func (s *slice) totalBuckets() int {
	t := 0
	for _, b := range s.layouts {
		t += b
	}
	return t
}

// readLayout reads the layout set of the slice at start from the store;
// nil when the slice has none (does not exist).
func (n *Namespace) readLayout(ctx context.Context, start int64) (*slice, error) {
	ns := n.sliceName(start)
	fetched := n.opts.Now().UnixMicro()
	seen := map[int64]bool{}
	var cursor []byte
	for {
		res, err := n.store.Read(ctx, ns, sliceMetaID, kv.Query{Cursor: cursor})
		if errors.Is(err, kv.ErrNoNamespace) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			k := string(it.Key)
			num, isLayout := strings.CutPrefix(k, layoutPrefix)
			if k == "buckets" {
				num = string(it.Value)
			} else if !isLayout {
				continue // "density", or an item of a later version
			}
			b, err := canonicalInt(num, maxBuckets)
			if err != nil || b < 1 {
				return nil, fmt.Errorf("%w: slice %s: bad bucket count in %q", ErrConfig, ns, k)
			}
			seen[b] = true
		}
		if cursor = res.Cursor; cursor == nil {
			break
		}
	}
	if len(seen) == 0 {
		return nil, nil
	}
	s := &slice{start: start, ns: ns, fetched: fetched}
	for b := range seen {
		s.layouts = append(s.layouts, int(b))
	}
	slices.Sort(s.layouts)
	s.buckets = s.layouts[len(s.layouts)-1]
	return s, nil
}

// cachedSlice returns the slice at start as last read, or nil.
func (n *Namespace) cachedSlice(start int64) *slice {
	n.sliceMu.Lock()
	defer n.sliceMu.Unlock()
	return n.slices[start]
}

// cacheSlice remembers s unless a later read of the same slice is cached
// (sets only grow, so the later read is the larger).
func (n *Namespace) cacheSlice(s *slice) {
	n.sliceMu.Lock()
	defer n.sliceMu.Unlock()
	if cur := n.slices[s.start]; cur == nil || cur.fetched <= s.fetched {
		n.slices[s.start] = s
	}
}

// settled reports whether s was read late enough that no layout can be
// added to its slice any more.
func (n *Namespace) settled(s *slice) bool {
	if n.opts.AcceptPast < 0 {
		return false // a slice can be written forever
	}
	return s.fetched >= s.start+n.sliceU+n.opts.AcceptPast.Microseconds()+layoutSettle.Microseconds()
}

// getSlice returns the slice at start, cached after its first read: what
// writers need (any registered layout will do for them).
func (n *Namespace) getSlice(ctx context.Context, start int64) (*slice, error) {
	if s := n.cachedSlice(start); s != nil {
		return s, nil
	}
	s, err := n.readLayout(ctx, start)
	if s != nil {
		n.cacheSlice(s)
	}
	return s, err
}

// sliceForRead returns the layout set a read must visit for the slice at
// start: re-read from the store once per call (view holds this call's
// reads) until the slice is settled.
func (n *Namespace) sliceForRead(ctx context.Context, start int64, view map[int64]*slice) (*slice, error) {
	if s, ok := view[start]; ok {
		return s, nil
	}
	s := n.cachedSlice(start)
	if s == nil || !n.settled(s) {
		var err error
		if s, err = n.readLayout(ctx, start); err != nil {
			return nil, err
		}
		if s != nil {
			n.cacheSlice(s)
		}
	}
	view[start] = s
	return s, nil
}

// sliceForScan is sliceForRead for a scan that can start fetching before
// the re-read returns (saving a round trip): for a cached unsettled slice
// it returns the cached set at once and re-reads it in the background.
// fresh, nil when the returned set is final for this call, then waits for
// the re-read, records it in view and the cache, and returns it. The
// caller must call fresh before it returns, and only from its own
// goroutine.
func (n *Namespace) sliceForScan(ctx context.Context, start int64, view map[int64]*slice) (s *slice, fresh func() (*slice, error), err error) {
	if s, ok := view[start]; ok {
		return s, nil, nil
	}
	s = n.cachedSlice(start)
	if s == nil || n.settled(s) {
		s, err = n.sliceForRead(ctx, start, view)
		return s, nil, err
	}
	var (
		fs   *slice
		ferr error
		done = make(chan struct{})
		seen bool
	)
	go func() {
		defer close(done)
		fs, ferr = n.readLayout(ctx, start)
	}()
	return s, func() (*slice, error) {
		<-done
		if !seen && ferr == nil {
			seen = true
			if fs != nil {
				n.cacheSlice(fs)
			}
			view[start] = fs
		}
		return fs, ferr
	}, nil
}

// ensureSlice returns the slice at start for a write, creating it — with an
// event-bucket count chosen from the density observed in the slice before
// — when the store has none.
func (n *Namespace) ensureSlice(ctx context.Context, start int64) (*slice, error) {
	if s, err := n.getSlice(ctx, start); s != nil || err != nil {
		return s, err
	}
	ns := n.sliceName(start)
	if err := n.store.CreateNamespace(ctx, ns); err != nil {
		return nil, err
	}
	b := n.pickBuckets(ctx, start)
	v := []byte(strconv.Itoa(b))
	// Register b before writing under it. Racing creators all write
	// "buckets" at one timestamp, so the largest count wins it everywhere.
	err := n.store.Apply(ctx, ns, sliceMetaID, []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("buckets"), Value: v, Timestamp: start + 1},
		{Op: kv.OpPut, Key: []byte(layoutPrefix + string(v)), Value: v, Timestamp: start + 1},
	})
	if err != nil {
		return nil, err
	}
	// Adopt the largest count registered by now: our own or a racer's.
	s, err := n.readLayout(ctx, start)
	if err == nil && (s == nil || !slices.Contains(s.layouts, b)) {
		err = fmt.Errorf("%w: slice %s lost its layout while being created", ErrConfig, ns)
	}
	if err != nil {
		return nil, err
	}
	n.cacheSlice(s)
	return s, nil
}

// checkLate fails a write that finished after half the settle time past
// the accept window of a slice it wrote: a reader that read the layout set
// after the slice settled never reads it again, so the write may have used
// a layout (registered as late) that such a reader does not visit.
func (n *Namespace) checkLate(starts []int64) error {
	if n.opts.AcceptPast < 0 {
		return nil
	}
	now := n.opts.Now().UnixMicro()
	for _, start := range starts {
		if now > start+n.sliceU+n.opts.AcceptPast.Microseconds()+layoutSettle.Microseconds()/2 {
			return fmt.Errorf("%w: the write to slice %s finished after its accept window closed; readers may not see it",
				ErrOutsideWindow, n.sliceName(start))
		}
	}
	return nil
}

// refreshSlices re-reads the layout set of every cached unsettled slice,
// so that this process's writes move to the largest count another writer
// registered.
func (n *Namespace) refreshSlices(ctx context.Context) error {
	n.sliceMu.Lock()
	var todo []int64
	for start, s := range n.slices {
		if !n.settled(s) {
			todo = append(todo, start)
		}
	}
	n.sliceMu.Unlock()
	var errs []error
	for _, start := range todo {
		s, err := n.readLayout(ctx, start)
		if err != nil {
			errs = append(errs, err)
		} else if s != nil {
			n.cacheSlice(s)
		}
	}
	return errors.Join(errs...)
}
