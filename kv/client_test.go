package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a Client on a MemStore sharing one test clock, with small
// chunks so chunking is cheap to exercise.
type fixture struct {
	ctx   context.Context
	mem   *kvtest.MemStore
	store kv.Store // what the client sees (mem, possibly wrapped)
	clk   *clock
	c     *kv.Client
}

const ns = "test"

func newFixture(t *testing.T, wrap func(kv.Store, *clock) kv.Store, opts *kv.Options) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), mem: kvtest.NewMemStore(), clk: &clock{t: time.Unix(1_800_000_000, 0)}}
	f.mem.SetClock(f.clk.Now)
	f.store = f.mem
	if wrap != nil {
		f.store = wrap(f.mem, f.clk)
	}
	o := kv.Options{ChunkThreshold: 1000, ChunkSize: 256}
	if opts != nil {
		o = *opts
	}
	o.Now = f.clk.Now
	var err error
	if f.c, err = kv.NewClient(f.store, &o); err != nil {
		t.Fatal(err)
	}
	if err := f.c.CreateNamespace(f.ctx, ns); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) value(t *testing.T, id, key string) ([]byte, error) {
	t.Helper()
	return f.c.GetValue(f.ctx, ns, id, []byte(key))
}

func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestTokenWindow(t *testing.T) {
	f := newFixture(t, nil, &kv.Options{MaxTokenAge: time.Minute, MaxTokenSkew: 2 * time.Second})
	now := f.clk.Now()
	for _, c := range []struct {
		name   string
		at     time.Duration
		future bool
		ok     bool
	}{
		{"now", 0, false, true},
		{"age-limit", -time.Minute, false, true},
		{"too-old", -time.Minute - time.Microsecond, false, false},
		{"skew-limit", 2 * time.Second, true, true},
		{"too-far-ahead", 2*time.Second + time.Microsecond, true, false},
		{"an-hour-ahead", time.Hour, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := kv.Token{Time: now.Add(c.at), Random: [16]byte{9}}
			err := f.c.Put(f.ctx, ns, "r", []byte(c.name), []byte("v"), kv.WithToken(tok))
			if c.ok {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			var te *kv.TokenError
			if !errors.As(err, &te) || !errors.Is(err, kv.ErrTokenWindow) || te.Future != c.future {
				t.Fatalf("got %v, want *TokenError with Future=%v", err, c.future)
			}
			if !strings.Contains(err.Error(), "edgekit/kv: ") {
				t.Errorf("error text %q lacks the package prefix", err)
			}
		})
	}
}

// slowStore advances the clock on every Apply, as a slow chunk upload would.
type slowStore struct {
	kv.Store
	clk  *clock
	step time.Duration
}

func (s *slowStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	s.clk.Add(s.step)
	return s.Store.Apply(ctx, ns, id, muts)
}

func TestCommitRechecksTokenAge(t *testing.T) {
	// Staging that outlasts the token window must not commit: Sweep
	// could already be reclaiming those chunks.
	f := newFixture(t, func(s kv.Store, clk *clock) kv.Store { return &slowStore{Store: s, clk: clk, step: 40 * time.Second} },
		&kv.Options{ChunkThreshold: 100, ChunkSize: 4 << 20, MaxTokenAge: time.Minute})
	err := f.c.Put(f.ctx, ns, "r", []byte("k"), bytesOf(1<<20, 1)) // 1 staging call: 40 s
	if err != nil {
		t.Fatalf("one staging call inside the window: %v", err)
	}
	err = f.c.Put(f.ctx, ns, "r", []byte("k2"), bytesOf(5<<20, 1)) // 2 staging calls: 80 s
	if !errors.Is(err, kv.ErrTokenWindow) {
		t.Fatalf("staging past the window: got %v, want ErrTokenWindow", err)
	}
	if _, err := f.value(t, "r", "k2"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("uncommitted value visible: err %v", err)
	}
}

func TestChunkedCrashBetweenStages(t *testing.T) {
	old := bytesOf(5000, 1)
	for _, par := range []int{1, 4} {
		for applies := 0; applies <= 5; applies++ {
			t.Run(fmt.Sprintf("parallel%d/after%d", par, applies), func(t *testing.T) {
				crashBetweenStages(t, old, par, applies)
			})
		}
	}
}

