package timeseries_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/timeseries"
)

// layoutGate makes two handles race to create one slice: each handle's
// store is a gatedStore sharing the gate. A layout write ("buckets" put)
// waits until both handles have read the slice's layout record (so both
// saw it missing and both create it); the late handle's layout write also
// waits until the early handle has read the layout back after writing its
// own. That is the interleaving in which a reader could adopt a layout
// that a later writer then replaces.
type layoutGate struct {
	ns string // the slice namespace raced for

	mu    sync.Mutex // guards reads
	reads int        // reads of the layout record of ns

	registered sync.WaitGroup // done once each handle's layout write returned
}

func newLayoutGate(ns string) *layoutGate {
	g := &layoutGate{ns: ns}
	g.registered.Add(2)
	return g
}

// waitReads waits until want reads happened, or ten seconds passed (an
// implementation that reads less must not hang the test; it fails it by
// what the readers then see).
func (g *layoutGate) waitReads(want int) {
	deadline := time.Now().Add(10 * time.Second)
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.reads < want && time.Now().Before(deadline) {
		g.mu.Unlock()
		time.Sleep(time.Millisecond)
		g.mu.Lock()
	}
}

type gatedStore struct {
	kv.Store
	g    *layoutGate
	late bool
}

func (s *gatedStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	res, err := s.Store.Read(ctx, ns, id, q)
	if ns == s.g.ns && id == "m/slice" {
		s.g.mu.Lock()
		s.g.reads++
		s.g.mu.Unlock()
	}
	return res, err
}

func (s *gatedStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	if ns == s.g.ns && id == "m/slice" && len(muts) > 0 && bytes.Equal(muts[0].Key, []byte("buckets")) {
		s.g.waitReads(2)
		if s.late {
			s.g.waitReads(3)
		}
		defer s.g.registered.Done()
	}
	return s.Store.Apply(ctx, ns, id, muts)
}

// TestSliceCreationRace: two handles on one store (two processes, in
// effect) create the same slice at once, having observed different
// densities, so they pick different bucket counts. Every event either
// wrote — including events both wrote — must be readable, exactly once,
// through both handles and a third opened afterwards.
func TestSliceCreationRace(t *testing.T) {
	forEachTrial(t, map[string]int{"mem": 24, "local": 6}, sliceRaceTrial)
}

func sliceRaceTrial(t *testing.T, store kv.Store, s uint64) { raceTrial(t, store, s, false) }

// TestSplitAcrossLayouts: in a slice with two layouts, wide partitions of
// either are split, and reads through the splitter and through a handle
// opened afterwards still return every event once.
func TestSplitAcrossLayouts(t *testing.T) {
	forEachTrial(t, map[string]int{"mem": 8, "local": 2}, func(t *testing.T, store kv.Store, s uint64) {
		raceTrial(t, store, s, true)
	})
}

