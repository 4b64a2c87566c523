package kvtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// ttl is the TTL the suite writes: two seconds, because Cassandra counts
// TTLs in whole seconds from the second the write lands, so one second may
// expire at once.
const ttl = 2 * time.Second

func (s *suite) testTTL(t *testing.T, e *env) {
	ts := e.next()
	e.apply("r",
		kv.Mutation{Op: kv.OpPut, Key: []byte("ttl"), Value: []byte("x"), TTL: ttl, Timestamp: ts},
		put("keep", "y", ts),
		kv.Mutation{Op: kv.OpPut, Key: []byte("renewed"), Value: []byte("old"), TTL: ttl, Timestamp: ts},
	)
	e.apply("r", put("renewed", "new", e.next())) // newer write without TTL
	e.apply("only-ttl", kv.Mutation{Op: kv.OpPut, Key: []byte("k"), Value: []byte("x"), TTL: ttl, Timestamp: ts})
	e.expect("r", kv.Query{}, kvs("keep", "y", "renewed", "new", "ttl", "x"))
	// Client-level TTL checks share the one wait.
	after := s.clientTTL(t, e)

	// Wait for both TTL'd items: "only-ttl" was written after "r", and a
	// backend that counts TTLs in whole seconds from the write (Cassandra)
	// may expire it up to a second later.
	deadline := time.Now().Add(ttl + 3*time.Second)
	for _, w := range []struct{ id, key string }{{"r", "ttl"}, {"only-ttl", "k"}} {
		for {
			res, err := e.s.Read(e.ctx, e.ns, w.id, kv.Query{Keys: [][]byte{[]byte(w.key)}})
			e.must(err)
			if len(res.Items) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("item %s/%s with TTL %v still live after %v", w.id, w.key, ttl, ttl+3*time.Second)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	e.expect("r", kv.Query{}, kvs("keep", "y", "renewed", "new"))
	e.expect("only-ttl", kv.Query{}, nil)
	ids := s.allIDs(e, 0)
	if slices.Contains(ids, "only-ttl") {
		t.Errorf("IDs() = %q still lists a record whose only item expired", ids)
	}
	after()
}

// allIDs pages through IDs with the given limit.
func (s *suite) allIDs(e *env, limit int) []string {
	e.t.Helper()
	var all []string
	var cursor []byte
	for pages := 0; ; pages++ {
		ids, next, err := e.s.IDs(e.ctx, e.ns, cursor, limit)
		e.must(err)
		if limit > 0 && len(ids) > limit {
			e.t.Errorf("IDs(limit %d) returned %d ids", limit, len(ids))
		}
		all = append(all, ids...)
		if next == nil || pages > 10000 {
			return all
		}
		cursor = next
	}
}

func (s *suite) testIDs(t *testing.T, e *env) {
	var want []string
	ts := e.next()
	for i := range 130 {
		id := fmt.Sprintf("id%03d", i)
		e.apply(id, put("k", "v", ts))
		want = append(want, id)
	}
	e.apply("gone", put("k", "v", ts))
	e.apply("gone", delRecord(e.next()))
	e.apply("gone-key", put("k", "v", ts), del("k", e.next()))
	e.apply("ütf-8 ✓", put("k", "v", ts))
	want = append(want, "ütf-8 ✓")
	slices.Sort(want)
	for _, limit := range []int{0, 1, 17, 131, 1000} {
		t.Run(fmt.Sprint("limit", limit), func(t *testing.T) {
			got := s.allIDs(e, limit)
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			if len(slices.Compact(slices.Clone(sorted))) != len(got) {
				t.Errorf("IDs listed an id twice: %q", got)
			}
			if !equalStrings(sorted, want) {
				t.Errorf("IDs:\n got %q\nwant %q (any order)", sorted, want)
			}
		})
	}
	t.Run("stable-order", func(t *testing.T) {
		if a, b := s.allIDs(e, 7), s.allIDs(e, 7); !equalStrings(a, b) {
			t.Errorf("two listings differ:\n%q\n%q", a, b)
		}
	})
}

// testConcurrent runs writers and readers at once. Every value names the
// timestamp it was written with, so a reader can tell a torn item; at the
// end every key must hold its highest-timestamped write.
func (s *suite) testConcurrent(t *testing.T, e *env) {
	const writers, keys = 4, 12
	rounds := 40 * s.cfg.scale
	atomicStore := false
	if a, ok := e.s.(kv.Atomic); ok {
		atomicStore = a.AtomicApply()
	}
	var mu sync.Mutex
	best := map[string]int64{} // guarded by mu: highest timestamp per key
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var wg, readers sync.WaitGroup
	errc := make(chan error, writers+4)
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				ts := e.next()
				k1 := fmt.Sprintf("k%02d", (w*7+i)%keys)
				k2 := fmt.Sprintf("k%02d", (w*7+i+5)%keys)
				v := fmt.Sprintf("%d", ts)
				// The pair keys are written only here, always together.
				pa := fmt.Sprintf("pair%d-a", w)
				pb := fmt.Sprintf("pair%d-b", w)
				err := e.s.Apply(ctx, e.ns, "r", []kv.Mutation{put(k1, v, ts), put(k2, v, ts), put(pa, v, ts), put(pb, v, ts)})
				if err != nil {
					errc <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mu.Lock()
				for _, k := range []string{k1, k2, pa, pb} {
					best[k] = max(best[k], ts)
				}
				mu.Unlock()
			}
		})
	}
	for r := range 2 {
		readers.Go(func() {
			for ctx.Err() == nil {
				res, err := e.s.Read(ctx, e.ns, "r", kv.Query{Reverse: r == 1})
				if err != nil {
					if ctx.Err() == nil {
						errc <- fmt.Errorf("reader: %w", err)
					}
					return
				}
				if err := pageCheck(kv.Query{Reverse: r == 1}, res); err != nil {
					errc <- err
					return
				}
				pairs := map[string]string{}
				for _, it := range res.Items {
					if string(it.Value) != fmt.Sprint(it.Timestamp) {
						errc <- fmt.Errorf("torn item %q: value %q, timestamp %d", it.Key, it.Value, it.Timestamp)
						return
					}
					if strings.HasPrefix(string(it.Key), "pair") {
						pairs[string(it.Key)] = string(it.Value)
					}
				}
				for w := range writers {
					a, b := pairs[fmt.Sprintf("pair%d-a", w)], pairs[fmt.Sprintf("pair%d-b", w)]
					if atomicStore && a != b {
						errc <- fmt.Errorf("atomic store: reader saw half of an Apply: pair%d a=%q b=%q", w, a, b)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	cancel()
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	items := e.readAll("r", kv.Query{})
	if len(items) != len(best) {
		t.Errorf("got %d keys, want %d", len(items), len(best))
	}
	for _, it := range items {
		if want := best[string(it.Key)]; it.Timestamp != want {
			t.Errorf("key %q: timestamp %d, want the highest written %d", it.Key, it.Timestamp, want)
		}
	}
}

func (s *suite) testBadInput(t *testing.T, e *env) {
	ok := put("k", "v", e.next())
	long := strings.Repeat("k", kv.MaxKeyLen+1)
	apply := func(id string, muts ...kv.Mutation) func() error {
		return func() error { return e.s.Apply(e.ctx, e.ns, id, muts) }
	}
	read := func(id string, q kv.Query) func() error {
		return func() error { _, err := e.s.Read(e.ctx, e.ns, id, q); return err }
	}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"ns-empty", func() error { return e.s.CreateNamespace(e.ctx, "") }},
		{"ns-upper", func() error { return e.s.CreateNamespace(e.ctx, "Bad") }},
		{"ns-digit-first", func() error { return e.s.CreateNamespace(e.ctx, "1abc") }},
		{"ns-dash", func() error { return e.s.CreateNamespace(e.ctx, "a-b") }},
		{"ns-too-long", func() error { return e.s.CreateNamespace(e.ctx, "a"+strings.Repeat("b", kv.MaxNamespaceLen)) }},
		{"ns-apply", func() error { return e.s.Apply(e.ctx, "No Such", "r", []kv.Mutation{ok}) }},
		{"id-empty", apply("", ok)},
		{"id-too-long", apply(strings.Repeat("i", kv.MaxIDLen+1), ok)},
		{"id-not-utf8", apply("\xff\xfe", ok)},
		{"key-too-long", apply("r", put(long, "v", e.next()))},
		{"nil-value", apply("r", kv.Mutation{Op: kv.OpPut, Key: []byte("k"), Timestamp: e.next()})},
		{"zero-timestamp", apply("r", put("k", "v", 0))},
		{"negative-timestamp", apply("r", put("k", "v", -5))},
		{"negative-ttl", apply("r", kv.Mutation{Op: kv.OpPut, Key: []byte("k"), Value: []byte{}, TTL: -time.Second, Timestamp: e.next()})},
		{"unknown-op", apply("r", kv.Mutation{Op: 0, Key: []byte("k"), Timestamp: e.next()})},
		{"delete-with-value", apply("r", kv.Mutation{Op: kv.OpDelete, Key: []byte("k"), Value: []byte("v"), Timestamp: e.next()})},
		{"range-inverted", apply("r", delRange([]byte("b"), []byte("a"), e.next()))},
		{"range-end-too-long", apply("r", delRange(nil, []byte(long), e.next()))},
		{"one-bad-in-batch", apply("r", ok, put("k2", "v", 0))},
		{"read-id-empty", read("", kv.Query{})},
		{"read-key-too-long", read("r", kv.Query{Keys: [][]byte{[]byte(long)}})},
		{"read-inverted", read("r", kv.Query{Start: []byte("b"), End: []byte("a")})},
		{"read-negative-limit", read("r", kv.Query{Limit: -1})},
		{"read-negative-bytes", read("r", kv.Query{MaxBytes: -1})},
		{"ids-negative-limit", func() error { _, _, err := e.s.IDs(e.ctx, e.ns, nil, -1); return err }},
		{"ids-bad-ns", func() error { _, _, err := e.s.IDs(e.ctx, "-", nil, 0); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, kv.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
	// A rejected batch writes nothing, not even its valid mutations.
	e.expect("r", kv.Query{}, nil)
}

func (s *suite) testClose(t *testing.T, e *env) {
	e.apply("r", put("k", "v", e.next()))
	e.must(e.s.Close())
	for name, call := range map[string]func() error{
		"Apply":           func() error { return e.s.Apply(e.ctx, e.ns, "r", []kv.Mutation{put("k", "v", e.next())}) },
		"Read":            func() error { _, err := e.s.Read(e.ctx, e.ns, "r", kv.Query{}); return err },
		"IDs":             func() error { _, _, err := e.s.IDs(e.ctx, e.ns, nil, 0); return err },
		"CreateNamespace": func() error { return e.s.CreateNamespace(e.ctx, e.ns) },
		"Namespaces":      func() error { _, err := e.s.Namespaces(e.ctx); return err },
	} {
		if err := call(); !errors.Is(err, kv.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
	if err := e.s.Close(); err != nil && !errors.Is(err, kv.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}
