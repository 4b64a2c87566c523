package kvtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

func (s *suite) testLWW(t *testing.T, e *env) {
	t1, t2 := e.next(), e.next()
	cases := []struct {
		name string
		muts []kv.Mutation // applied one Apply each, in this order
		want []string
	}{
		{"newer-after-older", []kv.Mutation{put("k", "old", t1), put("k", "new", t2)}, kvs("k", "new")},
		{"older-after-newer", []kv.Mutation{put("k", "new", t2), put("k", "old", t1)}, kvs("k", "new")},
		{"tie-larger-second", []kv.Mutation{put("k", "aaa", t1), put("k", "bbb", t1)}, kvs("k", "bbb")},
		{"tie-larger-first", []kv.Mutation{put("k", "bbb", t1), put("k", "aaa", t1)}, kvs("k", "bbb")},
		{"tie-prefix", []kv.Mutation{put("k", "ab", t1), put("k", "a", t1)}, kvs("k", "ab")},
		{"retry-same", []kv.Mutation{put("k", "v", t1), put("k", "v", t1), put("k", "v", t1)}, kvs("k", "v")},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("r%d", i)
			for _, m := range c.muts {
				e.apply(id, m)
			}
			e.expect(id, kv.Query{}, c.want)
			var want int64
			for _, m := range c.muts {
				want = max(want, m.Timestamp)
			}
			if items := e.readAll(id, kv.Query{}); len(items) == 1 && items[0].Timestamp != want {
				t.Errorf("winner timestamp = %d, want %d", items[0].Timestamp, want)
			}
		})
	}
	t.Run("same-call", func(t *testing.T) {
		// Two writes to one key in one Apply resolve by the same rule.
		e.apply("same", put("k", "new", t2), put("k", "old", t1))
		e.expect("same", kv.Query{}, kvs("k", "new"))
	})
}

func (s *suite) testTombstones(t *testing.T, e *env) {
	b := func(s string) []byte { return []byte(s) }
	t1, t2, t3 := e.next(), e.next(), e.next()
	abc := []kv.Mutation{put("a", "1", t2), put("b", "2", t2), put("c", "3", t2)}
	for i, c := range []struct {
		name  string
		calls [][]kv.Mutation // one Apply per element
		want  []string
	}{
		{"key", [][]kv.Mutation{abc, {del("b", t3)}}, kvs("a", "1", "c", "3")},
		{"key-older", [][]kv.Mutation{abc, {del("b", t1)}}, kvs("a", "1", "b", "2", "c", "3")},
		{"key-tie-delete-wins", [][]kv.Mutation{abc, {del("b", t2)}}, kvs("a", "1", "c", "3")},
		{"key-tie-delete-first", [][]kv.Mutation{{del("b", t2)}, abc}, kvs("a", "1", "c", "3")},
		{"key-before-older-put", [][]kv.Mutation{{del("b", t3)}, abc}, kvs("a", "1", "c", "3")},
		{"key-before-newer-put", [][]kv.Mutation{{del("b", t1)}, abc}, kvs("a", "1", "b", "2", "c", "3")},
		{"key-missing", [][]kv.Mutation{abc, {del("zz", t3)}}, kvs("a", "1", "b", "2", "c", "3")},
		{"range", [][]kv.Mutation{abc, {delRange(b("a"), b("c"), t3)}}, kvs("c", "3")},
		{"range-open-start", [][]kv.Mutation{abc, {delRange(nil, b("b"), t3)}}, kvs("b", "2", "c", "3")},
		{"range-open-end", [][]kv.Mutation{abc, {delRange(b("b"), nil, t3)}}, kvs("a", "1")},
		{"range-unbounded", [][]kv.Mutation{abc, {delRange(nil, nil, t3)}}, nil},
		{"range-older", [][]kv.Mutation{abc, {delRange(nil, nil, t1)}}, kvs("a", "1", "b", "2", "c", "3")},
		{"range-tie", [][]kv.Mutation{abc, {delRange(b("b"), b("c"), t2)}}, kvs("a", "1", "c", "3")},
		{"range-first-hides-older", [][]kv.Mutation{{delRange(b("a"), b("bb"), t3)}, abc}, kvs("c", "3")},
		{"range-first-newer-put", [][]kv.Mutation{{delRange(b("a"), b("bb"), t1)}, abc}, kvs("a", "1", "b", "2", "c", "3")},
		{"range-first-tie", [][]kv.Mutation{{delRange(b("a"), b("bb"), t2)}, abc}, kvs("c", "3")},
		{"range-empty", [][]kv.Mutation{abc, {delRange(b("b"), b("b"), t3)}}, kvs("a", "1", "b", "2", "c", "3")},
		{"record", [][]kv.Mutation{abc, {delRecord(t3)}}, nil},
		{"record-older", [][]kv.Mutation{abc, {delRecord(t1)}}, kvs("a", "1", "b", "2", "c", "3")},
		{"record-tie", [][]kv.Mutation{abc, {delRecord(t2)}}, nil},
		{"record-first-tie", [][]kv.Mutation{{delRecord(t2)}, abc}, nil},
		{"record-first", [][]kv.Mutation{{delRecord(t3)}, abc, {put("d", "4", t3+1)}}, kvs("d", "4")},
		{"record-then-put-same-call", [][]kv.Mutation{abc, {delRecord(t3), put("x", "9", t3+1)}}, kvs("x", "9")},
		{"put-then-range-same-call", [][]kv.Mutation{{put("a", "1", t3+1), delRange(nil, nil, t3)}}, kvs("a", "1")},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("r%d", i)
			for _, call := range c.calls {
				e.apply(id, call...)
			}
			e.expect(id, kv.Query{}, c.want)
			rev := slices.Clone(c.want)
			slices.Reverse(rev)
			e.expect(id, kv.Query{Reverse: true}, rev)
		})
	}
}