// raceTrial is one slice-creation race; with split, partitions past a few
// hundred bytes are then split by handle A.
func raceTrial(t *testing.T, store kv.Store, s uint64, split bool) {
	rng := rand.New(rand.NewPCG(s, 11))
	ctx := context.Background()
	c := newClock()
	o := testOpts(c)
	o.EventBuckets, o.MaxEventBuckets, o.TargetPartitionBytes = 2, 7, 500
	if split {
		o.WideBytes, o.MaxSplitBuckets = 400, 3
	}
	// The slice raced for is the next hour; the gate only holds its layout.
	t0 := c.Now().Truncate(time.Hour)
	next := t0.Add(time.Hour)
	g := newLayoutGate(fmt.Sprintf("race_t%d", next.Unix()))
	aLate := rng.IntN(2) == 0
	a := open(t, &gatedStore{Store: store, g: g, late: aLate}, "race", o)
	// A alone saw a dense slice before (its in-memory density), so it picks
	// several buckets; B, opened before A saved any density, the default.
	var dense []timeseries.Event
	for i := range 40 {
		dense = append(dense, ev(t0.Add(time.Duration(i)*time.Second), fmt.Sprint(i), "payload", string(make([]byte, 60))))
	}
	if err := a.Write(ctx, "s", dense...); err != nil {
		t.Fatal(err)
	}
	bh := open(t, &gatedStore{Store: store, g: g, late: !aLate}, "race", o)

	evs := genEvents(rng, next.Add(59*time.Minute), 59*time.Minute, 200+rng.IntN(200))
	// Each event goes to A, B or both (an idempotent rewrite through the
	// other layout); each handle writes its share in random chunks.
	var mine [2][]timeseries.Event
	for _, e := range evs {
		switch rng.IntN(5) {
		case 0:
			mine[0], mine[1] = append(mine[0], e), append(mine[1], e)
		case 1, 2:
			mine[0] = append(mine[0], e)
		default:
			mine[1] = append(mine[1], e)
		}
	}
	chunks := [2][]int{}
	for h := range 2 {
		for rest := len(mine[h]); rest > 0; {
			k := min(rest, 1+rng.IntN(60))
			chunks[h] = append(chunks[h], k)
			rest -= k
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // guards written
		written = map[string]bool{}
		writers sync.WaitGroup
	)
	for h, ns := range []*timeseries.Namespace{a, bh} {
		wg.Add(1)
		writers.Add(1)
		go func() {
			defer wg.Done()
			defer writers.Done()
			rest := mine[h]
			for _, k := range chunks[h] {
				if err := ns.Write(ctx, "s", rest[:k]...); err != nil {
					t.Errorf("handle %d: Write: %v", h, err)
					return
				}
				mu.Lock()
				for _, e := range rest[:k] {
					written[e.ID] = true
				}
				mu.Unlock()
				rest = rest[k:]
			}
		}()
	}
	// Meanwhile each handle reads: an event whose Write returned before a
	// read began is in it, once. (The readers start once both layouts are
	// registered, lest their reads of the layout open the gate early.)
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	registered := make(chan struct{})
	go func() { g.registered.Wait(); close(registered) }()
	select {
	case <-registered:
	case <-time.After(10 * time.Second):
		t.Fatal("the two handles never both wrote a layout")
	}
	for h, ns := range []*timeseries.Namespace{a, bh} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				before := make([]string, 0, len(written))
				for id := range written {
					before = append(before, id)
				}
				mu.Unlock()
				p, err := ns.Read(ctx, "s", next, next.Add(time.Hour), &timeseries.ReadOptions{Limit: timeseries.MaxPageEvents})
				if err != nil {
					t.Errorf("handle %d: Read: %v", h, err)
					return
				}
				seen := map[string]bool{}
				for _, e := range p.Events {
					if seen[e.ID] {
						t.Errorf("handle %d: event %s read twice", h, e.ID)
						return
					}
					seen[e.ID] = true
				}
				for _, id := range before {
					if !seen[id] {
						t.Errorf("handle %d: event %s was written before the read began but not read (%d of %d)", h, id, len(p.Events), len(before))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The gate made both create the slice: two layouts are registered.
	res, err := store.Read(ctx, g.ns, "m/slice", kv.Query{Start: []byte("layout."), End: []byte("layout/")})
	if err != nil {
		t.Fatal(err)
	}
	var layouts []string
	for _, it := range res.Items {
		layouts = append(layouts, string(it.Key))
	}
	t.Logf("A late=%v; layouts %v", aLate, layouts)
	if len(layouts) != 2 {
		t.Fatalf("registered layouts %v, want two (the race did not happen)", layouts)
	}
	for _, ns := range []*timeseries.Namespace{a, bh} {
		if got, err := ns.EventBuckets(ctx, next); got != 7 || err != nil {
			t.Errorf("EventBuckets = %d, %v; want the larger count, 7", got, err)
		}
	}

	want := newestFirst(evs)
	from, to := next, next.Add(time.Hour)
	limit := 1 + rng.IntN(80)
	fresh := open(t, store, "race", o)
	for _, tc := range []struct {
		name string
		ns   *timeseries.Namespace
	}{{"A", a}, {"B", bh}, {"fresh", fresh}} {
		got, _ := readAll(t, tc.ns, "s", from, to, limit)
		sameEvents(t, "read through "+tc.name, got, want)
		p, err := tc.ns.Search(ctx, "s", from, to, func(string, []byte) bool { return true }, &timeseries.ReadOptions{Limit: timeseries.MaxPageEvents})
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, "search through "+tc.name, p.Events, want)
	}
	if !split {
		return
	}
	published, err := a.RunSplits(ctx)
	if err != nil || published == 0 {
		t.Fatalf("RunSplits = %d, %v; want some published", published, err)
	}
	t.Logf("%d partitions split", published)
	for _, tc := range []struct {
		name string
		ns   *timeseries.Namespace
	}{{"the splitter", a}, {"a handle opened after the splits", open(t, store, "race", o)}} {
		got, _ := readAll(t, tc.ns, "s", from, to, limit)
		sameEvents(t, "after splits, read through "+tc.name, got, want)
	}
}

// metaReads counts reads of slice layout records.
type metaReads struct {
	kv.Store
	mu sync.Mutex // guards n
	n  int
}

func (m *metaReads) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if id == "m/slice" {
		m.mu.Lock()
		m.n++
		m.mu.Unlock()
	}
	return m.Store.Read(ctx, ns, id, q)
}

func (m *metaReads) take() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.n
	m.n = 0
	return n
}

// TestLayoutSettles: while a slice can still gain a layout, every read
// re-reads its layout set; once the accept window and the settle time have
// passed, one more read fetches the final set and later reads use it.
func TestLayoutSettles(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	o := testOpts(c)
	o.AcceptPast = 10 * time.Minute
	store := &metaReads{Store: kvtestStore()}
	ns := open(t, store, "settle", o)
	at := c.Now()
	if err := ns.Write(ctx, "s", ev(at, "e", "k", "v")); err != nil {
		t.Fatal(err)
	}
	from, to := at.Truncate(time.Hour), at.Truncate(time.Hour).Add(time.Hour)
	read := func() int {
		t.Helper()
		store.take()
		got, _ := readAll(t, ns, "s", from, to, 10)
		if len(got) != 1 {
			t.Fatalf("read %d events, want 1", len(got))
		}
		return store.take()
	}
	for _, tc := range []struct {
		name  string
		at    time.Time
		reads int
	}{
		{"live", at, 1},
		{"live again", at, 1},
		{"window closed, not settled", to.Add(10*time.Minute + 59*time.Second), 1},
		{"settled: last look", to.Add(11 * time.Minute), 1},
		{"settled: cached", to.Add(11 * time.Minute), 0},
		{"settled: still cached", to.Add(48 * time.Hour), 0},
	} {
		c.Set(tc.at)
		if got := read(); got != tc.reads {
			t.Errorf("%s: %d reads of the layout record, want %d", tc.name, got, tc.reads)
		}
	}
}

