package timeseries_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/timeseries"
)

// backend opens a fresh kv.Store for one test.
type backend struct {
	name string
	open func(t *testing.T) kv.Store
}

// backends are the stores every behaviour test runs on: the in-memory fake,
// kv/local on disk, and Cassandra when EDGEKIT_CASSANDRA (or 127.0.0.1:9042)
// answers — skipped otherwise, required in CI.
func backends() []backend {
	return []backend{
		{"mem", func(t *testing.T) kv.Store { return kvtest.NewMemStore() }},
		{"local", openLocal},
		{"cassandra", openCassandra},
	}
}

func openLocal(t *testing.T) kv.Store {
	t.Helper()
	s, err := local.Open(filepath.Join(t.TempDir(), "kv"), &local.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cassKeyspace is one keyspace per test binary; every test drops the
// namespaces it made (all named after the test) when it ends.
var cassKeyspace = fmt.Sprintf("edgekit_ts_%d_%d", time.Now().Unix(), os.Getpid())

func openCassandra(t *testing.T) kv.Store {
	t.Helper()
	addr := peertest.TCP(t, "EDGEKIT_CASSANDRA", "127.0.0.1:9042", "scripts/cassandra.sh start")
	var hosts []string
	for h := range strings.SplitSeq(os.Getenv("EDGEKIT_CASSANDRA"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		hosts = []string{addr}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := cassandra.New(ctx, hosts, &cassandra.Options{Keyspace: cassKeyspace})
	if err != nil {
		t.Fatalf("cassandra.New(%v): %v", hosts, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		names, _ := s.Namespaces(ctx)
		for _, ns := range names {
			_ = s.DropNamespace(ctx, ns)
		}
		s.Close()
	})
	return s
}

// forEachBackend runs fn as a subtest on every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, store kv.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// forEachTrial runs fn as seeded subtests on the in-memory and kv/local
// backends, trials[name] of each (ten times more in long mode), each on a
// fresh store and named by its seed so it can be replayed.
func forEachTrial(t *testing.T, trials map[string]int, fn func(t *testing.T, store kv.Store, seed uint64)) {
	for _, b := range backends()[:2] {
		t.Run(b.name, func(t *testing.T) {
			n := trials[b.name]
			if long() {
				n *= 10
			}
			base := seed(t)
			for trial := range n {
				s := base + uint64(trial)
				t.Run(fmt.Sprint(s), func(t *testing.T) { fn(t, b.open(t), s) })
			}
		})
	}
}

// tickers hands Options.NewTicker channels the test ticks by hand, one per
// interval (tests give each ticker they drive a distinct interval).
type tickers struct {
	mu sync.Mutex // guards m
	m  map[time.Duration]chan time.Time
}

// New is an Options.NewTicker.
func (k *tickers) New(d time.Duration) (<-chan time.Time, func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[time.Duration]chan time.Time{}
	}
	ch := make(chan time.Time)
	k.m[d] = ch
	return ch, func() {}
}

// get waits for the background goroutine to make the ticker of interval d.
func (k *tickers) get(t *testing.T, d time.Duration) chan time.Time {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		k.mu.Lock()
		ch := k.m[d]
		k.mu.Unlock()
		if ch != nil {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ticker of %v was made", d)
		}
	}
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testOpts are small slices and buckets so tests cross both, a fake clock,
// no goroutine, and an accept window wide enough for the test data.
func testOpts(c *clock) *timeseries.Options {
	return &timeseries.Options{
		SliceLength:  time.Hour,
		TimeBucket:   10 * time.Minute,
		EventBuckets: 4,
		AcceptPast:   -1,
		AcceptFuture: -1,
		NoBackground: true,
		Now:          c.Now,
	}
}

func open(t *testing.T, store kv.Store, name string, opts *timeseries.Options) *timeseries.Namespace {
	t.Helper()
	ns, err := timeseries.Open(context.Background(), store, name, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// genEvents makes count events spread over span before end, with 1..3
// items each, some sharing a time.
func genEvents(rng *rand.Rand, end time.Time, span time.Duration, count int) []timeseries.Event {
	evs := make([]timeseries.Event, count)
	for i := range evs {
		t := end.Add(-time.Duration(rng.Int64N(int64(span)))).Truncate(time.Microsecond)
		if i > 0 && rng.IntN(10) == 0 {
			t = evs[i-1].Time // same time, other id
		}
		e := timeseries.Event{Time: t, ID: fmt.Sprintf("ev-%d-%x", i, rng.Uint32())}
		for k := range 1 + rng.IntN(3) {
			e.Items = append(e.Items, timeseries.Item{Key: "k" + strconv.Itoa(k), Value: []byte(fmt.Sprintf("v%d-%d", i, rng.IntN(1000)))})
		}
		evs[i] = e
	}
	return evs
}

// newestFirst sorts events in the order Read returns them: time
// descending, then event id by (length, bytes).
func newestFirst(evs []timeseries.Event) []timeseries.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b timeseries.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		if len(a.ID) != len(b.ID) {
			return len(a.ID) - len(b.ID)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// inRange keeps events with from <= time < to.
func inRange(evs []timeseries.Event, from, to time.Time) []timeseries.Event {
	var out []timeseries.Event
	for _, e := range evs {
		if !e.Time.Before(from) && e.Time.Before(to) {
			out = append(out, e)
		}
	}
	return out
}

// readAll pages through a range and returns every event and the page count.
func readAll(t *testing.T, ns *timeseries.Namespace, series string, from, to time.Time, limit int) ([]timeseries.Event, int) {
	t.Helper()
	var all []timeseries.Event
	opts := &timeseries.ReadOptions{Limit: limit}
	pages := 0
	for {
		p, err := ns.Read(context.Background(), series, from, to, opts)
		if err != nil {
			t.Fatalf("Read page %d: %v", pages, err)
		}
		pages++
		if len(p.Events) > limit {
			t.Fatalf("page %d has %d events, limit %d", pages, len(p.Events), limit)
		}
		all = append(all, p.Events...)
		if p.Next == nil {
			return all, pages
		}
		if pages > 100000 {
			t.Fatal("pagination does not end")
		}
		opts.PageToken = p.Next
	}
}

// sameEvents compares event lists exactly (order, times, ids, items).
func sameEvents(t *testing.T, what string, got, want []timeseries.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.ID != w.ID || !sameItems(g.Items, w.Items) {
			t.Fatalf("%s: event %d:\n got %s %s %v\nwant %s %s %v", what, i, g.Time, g.ID, g.Items, w.Time, w.ID, w.Items)
		}
	}
}

func sameItems(a, b []timeseries.Item) bool {
	sa, sb := sortItems(a), sortItems(b)
	return slices.EqualFunc(sa, sb, func(x, y timeseries.Item) bool { return x.Key == y.Key && string(x.Value) == string(y.Value) })
}

func sortItems(items []timeseries.Item) []timeseries.Item {
	s := slices.Clone(items)
	slices.SortFunc(s, func(a, b timeseries.Item) int { return strings.Compare(a.Key, b.Key) })
	return s
}

// seed returns a seed from TIMESERIES_SEED or a fresh one, logged.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("TIMESERIES_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with TIMESERIES_SEED=%d)", s, s)
	return s
}

// long reports whether heavier trial counts were asked for.
func long() bool { return os.Getenv("EDGEKIT_LONG") == "1" }

func kvtestStore() kv.Store { return kvtest.NewMemStore() }
