package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Option adjusts Run for a backend.
type Option func(*config)

type config struct {
	maxValue int // largest chunked value the client tests write
	scale    int // multiplies randomized and concurrent trial counts
}

// LongEnv names the environment variable that, set to "1", runs the
// randomized and concurrent subtests with 25 times their trial counts.
const LongEnv = "KVTEST_LONG"

// DefaultMaxValueSize is the largest value Run writes through the Client
// unless MaxValueSize lowers it: the 64 MiB the kv contract promises.
const DefaultMaxValueSize = 64 << 20

// MaxValueSize lowers the largest chunked value the suite writes through a
// kv.Client (default DefaultMaxValueSize), for backends too slow to move 64
// MiB in a unit test. A backend that uses it should still run the default
// size somewhere (e.g. behind a long-mode flag).
func MaxValueSize(n int) Option { return func(c *config) { c.maxValue = n } }

// Run runs the conformance suite against the Store that newStore returns.
//
// newStore is called once per subtest and must return a new, open Store
// handle (it may share data with earlier handles: every subtest uses its
// own namespace names, dropped before and after use). The suite closes the
// handle itself only in the "Close" subtest; otherwise newStore should
// register its own t.Cleanup to close it.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store, opts ...Option) {
	cfg := config{maxValue: DefaultMaxValueSize, scale: 1}
	if os.Getenv(LongEnv) == "1" {
		cfg.scale = 25
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &suite{cfg: cfg, newStore: newStore}
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Namespaces", s.testNamespaces},
		{"Order", s.testOrder},
		{"KeyList", s.testKeyList},
		{"Ranges", s.testRanges},
		{"Pagination", s.testPagination},
		{"BadCursor", s.testBadCursor},
		{"EmptyKeyAndValue", s.testEmpty},
		{"LWW", s.testLWW},
		{"Tombstones", s.testTombstones},
		{"Model", s.testModel},
		{"TTL", s.testTTL},
		{"IDs", s.testIDs},
		{"Concurrent", s.testConcurrent},
		{"BadInput", s.testBadInput},
		{"IntoReader", s.testIntoReader},
		{"Client", s.testClient},
		{"Close", s.testClose},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, s.setup(t, c.name))
		})
	}
}

type suite struct {
	cfg      config
	newStore func(t *testing.T) kv.Store
}

// env is one subtest's store, namespace and timestamp source.
type env struct {
	t   *testing.T
	s   kv.Store
	ctx context.Context
	ns  string
	ts  atomic.Int64
}

// setup opens a store and creates a fresh namespace named after the
// subtest ("kvt_" + lower-case name), dropped again at cleanup.
func (s *suite) setup(t *testing.T, name string) *env {
	t.Helper()
	st := s.newStore(t)
	e := &env{t: t, s: st, ctx: context.Background(), ns: "kvt_" + strings.ToLower(name)}
	// Timestamps start at the wall clock so that data left behind by an
	// earlier run (on a persistent backend) is older than anything we write.
	e.ts.Store(time.Now().UnixMicro())
	e.must(st.DropNamespace(e.ctx, e.ns))
	e.must(st.CreateNamespace(e.ctx, e.ns))
	t.Cleanup(func() {
		// The Close subtest closes the store; ignore that.
		if err := st.DropNamespace(context.Background(), e.ns); err != nil && !errors.Is(err, kv.ErrClosed) {
			t.Errorf("cleanup: DropNamespace(%q): %v", e.ns, err)
		}
	})
	return e
}

// next returns a fresh timestamp, larger than every earlier one.
func (e *env) next() int64 { return e.ts.Add(1) }

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) apply(id string, muts ...kv.Mutation) {
	e.t.Helper()
	if err := e.s.Apply(e.ctx, e.ns, id, muts); err != nil {
		e.t.Fatalf("Apply(%q, %q, %d mutations): %v", e.ns, id, len(muts), err)
	}
}

func put(key, value string, ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpPut, Key: []byte(key), Value: []byte(value), Timestamp: ts}
}

func del(key string, ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpDelete, Key: []byte(key), Timestamp: ts}
}

func delRange(start, end []byte, ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpDeleteRange, Key: start, End: end, Timestamp: ts}
}

func delRecord(ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: ts}
}

// pageCheck validates one Read result against q's Limit and MaxBytes.
func pageCheck(q kv.Query, res kv.Result) error {
	if q.Limit > 0 && len(res.Items) > q.Limit {
		return fmt.Errorf("page has %d items, limit %d", len(res.Items), q.Limit)
	}
	if q.MaxBytes > 0 && len(res.Items) > 1 {
		n := 0
		for _, it := range res.Items[:len(res.Items)-1] {
			n += len(it.Key) + len(it.Value) + len(it.Metadata)
		}
		if n >= q.MaxBytes {
			return fmt.Errorf("page reached MaxBytes %d before its last item (%d bytes before it)", q.MaxBytes, n)
		}
	}
	for i := 1; i < len(res.Items); i++ {
		d := bytes.Compare(res.Items[i-1].Key, res.Items[i].Key)
		if (!q.Reverse && d >= 0) || (q.Reverse && d <= 0) {
			return fmt.Errorf("keys out of order: %q then %q (reverse=%v)", res.Items[i-1].Key, res.Items[i].Key, q.Reverse)
		}
	}
	return nil
}

// readAll pages through q with cursors and returns every item, checking
// each page's limits and order.
func (e *env) readAll(id string, q kv.Query) []kv.Item {
	e.t.Helper()
	var all []kv.Item
	for pages := 0; ; pages++ {
		if pages > 100000 {
			e.t.Fatalf("Read(%q): no end after %d pages", id, pages)
		}
		res, err := e.s.Read(e.ctx, e.ns, id, q)
		if err != nil {
			e.t.Fatalf("Read(%q, page %d): %v", id, pages, err)
		}
		if err := pageCheck(q, res); err != nil {
			e.t.Fatalf("Read(%q, page %d): %v", id, pages, err)
		}
		all = append(all, res.Items...)
		if res.Cursor == nil {
			return all
		}
		q.Cursor = res.Cursor
	}
}

// keysOf renders items as "key=value" strings for readable comparisons.
func keysOf(items []kv.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprintf("%q=%q", it.Key, it.Value)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// expect reads q fully and compares with want ("key=value" strings made
// by kvs).
func (e *env) expect(id string, q kv.Query, want []string) {
	e.t.Helper()
	got := keysOf(e.readAll(id, q))
	if !equalStrings(got, want) {
		e.t.Errorf("Read(%q, %+v):\n got %v\nwant %v", id, describe(q), got, want)
	}
}

// kvs builds the expected "key=value" list from alternating key, value.
func kvs(pairs ...string) []string {
	out := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, fmt.Sprintf("%q=%q", pairs[i], pairs[i+1]))
	}
	return out
}

func describe(q kv.Query) string {
	return fmt.Sprintf("keys=%q start=%q end=%q reverse=%v limit=%d maxbytes=%d", q.Keys, q.Start, q.End, q.Reverse, q.Limit, q.MaxBytes)
}