// crashBetweenStages lets applies Apply calls through, then fails the rest,
// while a 10-chunk value overwrites old.
func crashBetweenStages(t *testing.T, old []byte, par, applies int) {
	var fs *kvtest.FaultStore
	f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { fs = kvtest.NewFaultStore(s); return fs },
		&kv.Options{ChunkThreshold: 1000, ChunkSize: 1000, StageBytes: 4000, StageParallelism: par})
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), old); err != nil {
		t.Fatal(err)
	}
	// A 4-call write: 10 chunks staged 4 per call (the owner record
	// rides with the first), then the commit. Until the commit the old
	// value stays whole.
	fs.FailAfter(applies)
	v := bytesOf(9001, 2)
	err := f.c.Put(f.ctx, ns, "r", []byte("k"), v)
	got, gerr := f.value(t, "r", "k")
	if gerr != nil {
		t.Fatalf("read after crash: %v", gerr)
	}
	switch {
	case err == nil && !bytes.Equal(got, v):
		t.Errorf("write acknowledged but read %d bytes, want the new %d", len(got), len(v))
	case err != nil && !bytes.Equal(got, old):
		t.Errorf("write failed (%v) but read %d bytes that are not the old value", err, len(got))
	case err != nil && !errors.Is(err, kvtest.ErrInjected):
		t.Errorf("write failed with %v, want ErrInjected", err)
	}
	// Later a sweep reclaims whatever the dead writer staged.
	fs.FailAfter(-1)
	f.clk.Add(time.Hour)
	st, err := f.c.Sweep(f.ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live != 1 || st.Young != 0 {
		t.Errorf("sweep: %+v, want exactly the one live write kept", st)
	}
	if got, _ := f.value(t, "r", "k"); !bytes.Equal(got, old) && !bytes.Equal(got, v) {
		t.Errorf("after sweep: %d bytes, neither value", len(got))
	}
}

func TestStagingCancelled(t *testing.T) {
	var h *cancelStore
	f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { h = &cancelStore{Store: s}; return h },
		&kv.Options{ChunkThreshold: 1000, ChunkSize: 1000, StageBytes: 1000, StageParallelism: 3})
	ctx, cancel := context.WithCancel(f.ctx)
	h.after, h.cancel = 2, cancel
	err := f.c.Put(ctx, ns, "r", []byte("k"), bytesOf(20000, 1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with its context cancelled while staging: got %v, want context.Canceled", err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("cancelled write visible: %v", err)
	}
}

// cancelStore calls cancel once after Apply calls have succeeded.
type cancelStore struct {
	kv.Store
	mu     sync.Mutex // guards after
	after  int
	cancel context.CancelFunc
}

func (c *cancelStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	err := c.Store.Apply(ctx, ns, id, muts)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.after--; c.after == 0 {
		c.cancel()
	}
	return err
}

