package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// sub returns an env for subtest t on e's store with its own namespace,
// e.ns + "_" + name.
func (e *env) sub(t *testing.T, name string) *env {
	n := &env{t: t, s: e.s, ctx: e.ctx, ns: e.ns + "_" + name}
	n.ts.Store(e.ts.Load())
	return n
}

// client returns a kv.Client on e's store with e's namespace and its chunk
// companion created fresh and dropped at cleanup; opts may be nil.
func (e *env) client(opts *kv.Options) *kv.Client {
	e.t.Helper()
	c, err := kv.NewClient(e.s, opts)
	e.must(err)
	e.must(c.DropNamespace(e.ctx, e.ns))
	e.must(c.CreateNamespace(e.ctx, e.ns))
	e.t.Cleanup(func() { _ = c.DropNamespace(e.ctx, e.ns) })
	return c
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(s).Read(b)
	return b
}

// Chunking is cheap to exercise with a 64 KiB threshold and 16 KiB chunks.
const (
	smallThreshold = 64 << 10
	smallChunkSize = 16 << 10
)

// smallChunks returns fresh Options with the small chunking sizes (a
// function, not a shared package-level *Options that a test could modify).
func smallChunks() *kv.Options {
	return &kv.Options{ChunkThreshold: smallThreshold, ChunkSize: smallChunkSize}
}

func (s *suite) testClient(t *testing.T, e *env) {
	for _, c := range []struct {
		name, ns string
		fn       func(*testing.T, *env)
	}{
		{"Chunked", "chunked", s.clientChunked},
		{"LargeValue", "large", s.clientLarge},
		{"Retry", "retry", s.clientRetry},
		{"TokenWindow", "window", s.clientTokenWindow},
		{"PageBytes", "pages", s.clientPages},
		{"Mutate", "mutate", s.clientMutate},
		{"Sweep", "sweep", s.clientSweep},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, e.sub(t, c.ns)) })
	}
}

func (e *env) checkValue(c *kv.Client, id, key string, want []byte) {
	e.t.Helper()
	got, err := c.GetValue(e.ctx, e.ns, id, []byte(key))
	if want == nil {
		if !errors.Is(err, kv.ErrNotFound) {
			e.t.Errorf("GetValue(%q, %q): got %d bytes, err %v; want ErrNotFound", id, key, len(got), err)
		}
		return
	}
	if err != nil {
		e.t.Fatalf("GetValue(%q, %q): %v", id, key, err)
	}
	if !bytes.Equal(got, want) {
		e.t.Errorf("GetValue(%q, %q): got %d bytes (xx %x...), want %d bytes (%x...)", id, key, len(got), got[:min(8, len(got))], len(want), want[:min(8, len(want))])
	}
}