// testModel applies random puts and deletes with shuffled timestamps and
// compares every read with a naive model that replays the whole history.
func (s *suite) testModel(t *testing.T, e *env) {
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv(SeedEnv), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with %s=%d)", seed, SeedEnv, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	base := e.next()
	e.ts.Add(1000)
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(30)) }
	var history []kv.Mutation
	for range 200 * s.cfg.scale {
		ts := base + int64(rng.IntN(100)) + 100 // a narrow range: many equal timestamps
		var m kv.Mutation
		switch r := rng.IntN(20); {
		case r < 13:
			m = kv.Mutation{Op: kv.OpPut, Key: key(), Value: fmt.Appendf(nil, "v%d", rng.IntN(3)), Timestamp: ts}
		case r < 17:
			m = kv.Mutation{Op: kv.OpDelete, Key: key(), Timestamp: ts}
		case r < 19:
			a, b := key(), key()
			if string(a) > string(b) {
				a, b = b, a
			}
			m = kv.Mutation{Op: kv.OpDeleteRange, Key: a, End: b, Timestamp: ts}
		default:
			m = kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: ts - 50}
		}
		e.apply("r", m)
		history = append(history, m)
		if len(history)%25 == 0 {
			// Check intermediate states too, in both directions.
			want := modelState(history)
			e.expect("r", kv.Query{}, want)
			e.expect("r", kv.Query{Limit: 4, Reverse: true}, reversed(want))
			if t.Failed() {
				t.Fatalf("diverged from the model within ops %d..%d (seed %d)", len(history)-25, len(history), seed)
			}
		}
	}
}

// SeedEnv names the environment variable that replays a randomized
// subtest with the seed it logged.
const SeedEnv = "KVTEST_SEED"

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// modelState computes the visible items from the whole history: per key,
// the winning put (highest timestamp, then largest value) is visible when
// no delete covering the key has a timestamp at or above it.
func modelState(history []kv.Mutation) []string {
	winners := map[string]kv.Mutation{}
	for _, m := range history {
		if m.Op != kv.OpPut {
			continue
		}
		w, ok := winners[string(m.Key)]
		if !ok || m.Timestamp > w.Timestamp || (m.Timestamp == w.Timestamp && string(m.Value) > string(w.Value)) {
			winners[string(m.Key)] = m
		}
	}
	var keys []string
	for k, w := range winners {
		hidden := false
		for _, m := range history {
			covers := (m.Op == kv.OpDelete && string(m.Key) == k) ||
				(m.Op == kv.OpDeleteRange && inRange([]byte(k), m.Key, m.End)) ||
				m.Op == kv.OpDeleteRecord
			if covers && m.Timestamp >= w.Timestamp {
				hidden = true
				break
			}
		}
		if !hidden {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, kvs(k, string(winners[k].Value))...)
	}
	return out
}
