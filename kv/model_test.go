package kv_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// TestClientModel applies random writes through the Client — inline and
// chunked puts, key, range and record deletes, each under its own token
// with a shuffled generation time, and random retries of earlier writes
// with their original token — and checks the record against a model that
// orders the distinct writes by token time alone. Retries must change
// nothing; arrival order must not matter. KV_MODEL_SEED replays a run.
func TestClientModel(t *testing.T) {
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("KV_MODEL_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with KV_MODEL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	f := newFixture(t, nil, &kv.Options{ChunkThreshold: 300, ChunkSize: 128})
	base := f.clk.Now().Add(-time.Minute)

	type write struct {
		tok  kv.Token
		muts []kv.Mutation
	}
	const ops = 300
	// Distinct token times 2 µs apart, handed out in random order, so no
	// two writes tie and deletes (stamped 1 µs early) tie with nothing.
	times := rng.Perm(ops)
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(25)) }
	var done []write
	for i := range ops {
		w := write{tok: kv.Token{Time: base.Add(time.Duration(2*times[i]+2) * time.Microsecond)}}
		w.tok.Random[0], w.tok.Random[1] = byte(i), byte(i>>8)
		switch r := rng.IntN(20); {
		case r < 12:
			n := rng.IntN(700) // about half are chunked
			w.muts = []kv.Mutation{{Op: kv.OpPut, Key: key(), Value: bytesOf(n, byte(i))}}
		case r < 16:
			w.muts = []kv.Mutation{{Op: kv.OpDelete, Key: key()}}
		case r < 19:
			a, b := key(), key()
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			w.muts = []kv.Mutation{{Op: kv.OpDeleteRange, Key: a, End: b}, {Op: kv.OpPut, Key: key(), Value: bytesOf(rng.IntN(500), byte(i))}}
		default:
			w.muts = []kv.Mutation{{Op: kv.OpDeleteRecord}}
		}
		apply := func(w write) {
			if err := f.c.Mutate(f.ctx, ns, "r", w.muts, kv.WithToken(w.tok)); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
		}
		apply(w)
		done = append(done, w)
		if rng.IntN(4) == 0 { // retry an earlier write
			apply(done[rng.IntN(len(done))])
		}
	}

	// The model: per key, the latest put by token time is visible unless a
	// delete covering it is stamped at or after it; a write's deletes are
	// stamped 1 µs before its token, so its own puts survive them.
	want := map[string][]byte{}
	wantAt := map[string]int64{}
	delAt := func(k string) (at int64) {
		for _, w := range done {
			for _, m := range w.muts {
				covers := (m.Op == kv.OpDelete && string(m.Key) == k) || m.Op == kv.OpDeleteRecord ||
					(m.Op == kv.OpDeleteRange && bytes.Compare([]byte(k), m.Key) >= 0 && bytes.Compare([]byte(k), m.End) < 0)
				if covers { // deletes are stamped 1 µs before their token
					at = max(at, w.tok.Micros()-1)
				}
			}
		}
		return at
	}
	for _, w := range done {
		for _, m := range w.muts {
			if m.Op == kv.OpPut && w.tok.Micros() > wantAt[string(m.Key)] {
				want[string(m.Key)], wantAt[string(m.Key)] = m.Value, w.tok.Micros()
			}
		}
	}
	var keys []string
	for k := range want {
		if delAt(k) < wantAt[k] { // a delete hides puts at or before its stamp
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	var got []kv.Item
	q := kv.Query{MaxBytes: 1500}
	for {
		p, err := f.c.Get(f.ctx, ns, "r", q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Items...)
		if p.Next == nil {
			break
		}
		q.Cursor = p.Next
	}
	if len(got) != len(keys) {
		var gk []string
		for _, it := range got {
			gk = append(gk, string(it.Key))
		}
		t.Fatalf("got keys %q, want %q", gk, keys)
	}
	for i, it := range got {
		if string(it.Key) != keys[i] || !bytes.Equal(it.Value, want[keys[i]]) || it.Timestamp != wantAt[keys[i]] {
			t.Errorf("item %d: got %q (%d bytes, ts %d), want %q (%d bytes, ts %d)",
				i, it.Key, len(it.Value), it.Timestamp, keys[i], len(want[keys[i]]), wantAt[keys[i]])
		}
	}
}
