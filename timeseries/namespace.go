package timeseries

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Namespace is one time-series dataset on a kv.Store: series ids, each an
// append-only set of events, laid out in time slices. Open returns one;
// Close releases it (not the kv.Store, which the caller owns).
//
// A Namespace is safe for concurrent use by any number of goroutines.
type Namespace struct {
	store  kv.Store
	name   string
	opts   Options
	metaNS string
	sliceU int64 // slice length, µs
	bktU   int64 // time bucket length, µs

	sliceMu sync.Mutex       // guards slices
	slices  map[int64]*slice // by slice start (µs); only slices known to exist

	// splitMu guards splits and bloom. Writers hold it shared across their
	// Apply calls; the splitter takes it exclusively to switch a partition
	// to copying, so every write either finished before (and the copy sees
	// it) or starts after (and is written to the new layout as well).
	splitMu sync.RWMutex
	splits  map[string]*splitRec // base partition id → split state
	bloom   *bloom               // base partition ids of published splits

	tsMu   sync.Mutex // guards lastTS
	lastTS int64      // last split-record timestamp written (µs)

	densMu sync.Mutex                 // guards dens
	dens   map[int64]map[string]int64 // slice start → series/tb → bytes written

	buf *buffer // nil unless Options.Coalesce > 0

	runMu sync.Mutex // serializes RunSplits

	wake   chan struct{}      // nudges the splitter
	stop   chan struct{}      // closed by Close
	bgStop context.CancelFunc // cancels the background goroutine's work in progress
	wg     sync.WaitGroup

	// openMu orders Close after the Writes and Flushes in progress: they
	// hold it shared from their closed check to their return, and Close
	// takes it exclusively to set closed. So every Write either returned
	// before closed was set — its events are in the store or in the
	// buffer, which Close then flushes — or fails with ErrClosed.
	openMu  sync.RWMutex // guards the setting of closed
	closed  atomic.Bool  // read alone by Read and the rest
	closeMu sync.Mutex   // serializes Close

	stats counters
}