func (s *suite) clientChunked(t *testing.T, e *env) {
	c := e.client(smallChunks())
	thr, cs := smallThreshold, smallChunkSize
	sizes := []int{0, 1, thr - 1, thr, thr + 1, 5*cs + 7, 8 * cs}
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := fmt.Sprintf("k%d", n)
			v := payload(n, uint64(i))
			e.must(c.Put(e.ctx, e.ns, "r", []byte(key), v))
			e.checkValue(c, "r", key, v)
		})
	}
	// All of them in one Get, in key order, values intact.
	p, err := c.Get(e.ctx, e.ns, "r", kv.Query{MaxBytes: 1 << 30})
	e.must(err)
	if len(p.Items) != len(sizes) || p.Next != nil {
		t.Fatalf("Get: %d items (next %v), want %d", len(p.Items), p.Next != nil, len(sizes))
	}
	for _, it := range p.Items {
		var n int
		fmt.Sscanf(string(it.Key), "k%d", &n)
		if len(it.Value) != n {
			t.Errorf("Get item %q: %d bytes, want %d", it.Key, len(it.Value), n)
		}
	}
	// Overwrites between chunked and inline, both ways, and a delete.
	big, small := payload(3*thr, 99), []byte("small")
	e.must(c.Put(e.ctx, e.ns, "r", []byte("flip"), big))
	e.must(c.Put(e.ctx, e.ns, "r", []byte("flip"), small))
	e.checkValue(c, "r", "flip", small)
	e.must(c.Put(e.ctx, e.ns, "r", []byte("flip"), big))
	e.checkValue(c, "r", "flip", big)
	e.must(c.Delete(e.ctx, e.ns, "r", []byte("flip")))
	e.checkValue(c, "r", "flip", nil)
	// The store holds only a small manifest in the main namespace.
	res, err := e.s.Read(e.ctx, e.ns, "r", kv.Query{Keys: [][]byte{[]byte(fmt.Sprintf("k%d", 8*cs))}})
	e.must(err)
	if len(res.Items) != 1 || len(res.Items[0].Value) != 0 || len(res.Items[0].Metadata) == 0 {
		t.Errorf("chunked item in the main namespace: %+v, want an empty value and a manifest", res.Items)
	}
	// Two writers racing on one chunked key: the reader sees one of the
	// two values whole, never a mix.
	a, b := payload(4*thr, 1), payload(4*thr, 2)
	var wg sync.WaitGroup
	for range 3 {
		for _, v := range [][]byte{a, b} {
			wg.Go(func() {
				if err := c.Put(e.ctx, e.ns, "race", []byte("k"), v); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			got, err := c.GetValue(e.ctx, e.ns, "race", []byte("k"))
			if err != nil && !errors.Is(err, kv.ErrNotFound) {
				t.Error(err)
			}
			if err == nil && !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				t.Errorf("racing writers: read %d bytes that are neither value", len(got))
			}
		})
	}
	wg.Wait()
	got, err := c.GetValue(e.ctx, e.ns, "race", []byte("k"))
	e.must(err)
	if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
		t.Errorf("after racing writers: %d bytes that are neither value", len(got))
	}
}

func (s *suite) clientLarge(t *testing.T, e *env) {
	c := e.client(nil) // default 1 MiB threshold and chunk size
	for _, n := range []int{kv.DefaultChunkThreshold + 1, s.cfg.maxValue} {
		v := payload(n, uint64(n))
		start := time.Now()
		e.must(c.Put(e.ctx, e.ns, "large", []byte("v"), v))
		e.checkValue(c, "large", "v", v)
		t.Logf("%d bytes written and read back in %v", n, time.Since(start).Round(time.Millisecond))
	}
}

