package wal_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/wal"
)

// A workload is a deterministic sequence of commits: commit i (1-based)
// writes page 1 with i in its first 8 bytes, plus a few other pages whose
// contents are derived from (seed, i, pgno), and sometimes shrinks the
// database. states[i] is the expected database after commit i, so a
// recovered store can be checked against "exactly the state after some
// prefix of commits": read the commit number from page 1, compare all.
type workload struct {
	seed     uint64
	pageSize int
	maxPages uint32
	commits  []txn // commits[i-1] is commit i

	cache [][][]byte // state(k) for every k once precompute has run; read-only after
}

// precompute caches every state so concurrent checks are cheap.
func (w *workload) precompute() {
	cache := make([][][]byte, len(w.commits)+1)
	for k := range cache {
		cache[k] = w.build(k)
	}
	w.cache = cache
}

type txn struct {
	writes   map[uint32][]byte
	truncate uint32 // 0 = none; applied before the writes
}

func newWorkload(seed uint64, pageSize int, maxPages uint32, n int) *workload {
	w := &workload{seed: seed, pageSize: pageSize, maxPages: maxPages}
	rng := rand.New(rand.NewPCG(seed, 1))
	size := uint32(1)
	for i := 1; i <= n; i++ {
		t := txn{writes: map[uint32][]byte{}}
		if size > 4 && rng.IntN(20) == 0 {
			t.truncate = 2 + rng.Uint32N(size-2)
			size = t.truncate
		}
		t.writes[1] = w.page(uint64(i), 1)
		for range rng.IntN(6) {
			pg := 2 + rng.Uint32N(maxPages-1)
			t.writes[pg] = w.page(uint64(i), pg)
			// Grow contiguously so that no page is a never-written gap.
			for g := size + 1; g < pg; g++ {
				if _, ok := t.writes[g]; !ok {
					t.writes[g] = w.page(uint64(i), g)
				}
			}
			size = max(size, pg)
		}
		w.commits = append(w.commits, t)
	}
	return w
}

// page returns the image of pgno as written by commit i.
func (w *workload) page(i uint64, pgno uint32) []byte {
	p := make([]byte, w.pageSize)
	r := rand.New(rand.NewPCG(w.seed^i, uint64(pgno)))
	for j := 0; j+8 <= len(p); j += 8 {
		binary.LittleEndian.PutUint64(p[j:], r.Uint64())
	}
	binary.LittleEndian.PutUint64(p, i)
	binary.LittleEndian.PutUint32(p[8:], pgno)
	return p
}

// state returns the pages after the first k commits (index pgno-1).
func (w *workload) state(k int) [][]byte {
	if w.cache != nil {
		return w.cache[k]
	}
	return w.build(k)
}

func (w *workload) build(k int) [][]byte {
	var pages [][]byte
	for _, t := range w.commits[:k] {
		if t.truncate != 0 {
			pages = pages[:t.truncate]
		}
		for pg, data := range t.writes {
			for uint32(len(pages)) < pg {
				pages = append(pages, make([]byte, w.pageSize))
			}
			pages[pg-1] = data
		}
	}
	return pages
}

// apply runs commit i (1-based) in one transaction.
func (w *workload) apply(ctx context.Context, st *wal.Store, i int) error {
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	t := w.commits[i-1]
	if t.truncate != 0 {
		if err := tx.Truncate(t.truncate); err != nil {
			tx.Rollback()
			return err
		}
	}
	for pg, data := range t.writes {
		if err := tx.WritePage(pg, data); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit(ctx)
}

// committed reads the commit number the store's latest snapshot is at and
// checks every page against the workload; it returns the commit number.
func (w *workload) check(st *wal.Store) (int, error) {
	r, err := st.Snapshot()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return w.checkSnapshot(r)
}

func (w *workload) checkSnapshot(r *wal.Snapshot) (int, error) {
	if r.PageCount() == 0 {
		return 0, nil
	}
	buf := make([]byte, w.pageSize)
	if err := r.ReadPage(1, buf); err != nil {
		return 0, err
	}
	k := int(binary.LittleEndian.Uint64(buf))
	if k < 0 || k > len(w.commits) {
		return 0, fmt.Errorf("page 1 names commit %d, workload has %d", k, len(w.commits))
	}
	want := w.state(k)
	if got := r.PageCount(); got != uint32(len(want)) {
		return k, fmt.Errorf("after commit %d: page count got %d want %d", k, got, len(want))
	}
	for pg := range want {
		if err := r.ReadPage(uint32(pg+1), buf); err != nil {
			return k, err
		}
		if !bytes.Equal(buf, want[pg]) {
			return k, fmt.Errorf("after commit %d: page %d differs (got bytes %x..., want %x...)", k, pg+1, buf[:12], want[pg][:12])
		}
	}
	return k, nil
}

// seedFor returns a seed for a randomized test, from -seed if given, and
// logs it so a failure can be replayed.
func seedFor(t testing.TB) uint64 {
	t.Helper()
	s := *flagSeed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed %d)", s, s)
	return s
}

// commitConcurrently runs the workload's commits from several goroutines.
// Each takes the next commit number only once Begin has given it the
// writer, so commits still happen in workload order. ack is called (under a
// mutex) with each commit that returned nil; the first error stops that
// goroutine and is passed to fail.
func (w *workload) commitConcurrently(ctx context.Context, st *wal.Store, goroutines int, ack func(i int), fail func(i int, err error)) {
	var mu sync.Mutex // guards next and calls of ack/fail
	next := 1
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				tx, err := st.Begin(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i > len(w.commits) {
					tx.Rollback()
					return
				}
				t := w.commits[i-1]
				if t.truncate != 0 {
					tx.Truncate(t.truncate)
				}
				for pg, data := range t.writes {
					tx.WritePage(pg, data)
				}
				err = tx.Commit(ctx)
				mu.Lock()
				if err != nil {
					fail(i, err)
				} else {
					ack(i)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}
