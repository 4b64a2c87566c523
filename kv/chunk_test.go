package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

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
	// The seed picks the values and tokens; scheduling still varies between
	// runs, so a replay repeats the inputs, not the interleaving.
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("KV_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with KV_SEED=%d)", seed, seed)
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

// readModes are chunk layouts that take readChunks' sequential path
// (small value) and its parallel path (nine 1 MiB chunks, read 4 per
// Store call in 3 parts at once).
var readModes = []struct {
	name        string
	opts        *kv.Options
	size, size2 int
	chunk       int
}{
	{"sequential", &kv.Options{ChunkThreshold: 1000, ChunkSize: 256}, 3000, 3100, 256},
	{"parallel", &kv.Options{ChunkThreshold: 1000, ChunkSize: 1 << 20}, 9<<20 + 5, 9<<20 + 77, 1 << 20},
}

// readPaths are the two ways the Client reads chunks: through the Store's
// IntoReader (MemStore has one) and through Read (a wrapper hides it).
var readPaths = []struct {
	name string
	wrap func(kv.Store, *clock) kv.Store
}{
	{"into", nil},
	{"read", func(s kv.Store, _ *clock) kv.Store { return readOnly{s} }},
}

// readOnly hides the Store's optional extensions, IntoReader among them.
type readOnly struct{ kv.Store }

func TestCorruptChunkIsError(t *testing.T) {
	for _, mode := range readModes {
		for _, path := range readPaths {
			t.Run(mode.name+"/"+path.name, func(t *testing.T) { corruptChunk(t, path.wrap, mode.opts, mode.size, mode.chunk) })
		}
	}
	t.Run("foreign-metadata", func(t *testing.T) {
		// A foreign header in the metadata column is corrupt, not a panic.
		f := newFixture(t, nil, nil)
		err := f.mem.Apply(f.ctx, ns, "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("x"), Value: []byte{}, Metadata: []byte{7, 7}, Timestamp: 1 << 60}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.value(t, "r", "x"); !errors.Is(err, kv.ErrCorrupt) {
			t.Errorf("unknown metadata: got %v, want ErrCorrupt", err)
		}
	})
}

// corruptChunk damages chunk 5 of a value three ways (same-size garbage,
// one byte short, deleted) and expects ErrCorrupt every time.
func corruptChunk(t *testing.T, wrap func(kv.Store, *clock) kv.Store, opts *kv.Options, size, chunk int) {
	f := newFixture(t, wrap, opts)
	v := bytesOf(size, 3)
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	ids, _, err := f.mem.IDs(f.ctx, kv.ChunkNamespace(ns), nil, 0)
	if err != nil || len(ids) != 1 {
		t.Fatalf("chunk writes: %q, %v", ids, err)
	}
	// Overwrite chunk 5 with same-size garbage at a later timestamp.
	bad := bytes.Repeat([]byte{0xee}, chunk)
	err = f.mem.Apply(f.ctx, kv.ChunkNamespace(ns), ids[0], []kv.Mutation{{Op: kv.OpPut, Key: []byte{0, 0, 0, 5}, Value: bad, Timestamp: 1 << 60}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("checksum mismatch: got %v, want ErrCorrupt", err)
	}
	// A chunk of the wrong size, and a missing chunk, too.
	err = f.mem.Apply(f.ctx, kv.ChunkNamespace(ns), ids[0], []kv.Mutation{{Op: kv.OpPut, Key: []byte{0, 0, 0, 5}, Value: bad[1:], Timestamp: 1<<60 + 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("short chunk: got %v, want ErrCorrupt", err)
	}
	err = f.mem.Apply(f.ctx, kv.ChunkNamespace(ns), ids[0], []kv.Mutation{{Op: kv.OpDelete, Key: []byte{0, 0, 0, 5}, Timestamp: 1<<60 + 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrCorrupt) {
		t.Errorf("missing chunk: got %v, want ErrCorrupt", err)
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

// hookInto is a hookStore that keeps the inner Store's IntoReader, firing
// the hook on its first chunk read too.
type hookInto struct{ *hookStore }

func (h hookInto) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	if strings.HasSuffix(ns, kv.ChunkSuffix) && h.before != nil && h.fired.CompareAndSwap(false, true) {
		h.before()
	}
	return h.Store.(kv.IntoReader).ReadInto(ctx, ns, id, keys, dsts)
}

func TestReaderHealsAfterSweep(t *testing.T) {
	// Between a reader's manifest read and its chunk read, the value is
	// replaced and the old chunks swept: the reader must serve the new
	// value, not an error or the old one's remains.
	for _, mode := range readModes {
		for _, into := range []bool{true, false} {
			name := mode.name + "/read"
			if into {
				name = mode.name + "/into"
			}
			t.Run(name, func(t *testing.T) { healAfterSweep(t, mode.opts, mode.size, mode.size2, into) })
		}
	}
}

func healAfterSweep(t *testing.T, opts *kv.Options, size, size2 int, into bool) {
	var h *hookStore
	f := newFixture(t, func(s kv.Store, _ *clock) kv.Store {
		h = &hookStore{Store: s}
		if into {
			return hookInto{h}
		}
		return h
	}, opts)
	v1, v2 := bytesOf(size, 1), bytesOf(size2, 2)
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
	if !h.fired.Load() {
		t.Fatal("the hook never fired: the test did not take the path it names")
	}
}