func (s *suite) clientRetry(t *testing.T, e *env) {
	c := e.client(smallChunks())
	tokA, err := c.NewToken()
	e.must(err)
	big := payload(3*smallThreshold, 7)
	// The write, a retry, and a hedge at once, all with token A.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Mutate(e.ctx, e.ns, "r", []kv.Mutation{
				{Op: kv.OpPut, Key: []byte("a"), Value: []byte("first")},
				{Op: kv.OpPut, Key: []byte("big"), Value: big},
			}, kv.WithToken(tokA)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	e.checkValue(c, "r", "a", []byte("first"))
	e.checkValue(c, "r", "big", big)
	if n := e.chunkWrites(); n != 1 {
		t.Errorf("retried chunked put staged %d chunk writes, want 1", n)
	}
	// A later write wins; replaying token A does not bring "first" back.
	time.Sleep(time.Millisecond) // a later generation time
	e.must(c.Put(e.ctx, e.ns, "r", []byte("a"), []byte("second")))
	e.must(c.Put(e.ctx, e.ns, "r", []byte("a"), []byte("first"), kv.WithToken(tokA)))
	e.checkValue(c, "r", "a", []byte("second"))
	// Same for a delete: a retried put older than it stays deleted.
	e.must(c.Delete(e.ctx, e.ns, "r", []byte("big")))
	e.must(c.Mutate(e.ctx, e.ns, "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("big"), Value: big}}, kv.WithToken(tokA)))
	e.checkValue(c, "r", "big", nil)
	// The token's time is the Store timestamp.
	p, err := c.Get(e.ctx, e.ns, "r", kv.Query{Keys: [][]byte{[]byte("a")}})
	e.must(err)
	if len(p.Items) != 1 || p.Items[0].Timestamp <= tokA.Micros() {
		t.Errorf("item a: %+v, want a timestamp after token A's %d", p.Items, tokA.Micros())
	}
	// A token survives its string form.
	back, err := kv.ParseToken(tokA.String())
	if err != nil || back != tokA {
		t.Errorf("ParseToken(%q) = %v, %v; want %v", tokA.String(), back, err, tokA)
	}
}

// chunkWrites counts the chunk writes (records) in e's chunk namespace.
func (e *env) chunkWrites() int {
	e.t.Helper()
	ids, _, err := e.s.IDs(e.ctx, kv.ChunkNamespace(e.ns), nil, 100000)
	e.must(err)
	return len(ids)
}

func (s *suite) clientTokenWindow(t *testing.T, e *env) {
	c := e.client(&kv.Options{MaxTokenAge: time.Minute, MaxTokenSkew: time.Second})
	for _, c2 := range []struct {
		name string
		at   time.Duration
		ok   bool
	}{{"now", 0, true}, {"past-inside", -50 * time.Second, true}, {"past-outside", -2 * time.Minute, false}, {"future-outside", 5 * time.Second, false}} {
		t.Run(c2.name, func(t *testing.T) {
			tok := kv.Token{Time: time.Now().Add(c2.at), Random: [16]byte{1}}
			err := c.Put(e.ctx, e.ns, "r", []byte(c2.name), []byte("v"), kv.WithToken(tok))
			var te *kv.TokenError
			switch {
			case c2.ok && err != nil:
				t.Errorf("token at %v: %v, want success", c2.at, err)
			case !c2.ok && (!errors.Is(err, kv.ErrTokenWindow) || !errors.As(err, &te) || te.Future != (c2.at > 0)):
				t.Errorf("token at %v: got %v, want a *TokenError (future=%v)", c2.at, err, c2.at > 0)
			}
		})
	}
}

func (s *suite) clientPages(t *testing.T, e *env) {
	c := e.client(smallChunks())
	var want []string
	var muts []kv.Mutation
	for i := range 60 {
		n := (i * 977) % 3000
		if i%20 == 7 {
			n = 2*smallThreshold + i // chunked
		}
		k := fmt.Sprintf("k%03d", i)
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: []byte(k), Value: payload(n, uint64(i))})
		want = append(want, fmt.Sprintf("%s:%d", k, n))
	}
	e.must(c.Mutate(e.ctx, e.ns, "r", muts))
	rev := slices.Clone(want)
	slices.Reverse(rev)
	for _, c2 := range []struct {
		name string
		q    kv.Query
		want []string
	}{
		{"bytes-4k", kv.Query{MaxBytes: 4096}, want},
		{"bytes-1", kv.Query{MaxBytes: 1}, want},
		{"bytes-10k-reverse", kv.Query{MaxBytes: 10000, Reverse: true}, rev},
		{"items-7", kv.Query{Limit: 7}, want},
		{"range", kv.Query{Start: []byte("k010"), End: []byte("k030"), MaxBytes: 5000}, want[10:30]},
		{"keys", kv.Query{Keys: [][]byte{[]byte("k059"), []byte("k007"), []byte("k003"), []byte("zzz")}, MaxBytes: 1}, []string{want[3], want[7], want[59]}},
	} {
		t.Run(c2.name, func(t *testing.T) {
			q := c2.q
			var got []string
			for pages := 0; ; pages++ {
				p, err := c.Get(e.ctx, e.ns, "r", q)
				e.must(err)
				if err := clientPageCheck(q, c2.q.MaxBytes, p); err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				for _, it := range p.Items {
					got = append(got, fmt.Sprintf("%s:%d", it.Key, len(it.Value)))
				}
				if p.Next == nil || pages > 200 {
					break
				}
				q.Cursor = p.Next
			}
			if !equalStrings(got, c2.want) {
				t.Errorf("pages:\n got %v\nwant %v", got, c2.want)
			}
		})
	}
	t.Run("bad-tokens", func(t *testing.T) {
		p, err := c.Get(e.ctx, e.ns, "r", kv.Query{Limit: 2})
		e.must(err)
		tok := p.Next
		other, err := kv.NewClient(e.s, nil)
		e.must(err)
		flip := slices.Clone(tok)
		flip[5] ^= 1
		for _, b := range []struct {
			name string
			c    *kv.Client
			id   string
			q    kv.Query
		}{
			{"forged-byte", c, "r", kv.Query{Limit: 2, Cursor: flip}},
			{"truncated", c, "r", kv.Query{Limit: 2, Cursor: tok[:len(tok)-1]}},
			{"garbage", c, "r", kv.Query{Limit: 2, Cursor: []byte("garbage garbage garbage garbage")}},
			{"other-id", c, "r2", kv.Query{Limit: 2, Cursor: tok}},
			{"other-query", c, "r", kv.Query{Limit: 2, Reverse: true, Cursor: tok}},
			{"other-client-key", other, "r", kv.Query{Limit: 2, Cursor: tok}},
		} {
			if _, err := b.c.Get(e.ctx, e.ns, b.id, b.q); !errors.Is(err, kv.ErrBadCursor) {
				t.Errorf("%s: got %v, want ErrBadCursor", b.name, err)
			}
		}
		// Page size may change between pages; the token stays good.
		if _, err := c.Get(e.ctx, e.ns, "r", kv.Query{Limit: 9, MaxBytes: 77, Cursor: tok}); err != nil {
			t.Errorf("resuming with another page size: %v", err)
		}
	})
}