// stallStore moves the clock forward after an Apply to a record whose id
// starts with prefix, as if the writer stalled right there.
type stallStore struct {
	kv.Store
	c      *clock
	prefix string
	stall  time.Duration
}

func (s *stallStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	err := s.Store.Apply(ctx, ns, id, muts)
	if strings.HasPrefix(id, s.prefix) {
		s.c.Add(s.stall)
	}
	return err
}

// TestLateWriteRefused: a Write that finishes more than half the settle
// time after its slice's accept window closed — a reader may already have
// cached the slice's final layout set — fails rather than report success,
// whether it stalled creating the slice or writing the event.
func TestLateWriteRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string // records after whose write the writer stalls
		create bool   // the slice is created by this write
		stall  time.Duration
		ok     bool
	}{
		{"short stall creating the slice", "m/slice", true, time.Minute, true},
		{"long stall creating the slice", "m/slice", true, 40 * time.Minute, false},
		{"short stall writing the event", "1/", false, 10 * time.Minute, true},
		{"long stall writing the event", "1/", false, 11 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			o := testOpts(c)
			o.AcceptPast = 10 * time.Minute
			inner := kvtestStore()
			at := c.Now().Truncate(time.Hour).Add(59 * time.Minute)
			c.Set(at.Add(time.Minute)) // next slice; the event's is still in the window
			if !tc.create {
				if err := open(t, inner, "late", o).Write(ctx, "s", ev(at, "first", "k", "v")); err != nil {
					t.Fatal(err)
				}
			}
			ns := open(t, &stallStore{Store: inner, c: c, prefix: tc.prefix, stall: tc.stall}, "late", o)
			err := ns.Write(ctx, "s", ev(at, "e", "k", "v"))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, timeseries.ErrOutsideWindow)) {
				t.Fatalf("Write = %v; want ok=%v or ErrOutsideWindow", err, tc.ok)
			}
		})
	}
}

// TestWritersConvergeOnRefresh: a writer that created a slice with one
// bucket count keeps writing under it until its next layout refresh, then
// moves to the larger count another creator registered; reads see the
// events of both layouts throughout.
func TestWritersConvergeOnRefresh(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	c := newClock()
	o := testOpts(c)
	o.EventBuckets, o.NoBackground, o.RefreshInterval = 2, false, 13*time.Minute
	ticks := &tickers{}
	o.NewTicker = ticks.New
	store := kvtestStore()
	ns, err := timeseries.Open(ctx, store, "conv", o)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	at := c.Now()
	sliceNS := fmt.Sprintf("conv_t%d", at.Truncate(time.Hour).Unix())
	if err := ns.Write(ctx, "s", ev(at, "e1", "k", "v")); err != nil {
		t.Fatal(err)
	}
	// Another process created the slice at the same time with 7 buckets.
	ts := at.Truncate(time.Hour).UnixMicro() + 1
	if err := store.Apply(ctx, sliceNS, "m/slice", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("buckets"), Value: []byte("7"), Timestamp: ts},
		{Op: kv.OpPut, Key: []byte("layout.7"), Value: []byte("7"), Timestamp: ts},
	}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Write(ctx, "s", ev(at.Add(time.Second), "e2", "k", "v")); err != nil {
		t.Fatal(err)
	}
	tick := ticks.get(t, 13*time.Minute)
	tick <- c.Now()
	tick <- c.Now() // taken only once the first refresh is done
	if err := ns.Write(ctx, "s", ev(at.Add(2*time.Second), "e3", "k", "v")); err != nil {
		t.Fatal(err)
	}
	// Which layout each event went to, from the partition ids.
	layoutOf := map[string]string{}
	ids, _, err := store.IDs(ctx, sliceNS, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		f := strings.SplitN(id, "/", 4)
		if len(f) != 4 || f[0] != "1" {
			continue
		}
		res, err := store.Read(ctx, sliceNS, id, kv.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			layoutOf[string(it.Key[9:9+int(it.Key[8])])] = f[2][strings.Index(f[2], ".")+1:]
		}
	}
	want := map[string]string{"e1": "2", "e2": "2", "e3": "7"}
	if fmt.Sprint(layoutOf) != fmt.Sprint(want) {
		t.Errorf("event → bucket count %v, want %v", layoutOf, want)
	}
	got, _ := readAll(t, ns, "s", at.Add(-time.Hour), at.Add(time.Hour), 10)
	if len(got) != 3 {
		t.Errorf("read %d events, want 3", len(got))
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
}