func TestRacingChunkedWriters(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	f := newFixture(t, nil, &kv.Options{ChunkThreshold: 512, ChunkSize: 128})
	vals := make([][]byte, 6)
	for i := range vals {
		vals[i] = bytesOf(600+int(seed%7)*100+i*50, byte(i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range vals {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; i < 30; i++ {
				// Several writers share a token time; only the random part differs.
				tok := kv.Token{Time: f.clk.Now(), Random: [16]byte{byte(w), byte(rng.IntN(256))}}
				if err := f.c.Put(f.ctx, ns, "r", []byte("k"), vals[w], kv.WithToken(tok)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := f.value(t, "r", "k")
			if errors.Is(err, kv.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Error(err)
				return
			}
			ok := false
			for _, v := range vals {
				ok = ok || bytes.Equal(got, v)
			}
			if !ok {
				t.Errorf("read a %d-byte value no writer wrote", len(got))
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
}

func TestCorruptChunkIsError(t *testing.T) {
	f := newFixture(t, nil, nil)
	v := bytesOf(3000, 3)
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	ids, _, err := f.mem.IDs(f.ctx, kv.ChunkNamespace(ns), nil, 0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("chunk writes: %q, %v", ids, err)
	}
	// Overwrite chunk 1 with same-size garbage at a later timestamp.
	bad := bytes.Repeat([]byte{0xee}, 256)
	err = f.mem.Apply(f.ctx, kv.ChunkNamespace(ns), ids[0], []kv.Mutation{{Op: kv.OpPut, Key: []byte{0, 0, 0, 1}, Value: bad, Timestamp: 1 << 60}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("checksum mismatch: got %v, want ErrCorrupt", err)
	}
	// A foreign header in the metadata column is corrupt too, not a panic.
	err = f.mem.Apply(f.ctx, ns, "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("x"), Value: []byte{}, Metadata: []byte{7, 7}, Timestamp: 1 << 60}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "x"); !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("unknown metadata: got %v, want ErrCorrupt", err)
	}
}

// hookStore runs before() once, on the first Read of the chunk namespace
// after it is set; reads made by before() itself pass through.
type hookStore struct {
	kv.Store
	fired  atomic.Bool
	before func()
}

func (h *hookStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if strings.HasSuffix(ns, kv.ChunkSuffix) && h.before != nil && h.fired.CompareAndSwap(false, true) {
		h.before()
	}
	return h.Store.Read(ctx, ns, id, q)
}

func TestReaderHealsAfterSweep(t *testing.T) {
	// Between a reader's manifest read and its chunk read, the value is
	// replaced and the old chunks swept: the reader must serve the new
	// value, not an error or the old one's remains.
	var h *hookStore
	f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { h = &hookStore{Store: s}; return h }, nil)
	v1, v2 := bytesOf(4000, 1), bytesOf(4100, 2)
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v1); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Hour)
	h.before = func() {
		if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v2); err != nil {
			t.Error(err)
		}
		// Only v1's write is old enough to sweep.
		if st, err := f.c.Sweep(f.ctx, ns); err != nil || st.Deleted != 1 {
			t.Errorf("sweep: %+v, %v; want 1 deleted", st, err)
		}
	}
	got, err := f.value(t, "r", "k")
	if err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("got %d bytes, err %v; want the new %d-byte value", len(got), err, len(v2))
	}
}

func TestTTLJitter(t *testing.T) {
	f := newFixture(t, nil, nil) // default jitter: up to 10 % of the TTL
	const n, ttl = 200, 100 * time.Second
	var muts []kv.Mutation
	for i := range n {
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "k%03d", i), Value: []byte("v"), TTL: ttl})
	}
	tok, err := f.c.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Mutate(f.ctx, ns, "r", muts, kv.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		p, err := f.c.Get(f.ctx, ns, "r", kv.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Items)
	}
	start := f.clk.Now()
	at := func(d time.Duration) int {
		f.clk.t = start.Add(d)
		return count()
	}
	if got := at(ttl - time.Millisecond); got != n {
		t.Errorf("before the TTL: %d live, want %d (jitter only lengthens)", got, n)
	}
	mid := at(ttl + ttl/20)
	if mid == 0 || mid == n {
		t.Errorf("half-way through the jitter window: %d of %d live, want expiries spread", mid, n)
	}
	if got := at(ttl + ttl/10); got != 0 {
		t.Errorf("after TTL+10%%: %d live, want 0", got)
	}
	// A retry with the same token reproduces the same expiries.
	f.clk.t = start
	if err := f.c.Mutate(f.ctx, ns, "r", muts, kv.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
	if got := at(ttl + ttl/20); got != mid {
		t.Errorf("retry with the same token: %d live at the mid point, first write had %d", got, mid)
	}
}

func TestPageTokenStale(t *testing.T) {
	f := newFixture(t, nil, &kv.Options{PageTokenTTL: time.Minute})
	for i := range 5 {
		if err := f.c.Put(f.ctx, ns, "r", fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2})
	if err != nil || p.Next == nil {
		t.Fatalf("first page: %v, next %v", err, p.Next)
	}
	f.clk.Add(59 * time.Second)
	if _, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2, Cursor: p.Next}); err != nil {
		t.Errorf("token inside its TTL: %v", err)
	}
	f.clk.Add(2 * time.Second)
	if _, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2, Cursor: p.Next}); !errors.Is(err, kv.ErrBadCursor) {
		t.Errorf("stale token: got %v, want ErrBadCursor", err)
	}
}