// Open opens (creating if needed) the time-series namespace name on store.
// name matches ^[a-z][a-z0-9_]*$ and is at most MaxNameLen bytes; the
// Namespace keeps its data in kv namespaces "<name>_m" and "<name>_t<unix
// seconds>". A nil opts means the defaults.
func Open(ctx context.Context, store kv.Store, name string, opts *Options) (*Namespace, error) {
	if err := kv.CheckNamespace(name); err != nil || len(name) > MaxNameLen {
		return nil, fmt.Errorf("%w: namespace name %q must match ^[a-z][a-z0-9_]*$ and be at most %d bytes", ErrInvalid, name, MaxNameLen)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Namespace{
		store:  store,
		name:   name,
		opts:   o,
		metaNS: name + "_m",
		slices: make(map[int64]*slice),
		splits: make(map[string]*splitRec),
		bloom:  newBloom(0),
		dens:   make(map[int64]map[string]int64),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	if err := n.loadConfig(ctx, opts); err != nil {
		return nil, err
	}
	if err := n.loadSplits(ctx); err != nil {
		return nil, err
	}
	if o.Coalesce > 0 {
		n.buf = &buffer{}
	}
	if !o.NoBackground {
		bg, cancel := context.WithCancel(context.Background())
		n.bgStop = cancel
		n.wg.Add(1)
		go n.background(bg)
	}
	return n, nil
}

// loadConfig reads the layout stored for the namespace, or stores ours.
// Explicitly set options must agree with a stored layout; zero ones adopt it.
func (n *Namespace) loadConfig(ctx context.Context, given *Options) error {
	if err := n.store.CreateNamespace(ctx, n.metaNS); err != nil {
		return err
	}
	res, err := n.store.Read(ctx, n.metaNS, "config", kv.Query{})
	if err != nil {
		return err
	}
	stored := map[string]int64{}
	for _, it := range res.Items {
		v, err := strconv.ParseInt(string(it.Value), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: stored config %q: %v", ErrConfig, it.Key, err)
		}
		stored[string(it.Key)] = v
	}
	if len(stored) == 0 {
		ts := n.opts.Now().UnixMicro()
		err := n.store.Apply(ctx, n.metaNS, "config", []kv.Mutation{
			{Op: kv.OpPut, Key: []byte("slice"), Value: []byte(strconv.FormatInt(int64(n.opts.SliceLength/time.Second), 10)), Timestamp: ts},
			{Op: kv.OpPut, Key: []byte("bucket"), Value: []byte(strconv.FormatInt(int64(n.opts.TimeBucket/time.Second), 10)), Timestamp: ts},
		})
		if err != nil {
			return err
		}
	} else {
		sl, bk := time.Duration(stored["slice"])*time.Second, time.Duration(stored["bucket"])*time.Second
		if sl <= 0 || bk <= 0 || sl%bk != 0 {
			return fmt.Errorf("%w: stored layout slice=%v bucket=%v is corrupt", ErrConfig, sl, bk)
		}
		if given != nil && ((given.SliceLength != 0 && given.SliceLength != sl) || (given.TimeBucket != 0 && given.TimeBucket != bk)) {
			return fmt.Errorf("%w: stored slice=%v bucket=%v, options ask slice=%v bucket=%v", ErrConfig, sl, bk, given.SliceLength, given.TimeBucket)
		}
		n.opts.SliceLength, n.opts.TimeBucket = sl, bk
	}
	n.sliceU, n.bktU = n.opts.SliceLength.Microseconds(), n.opts.TimeBucket.Microseconds()
	return nil
}

// Name returns the namespace name.
func (n *Namespace) Name() string { return n.name }

// sliceStart returns the start (µs) of the slice holding µs.
func (n *Namespace) sliceStart(us int64) int64 { return us - us%n.sliceU }

// sliceName is the kv namespace of the slice starting at µs (frozen):
// name "_t" unix-seconds.
func (n *Namespace) sliceName(start int64) string {
	return n.name + "_t" + strconv.FormatInt(start/1e6, 10)
}

// parseSliceName returns the start (µs) of a slice namespace of ours.
func (n *Namespace) parseSliceName(ns string) (int64, bool) {
	prefix := n.name + "_t"
	if len(ns) <= len(prefix) || ns[:len(prefix)] != prefix {
		return 0, false
	}
	sec, err := canonicalInt(ns[len(prefix):], 1<<40)
	if err != nil {
		return 0, false
	}
	return sec * 1e6, true
}

// Close waits for the Writes and Flushes in progress, stops the background
// goroutine and waits for it, flushes the write buffer and records
// observed density. Every Write that returned nil before or while Close
// ran is then in the store (or, if the final flush failed, counted in
// Stats.EventsDropped); calls begun after Close return ErrClosed. It does
// not close the kv.Store. A second Close returns nil.
func (n *Namespace) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	n.openMu.Lock()
	if n.closed.Load() {
		n.openMu.Unlock()
		return nil
	}
	n.closed.Store(true)
	n.openMu.Unlock()
	// No Write can add to the buffer now. Stop the goroutine before the
	// last flush so the two never flush at once (its flush in progress
	// is not cancelled: see background).
	close(n.stop)
	if n.bgStop != nil {
		n.bgStop() // an interrupted split resumes from its checkpoint later
	}
	n.wg.Wait()
	err := n.flushBuffer(context.Background())
	return errors.Join(err, n.saveDensity(context.Background()))
}

func (n *Namespace) checkOpen() error {
	if n.closed.Load() {
		return ErrClosed
	}
	return nil
}

// background runs the timed work: buffer flushes, splits, metadata
// refresh and retention. It is the only goroutine a Namespace owns.
func (n *Namespace) background(ctx context.Context) {
	defer n.wg.Done()
	ticker := func(d time.Duration, on bool) (<-chan time.Time, func()) {
		if !on {
			return nil, func() {}
		}
		return n.opts.NewTicker(d)
	}
	flushC, s1 := ticker(n.opts.Coalesce, n.buf != nil)
	defer s1()
	splitC, s2 := ticker(n.opts.SplitInterval, !n.opts.DisableSplitter)
	defer s2()
	refreshC, s3 := ticker(n.opts.RefreshInterval, true)
	defer s3()
	retainC, s4 := ticker(n.opts.RetentionInterval, n.opts.Retention > 0)
	defer s4()
	wake := n.wake
	if n.opts.DisableSplitter {
		wake = nil
	}
	logErr := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			n.opts.Logger.Warn("timeseries: "+what, "namespace", n.name, "err", err)
		}
	}
	for {
		select {
		case <-n.stop:
			return
		case <-flushC:
			// Not cancelled by Close: the events were acknowledged, and
			// Close waits for this flush rather than dropping them.
			logErr("flush", n.flushBuffer(context.WithoutCancel(ctx)))
		case <-splitC:
			_, _ = n.RunSplits(ctx) // failures are logged per split
		case <-wake:
			_, _ = n.RunSplits(ctx)
		case <-refreshC:
			logErr("refresh splits", n.loadSplits(ctx))
			logErr("refresh slice layouts", n.refreshSlices(ctx))
			logErr("save density", n.saveDensity(ctx))
		case <-retainC:
			_, err := n.EnforceRetention(ctx)
			logErr("retention", err)
		}
	}
}

// counters are the numbers Stats reports.
type counters struct {
	eventsWritten, eventsDropped, splitRequests, splitsPublished, splitRetries, splitsAborted, slicesDropped, partialReads atomic.Int64
}

// Stats are cumulative counters of one Namespace (a snapshot value).
type Stats struct {
	EventsWritten   int64 // events applied to the store
	EventsDropped   int64 // buffered events lost to failed flushes (the buffer is loss-tolerant)
	SplitRequests   int64 // wide partitions this process recorded
	SplitsPublished int64 // splits this process completed
	SplitRetries    int64 // failed split attempts scheduled to run again
	SplitsAborted   int64 // splits given up after Options.MaxSplitAttempts
	SlicesDropped   int64 // slices removed by retention
	PartialReads    int64 // reads returned early with Page.Partial
}

// Stats returns the counters so far.
func (n *Namespace) Stats() Stats {
	c := &n.stats
	return Stats{c.eventsWritten.Load(), c.eventsDropped.Load(), c.splitRequests.Load(), c.splitsPublished.Load(),
		c.splitRetries.Load(), c.splitsAborted.Load(), c.slicesDropped.Load(), c.partialReads.Load()}
}