// clientPageCheck checks a Client page against its byte budget.
func clientPageCheck(q kv.Query, budget int, p kv.Page) error {
	if budget == 0 {
		budget = kv.DefaultPageBytes
	}
	n := 0
	for i, it := range p.Items {
		if n >= budget {
			return fmt.Errorf("page continued past its %d-byte budget at item %d", budget, i)
		}
		n += len(it.Key) + len(it.Value) + len(it.Metadata)
	}
	if q.Limit > 0 && len(p.Items) > q.Limit {
		return fmt.Errorf("page of %d items, limit %d", len(p.Items), q.Limit)
	}
	if p.Next != nil && len(p.Items) == 0 {
		return fmt.Errorf("empty page with a next token")
	}
	return nil
}

func (s *suite) clientMutate(t *testing.T, e *env) {
	c := e.client(smallChunks())
	big := payload(2*smallThreshold, 5)
	e.must(c.Mutate(e.ctx, e.ns, "r", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("a"), Value: []byte("1")},
		{Op: kv.OpPut, Key: []byte("b"), Value: []byte("2"), Metadata: []byte("meta")},
		{Op: kv.OpPut, Key: []byte("c"), Value: []byte("3")},
	}))
	// Clear a range and write into it in one call: the writes survive.
	e.must(c.Mutate(e.ctx, e.ns, "r", []kv.Mutation{
		{Op: kv.OpDeleteRange, Key: []byte("a"), End: []byte("c")},
		{Op: kv.OpPut, Key: []byte("a2"), Value: big},
		{Op: kv.OpDelete, Key: []byte("c")},
		{Op: kv.OpPut, Key: []byte("d"), Value: []byte("4"), Metadata: []byte("m")},
	}))
	p, err := c.Get(e.ctx, e.ns, "r", kv.Query{})
	e.must(err)
	var got []string
	for _, it := range p.Items {
		got = append(got, fmt.Sprintf("%s:%d:%s", it.Key, len(it.Value), it.Metadata))
	}
	if want := []string{fmt.Sprintf("a2:%d:", len(big)), "d:1:m"}; !equalStrings(got, want) {
		t.Errorf("after Mutate: got %v, want %v", got, want)
	}
	// Whole-record delete, then the record is empty and unlisted.
	e.must(c.DeleteRecord(e.ctx, e.ns, "r"))
	if p, err := c.Get(e.ctx, e.ns, "r", kv.Query{}); err != nil || len(p.Items) != 0 {
		t.Errorf("after DeleteRecord: %d items, err %v", len(p.Items), err)
	}
	if err := c.Mutate(e.ctx, e.ns, "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("x"), Value: []byte("y"), Timestamp: 5}}); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("Mutate with a Timestamp: got %v, want ErrInvalid", err)
	}
}

