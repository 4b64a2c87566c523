package local_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
)

// TestLargeValuesAcrossCheckpoints writes, overwrites and deletes values of
// up to 400 KiB (chains of up to ~100 pages, read in runs of consecutive
// pages), while readers read them concurrently and checkpoints copy pages
// from the WAL into the page file. Overwrites free chains, so later chains
// are built from a fragmented free list, and a run the reader guesses
// reaches into pages that live in the page file, in other commits' WAL
// frames, or in this commit's. Every read must return one whole value
// that was written (never a mix), the tree must verify, and after a reopen
// every last value must be intact. It runs on the OS file system (preadv)
// and on memory.
func TestLargeValuesAcrossCheckpoints(t *testing.T) {
	seed := testSeed(t, "KVLOCAL_LARGE_SEED")
	for _, fsName := range []string{"os", "mem"} {
		t.Run(fsName, func(t *testing.T) {
			var fs vfs.FS
			path := filepath.Join(t.TempDir(), "kv")
			if fsName == "mem" {
				fs, path = vfs.NewMem(), "kv"
			}
			r := rand.New(rand.NewPCG(seed, 21))
			ctx := context.Background()
			open := func() *local.Store {
				s, err := local.Open(path, &local.Options{FS: fs, AutoCheckpoint: 50 + r.IntN(200), CacheSize: 256 << 10, SweepInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			if err := s.CreateNamespace(ctx, "ns"); err != nil {
				t.Fatal(err)
			}
			const keys = 12
			var mu sync.Mutex // guards sizes
			sizes := map[string]map[int]bool{}
			last := map[string]int{} // writer-only: the live value's size, -1 deleted
			for i := range keys {
				sizes[fmt.Sprintf("k%02d", i)] = map[int]bool{}
			}
			read := func(s *local.Store, key string) (int, error) {
				res, err := s.Read(ctx, "ns", "big", kv.Query{Keys: [][]byte{[]byte(key)}})
				if err != nil {
					return 0, err
				}
				if len(res.Items) == 0 {
					return -1, nil
				}
				v := res.Items[0].Value
				if !intact(key, v) {
					return 0, fmt.Errorf("%s: %d bytes not a value that was written", key, len(v))
				}
				return len(v), nil
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for g := range 1 {
				rr := rand.New(rand.NewPCG(seed, uint64(100+g)))
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						key := fmt.Sprintf("k%02d", rr.IntN(keys))
						n, err := read(s, key)
						if err == nil && n >= 0 {
							mu.Lock()
							ok := sizes[key][n]
							mu.Unlock()
							if !ok {
								err = fmt.Errorf("%s: read a %d-byte value never written", key, n)
							}
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			for i := range 70 {
				key := fmt.Sprintf("k%02d", r.IntN(keys))
				mut := kv.Mutation{Op: kv.OpDelete, Key: []byte(key), Timestamp: int64(i + 1)}
				n := -1
				if r.IntN(6) > 0 {
					n = 1 + r.IntN(400<<10)
					if r.IntN(3) == 0 {
						n = 1 + r.IntN(20<<10)
					}
					mut = kv.Mutation{Op: kv.OpPut, Key: []byte(key), Value: crashValue(key, n), Timestamp: int64(i + 1)}
					mu.Lock()
					sizes[key][n] = true
					mu.Unlock()
				}
				if err := s.Apply(ctx, "ns", "big", []kv.Mutation{mut}); err != nil {
					t.Fatal(err)
				}
				last[key] = n
				if r.IntN(15) == 0 {
					if err := s.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := read(s, key); err != nil || got != n {
					t.Fatalf("write %d: %s: got %d bytes (%v), want %d", i, key, got, err, n)
				}
			}
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("concurrent reader: %v", err)
			}
			st, err := s.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			t.Logf("%+v", st)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
			defer s.Close()
			for key, n := range last {
				if got, err := read(s, key); err != nil || got != n {
					t.Fatalf("after reopen: %s: got %d bytes (%v), want %d", key, got, err, n)
				}
			}
		})
	}
}

// TestLargeValueReadAllocatesOnce: reading a large value allocates about
// its size once (the page data lands in the result; headers go to
// scratch), not a second copy or a buffer per page.
func TestLargeValueReadAllocatesOnce(t *testing.T) {
	ctx := context.Background()
	s, err := local.Open(filepath.Join(t.TempDir(), "kv"), &local.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	const n = 1 << 20
	val := crashValue("v", n)
	if err := s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("v"), Value: val, Timestamp: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"in the WAL", "in the page file"} {
		t.Run(when, func(t *testing.T) {
			if when == "in the page file" {
				if err := s.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var got []byte
			read := func() {
				res, err := s.Read(ctx, "ns", "r", kv.Query{Keys: [][]byte{[]byte("v")}})
				if err != nil || len(res.Items) != 1 {
					t.Fatalf("read: %v, %d items", err, len(res.Items))
				}
				got = res.Items[0].Value
			}
			read()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const reads = 5
			for range reads {
				read()
			}
			runtime.ReadMemStats(&after)
			if !bytes.Equal(got, val) {
				t.Fatalf("got %d bytes, want the %d written", len(got), n)
			}
			perRead := (after.TotalAlloc - before.TotalAlloc) / reads
			t.Logf("%d bytes allocated per read of %d", perRead, n)
			// The value (plus the last page's unused tail) once, and a
			// little for the run reads' scratch; not a second copy.
			if perRead > n+n/8 {
				t.Errorf("%d bytes allocated to read a %d-byte value, want at most %d", perRead, n, n+n/8)
			}
		})
	}
}