func TestSharedPageKey(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	f := newFixture(t, nil, &kv.Options{PageKey: key})
	other, err := kv.NewClient(f.store, &kv.Options{PageKey: key, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := f.c.Put(f.ctx, ns, "r", fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := other.Get(f.ctx, ns, "r", kv.Query{Limit: 3, Cursor: p.Next})
	if err != nil || len(p2.Items) != 1 || string(p2.Items[0].Key) != "k3" {
		t.Errorf("resuming on a Client with the same key: %v, %d items", err, len(p2.Items))
	}
}

func TestLongKeyPagination(t *testing.T) {
	// Pages that end on a MaxKeyLen key resume at its prefix successor.
	f := newFixture(t, nil, nil)
	long := func(c byte, last byte) []byte {
		k := bytes.Repeat([]byte{c}, kv.MaxKeyLen)
		k[len(k)-1] = last
		return k
	}
	keys := [][]byte{long('a', 0xff), long('a', 0xfe), long('b', 0), []byte("b"), long(0xff, 0xff)}
	for _, k := range keys {
		if err := f.c.Put(f.ctx, ns, "r", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	q := kv.Query{Limit: 1}
	for {
		p, err := f.c.Get(f.ctx, ns, "r", q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Items)
		if p.Next == nil {
			break
		}
		q.Cursor = p.Next
	}
	if n != len(keys) {
		t.Errorf("paged %d items, want %d", n, len(keys))
	}
}

// plainStore hides MemStore's Atomic implementation.
type plainStore struct{ kv.Store }

func TestBadInputAndOptions(t *testing.T) {
	f := newFixture(t, nil, nil)
	if f.c.AtomicApply() != true {
		t.Error("AtomicApply() = false over a MemStore")
	}
	c, err := kv.NewClient(plainStore{f.mem}, nil)
	if err != nil || c.AtomicApply() {
		t.Errorf("over a non-Atomic store: AtomicApply %v, err %v", c.AtomicApply(), err)
	}
	for _, bad := range []kv.Options{{PageKey: []byte("short")}, {ChunkSize: -1}, {ChunkSize: 1<<30 + 1}, {StageParallelism: -1}, {MaxTokenAge: -time.Second}} {
		if _, err := kv.NewClient(f.mem, &bad); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("NewClient(%+v): got %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := kv.NewClient(f.mem, &kv.Options{Rand: io.LimitReader(nil, 0)}); err == nil {
		t.Error("NewClient with an empty Rand: want an error")
	}
	for name, err := range map[string]error{
		"ns-with-double-underscore": f.c.CreateNamespace(f.ctx, "a__b"),
		"ns-too-long-for-companion": f.c.CreateNamespace(f.ctx, strings.Repeat("a", kv.ClientNamespaceLen+1)),
		"empty-id":                  f.c.Put(f.ctx, ns, "", []byte("k"), []byte("v")),
		"nil-value":                 f.c.Put(f.ctx, ns, "r", []byte("k"), nil),
		"key-too-long":              f.c.Put(f.ctx, ns, "r", make([]byte, kv.MaxKeyLen+1), []byte("v")),
		"negative-ttl":              f.c.Put(f.ctx, ns, "r", []byte("k"), []byte("v"), kv.WithTTL(-time.Second)),
	} {
		if !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if err := f.c.Put(f.ctx, "missing", "r", []byte("k"), []byte("v")); !errors.Is(err, kv.ErrNoNamespace) {
		t.Errorf("unknown namespace: got %v, want ErrNoNamespace", err)
	}
	for _, s := range []string{"", "12", "12-zz", "0-00000000000000000000000000000000", "-5-00000000000000000000000000000000", "5-0000"} {
		if _, err := kv.ParseToken(s); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("ParseToken(%q): got %v, want ErrInvalid", s, err)
		}
	}
	names, err := f.c.Namespaces(f.ctx)
	if err != nil || len(names) != 1 || names[0] != ns {
		t.Errorf("Namespaces() = %q, %v; want just %q (companions hidden)", names, err, ns)
	}
}