func (s *suite) clientSweep(t *testing.T, e *env) {
	c := e.client(smallChunks())
	big := func(i int) []byte { return payload(2*smallThreshold, uint64(i)) }
	e.must(c.Put(e.ctx, e.ns, "r", []byte("kept"), big(1)))
	e.must(c.Put(e.ctx, e.ns, "r", []byte("over"), big(2)))
	e.must(c.Put(e.ctx, e.ns, "r", []byte("over"), big(3))) // orphans write 2
	e.must(c.Put(e.ctx, e.ns, "r", []byte("gone"), big(4)))
	e.must(c.Delete(e.ctx, e.ns, "r", []byte("gone"))) // orphans write 4
	if n := e.chunkWrites(); n != 4 {
		t.Fatalf("%d chunk writes before sweeping, want 4", n)
	}
	st, err := c.Sweep(e.ctx, e.ns)
	e.must(err)
	if st.Deleted != 0 || st.Young != 4 {
		t.Errorf("sweep inside the token window: %+v, want 4 young and none deleted", st)
	}
	// An hour later every write is outside the window.
	later, err := kv.NewClient(e.s, &kv.Options{ChunkThreshold: smallThreshold, ChunkSize: smallChunkSize,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	e.must(err)
	st, err = later.Sweep(e.ctx, e.ns)
	e.must(err)
	if st.Deleted != 2 || st.Live != 2 {
		t.Errorf("sweep after the window: %+v, want 2 deleted and 2 live", st)
	}
	if n := e.chunkWrites(); n != 2 {
		t.Errorf("%d chunk writes after sweeping, want 2", n)
	}
	e.checkValue(c, "r", "kept", big(1))
	e.checkValue(c, "r", "over", big(3))
	e.checkValue(c, "r", "gone", nil)
}

// clientTTL writes client items with a TTL (one inline, one chunked) and
// returns the check that they expired.
func (s *suite) clientTTL(t *testing.T, e *env) func() {
	e = e.sub(t, "client")
	c := e.client(smallChunks())
	big := payload(2*smallThreshold, 11)
	e.must(c.Put(e.ctx, e.ns, "c", []byte("small"), []byte("x"), kv.WithTTL(ttl)))
	e.must(c.Put(e.ctx, e.ns, "c", []byte("big"), big, kv.WithTTL(ttl)))
	e.must(c.Put(e.ctx, e.ns, "c", []byte("keep"), big))
	e.checkValue(c, "c", "big", big)
	return func() {
		// Jitter may add up to a tenth of the TTL.
		deadline := time.Now().Add(ttl + 2*time.Second)
		for {
			p, err := c.Get(e.ctx, e.ns, "c", kv.Query{})
			e.must(err)
			if len(p.Items) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client TTL items still live: %d items, want 1", len(p.Items))
			}
			time.Sleep(100 * time.Millisecond)
		}
		e.checkValue(c, "c", "keep", big)
	}
}
