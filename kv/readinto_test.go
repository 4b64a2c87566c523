package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// intoSpy passes everything to a Store with IntoReader, counting chunk
// reads by kind; hook, if set, runs inside every ReadInto call first.
type intoSpy struct {
	kv.Store
	reads, intos atomic.Int64 // chunk-namespace Read and ReadInto calls
	intoBytes    atomic.Int64 // bytes of buffers handed to ReadInto
	hook         func(ctx context.Context, keys [][]byte) error
}

func (s *intoSpy) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if strings.HasSuffix(ns, kv.ChunkSuffix) {
		s.reads.Add(1)
	}
	return s.Store.Read(ctx, ns, id, q)
}

func (s *intoSpy) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	s.intos.Add(1)
	for _, d := range dsts {
		s.intoBytes.Add(int64(len(d)))
	}
	if s.hook != nil {
		if err := s.hook(ctx, keys); err != nil {
			return nil, err
		}
	}
	return s.Store.(kv.IntoReader).ReadInto(ctx, ns, id, keys, dsts)
}

func testSeed(t *testing.T) uint64 {
	t.Helper()
	s := rand.Uint64()
	if v := os.Getenv("KV_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("KV_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with KV_SEED=%d)", s, s)
	return s
}

// TestReadIntoEquivalent: random values of random sizes (chunk multiples,
// one byte over, a short last chunk) read back identically through the
// IntoReader path and the Read path, sequentially and in parallel; the
// IntoReader path asks for each chunk's bytes exactly once and makes no
// chunk Read at all.
func TestReadIntoEquivalent(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 5))
	for _, cfg := range []struct {
		chunk, par int
	}{{256, 1}, {256, 4}, {1000, 4}, {64 << 10, 2}, {1 << 20, 4}} {
		t.Run(fmt.Sprintf("chunk=%d/par=%d", cfg.chunk, cfg.par), func(t *testing.T) {
			var spy *intoSpy
			opts := &kv.Options{ChunkThreshold: cfg.chunk, ChunkSize: cfg.chunk, StageParallelism: cfg.par}
			f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { spy = &intoSpy{Store: s}; return spy }, opts)
			plain, err := kv.NewClient(readOnly{f.mem}, &kv.Options{Now: f.clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			maxChunks := min(40, (24<<20)/cfg.chunk)
			sizes := []int{cfg.chunk + 1, 2 * cfg.chunk, maxChunks * cfg.chunk}
			for range 4 {
				sizes = append(sizes, cfg.chunk+1+r.IntN((maxChunks-1)*cfg.chunk))
			}
			for i, size := range sizes {
				v := make([]byte, size)
				for j := range v {
					v[j] = byte(r.Uint32())
				}
				key := fmt.Appendf(nil, "k%d", i)
				if err := f.c.Put(f.ctx, ns, "r", key, v); err != nil {
					t.Fatal(err)
				}
				spy.reads.Store(0)
				spy.intos.Store(0)
				spy.intoBytes.Store(0)
				got, err := f.c.GetValue(f.ctx, ns, "r", key)
				if err != nil || !bytes.Equal(got, v) {
					t.Fatalf("size %d, into path: got %d bytes (%v), want the %d written", size, len(got), err, size)
				}
				if spy.intos.Load() == 0 || spy.reads.Load() != 0 || spy.intoBytes.Load() != int64(size) {
					t.Fatalf("size %d: %d ReadInto calls for %d bytes, %d chunk Reads; want ReadInto only, each byte once",
						size, spy.intos.Load(), spy.intoBytes.Load(), spy.reads.Load())
				}
				old, err := plain.GetValue(f.ctx, ns, "r", key)
				if err != nil || !bytes.Equal(old, got) {
					t.Fatalf("size %d, read path: got %d bytes (%v), differs from the into path", size, len(old), err)
				}
			}
		})
	}
}

// TestReadIntoOutOfOrder: chunks that land out of order (the first job
// held back until the others are in) still hash in value order, so the
// value verifies; a Client that hashed in landing order would fail here.
// The Client runs at most GOMAXPROCS-1 readers, so the test raises
// GOMAXPROCS to have the four it needs on any machine.
func TestReadIntoOutOfOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(5))
	var spy *intoSpy
	opts := &kv.Options{ChunkThreshold: 1 << 20, ChunkSize: 1 << 20, StageParallelism: 4}
	f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { spy = &intoSpy{Store: s}; return spy }, opts)
	v := bytesOf(6<<20+100, 9)
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	others := make(chan struct{}, 16)
	spy.hook = func(ctx context.Context, keys [][]byte) error {
		if !bytes.Equal(keys[0], []byte{0, 0, 0, 0}) {
			others <- struct{}{}
			return nil
		}
		for range 3 { // three later jobs start before the first reads
			select {
			case <-others:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	got, err := f.value(t, "r", "k")
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("got %d bytes (%v), want the %d written", len(got), err, len(v))
	}
}

// TestReadIntoReaders: the readers of one value never outnumber
// StageParallelism or GOMAXPROCS-1 (the hasher takes a processor), and
// with processors to spare they do read at once.
func TestReadIntoReaders(t *testing.T) {
	for _, c := range []struct{ procs, stage, want int }{
		{2, 4, 1}, // one reader, the hasher on the other processor
		{1, 4, 1}, // never fewer than one
		{5, 4, 4},
		{8, 2, 2},
	} {
		t.Run(fmt.Sprintf("procs%d-stage%d", c.procs, c.stage), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.procs))
			var spy *intoSpy
			opts := &kv.Options{ChunkThreshold: 1 << 20, ChunkSize: 1 << 20, StageParallelism: c.stage}
			f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { spy = &intoSpy{Store: s}; return spy }, opts)
			v := bytesOf(8<<20, 3)
			if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
				t.Fatal(err)
			}
			var (
				mu         sync.Mutex
				now, most  int
				arrived    = make(chan struct{}, 8)
				release    = make(chan struct{})
				releaseOne sync.Once
			)
			spy.hook = func(ctx context.Context, _ [][]byte) error {
				mu.Lock()
				now++
				most = max(most, now)
				mu.Unlock()
				arrived <- struct{}{}
				if len(arrived) >= c.want { // as many as may run at once are in
					releaseOne.Do(func() { close(release) })
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				mu.Lock()
				now--
				mu.Unlock()
				<-arrived
				return nil
			}
			got, err := f.value(t, "r", "k")
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("got %d bytes (%v), want the %d written", len(got), err, len(v))
			}
			if most != c.want {
				t.Fatalf("%d ReadInto calls at once, want %d", most, c.want)
			}
		})
	}
}

// TestReadIntoStoreFaults: what a misbehaving or failing IntoReader does
// to a read: an error passes through, a wrong number of lengths is an
// error, bytes that fail the checksum are ErrCorrupt, a cancelled context
// stops the read; no reader goroutine outlives the call (goleak).
func TestReadIntoStoreFaults(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		wrap func(*intoSpy) kv.Store
		want func(error) bool
	}{
		{"error", func(s *intoSpy) kv.Store {
			s.hook = func(_ context.Context, keys [][]byte) error {
				if keys[0][3] == 3 {
					return boom
				}
				return nil
			}
			return s
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"lengths", func(s *intoSpy) kv.Store { return shortLens{s} }, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "lengths")
		}},
		{"garbage", func(s *intoSpy) kv.Store { return garbageInto{s} }, func(err error) bool { return errors.Is(err, kv.ErrCorrupt) }},
		{"cancel", func(s *intoSpy) kv.Store {
			s.hook = func(ctx context.Context, keys [][]byte) error {
				if keys[0][3] == 2 {
					<-ctx.Done() // held until the caller gives up
					return ctx.Err()
				}
				return nil
			}
			return s
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := &kv.Options{ChunkThreshold: 1 << 20, ChunkSize: 1 << 20, StageParallelism: 4}
			var spy *intoSpy
			f := newFixture(t, func(s kv.Store, _ *clock) kv.Store { spy = &intoSpy{Store: s}; return spy }, opts)
			if err := f.c.Put(f.ctx, ns, "r", []byte("k"), bytesOf(6<<20, 4)); err != nil {
				t.Fatal(err)
			}
			cl, err := kv.NewClient(c.wrap(spy), &kv.Options{Now: f.clk.Now, StageParallelism: 4})
			if err != nil {
				t.Fatal(err)
			}
			ctx := f.ctx
			if c.name == "cancel" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			got, err := cl.GetValue(ctx, ns, "r", []byte("k"))
			if !c.want(err) {
				t.Fatalf("got %d bytes, err %v", len(got), err)
			}
		})
	}
}

// shortLens returns one length too few.
type shortLens struct{ *intoSpy }

func (s shortLens) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	lens, err := s.intoSpy.ReadInto(ctx, ns, id, keys, dsts)
	if err != nil {
		return nil, err // cancelled after another job's failure
	}
	return lens[:len(lens)-1], nil
}

// garbageInto reports every chunk read in full but flips a byte of one.
type garbageInto struct{ *intoSpy }

func (g garbageInto) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	lens, err := g.intoSpy.ReadInto(ctx, ns, id, keys, dsts)
	if err == nil && keys[0][3] == 4 {
		dsts[0][100] ^= 1
	}
	return lens, err
}

// TestOpenValueIsLazyInto: OpenValue on a Store with IntoReader fetches
// one window (4 MiB) for the first byte, then the rest, each chunk once,
// through ReadInto only.
func TestOpenValueIsLazyInto(t *testing.T) {
	var spy *intoSpy
	v, r := openLarge(t, func(s kv.Store, _ *clock) kv.Store { spy = &intoSpy{Store: s}; return spy })
	first := make([]byte, 1)
	if _, err := r.Read(first); err != nil {
		t.Fatal(err)
	}
	if got := spy.intoBytes.Load(); got != 4<<20 {
		t.Fatalf("ReadInto asked for %d bytes for the first byte, want one 4 MiB window", got)
	}
	readRest(t, r, first, v)
	if got := spy.intoBytes.Load(); got != int64(len(v)) || spy.reads.Load() != 0 {
		t.Errorf("ReadInto asked for %d bytes in all (want each chunk once, %d), %d chunk Reads (want 0)", got, len(v), spy.reads.Load())
	}
}
