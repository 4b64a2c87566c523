package btree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

const ovfPS = 4096

// ovfFixture is a pager with one tree, written through committed writers.
type ovfFixture struct {
	t     *testing.T
	p     *memPager
	cache *Cache
	root  uint32
}

func newOvfFixture(t *testing.T) *ovfFixture {
	f := &ovfFixture{t: t, p: &memPager{ps: ovfPS, pages: map[uint32][]byte{}}, cache: NewCache(1<<20, 0)}
	f.commit(func(tx *Tx) { f.root = tx.Catalog() })
	return f
}

// commit runs fn in a write transaction and commits it.
func (f *ovfFixture) commit(fn func(tx *Tx)) {
	f.t.Helper()
	w := f.p.write()
	tx, err := Begin(w, w, f.cache, ovfPS)
	if err != nil {
		f.t.Fatal(err)
	}
	fn(tx)
	count, err := tx.Commit()
	if err != nil {
		f.t.Fatal(err)
	}
	w.commit(count)
	tx.Publish()
}

// reader returns a read transaction on the latest commit, over r (nil:
// the pager's snapshot, which reads runs).
func (f *ovfFixture) reader(wrap func(*memSnap) PageReader) (*Tx, *memSnap) {
	f.t.Helper()
	snap := f.p.read()
	var r PageReader = snap
	if wrap != nil {
		r = wrap(snap)
	}
	tx, err := Begin(r, nil, f.cache, ovfPS)
	if err != nil {
		f.t.Fatal(err)
	}
	return tx, snap
}

// chainOf returns the pages of key's overflow chain.
// damagedChain is a fixture holding val at key "v", with page i of its
// overflow chain passed through fn (which also sees the whole chain).
func damagedChain(t *testing.T, val []byte, i int, fn func(p []byte, chain []uint32)) *ovfFixture {
	t.Helper()
	f := newOvfFixture(t)
	f.commit(func(tx *Tx) {
		if err := tx.Put(f.root, []byte("v"), val); err != nil {
			t.Fatal(err)
		}
	})
	rtx, _ := f.reader(nil)
	chain := f.chainOf(rtx, "v")
	p := bytes.Clone(f.p.pages[chain[i]])
	fn(p, chain)
	f.p.pages[chain[i]] = p
	return f
}

// bothReaders are the page readers a chain is read through: the snapshot
// itself (with its run reads) and one that reads page by page.
var bothReaders = []func(*memSnap) PageReader{nil, func(s *memSnap) PageReader { return pageOnly{s} }}

func (f *ovfFixture) chainOf(tx *Tx, key string) []uint32 {
	f.t.Helper()
	c := tx.Cursor(f.root)
	c.Seek([]byte(key))
	if !c.Valid() || string(c.Key()) != key || c.cur().ovf == 0 {
		f.t.Fatalf("key %q: not an overflow value", key)
	}
	pages, err := tx.overflowPages(c.cur().ovf, c.cur().vlen)
	if err != nil {
		f.t.Fatal(err)
	}
	return pages
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// runsOf counts the stretches of consecutive page numbers in a chain.
func runsOf(pages []uint32) int {
	runs := 0
	for i := range pages {
		if i == 0 || pages[i] != pages[i-1]+1 {
			runs++
		}
	}
	return runs
}

// TestOverflowRuns: a chain in fresh space is one run of pages and is read
// in a few calls (the guess doubles from firstRun); a chain written into a
// fragmented free list is still ascending, reads back intact, and costs
// about one call per stretch; the page-at-a-time path agrees.
func TestOverflowRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	per := capacity(ovfPS)
	f := newOvfFixture(t)
	big := randBytes(r, 300*per-100) // 300 pages
	f.commit(func(tx *Tx) {
		if err := tx.Put(f.root, []byte("big"), big); err != nil {
			t.Fatal(err)
		}
	})
	rtx, snap := f.reader(nil)
	if got, err := rtx.value(mustCell(t, rtx, f.root, "big")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("fresh chain: got %d bytes (%v), want %d", len(got), err, len(big))
	}
	pages := f.chainOf(rtx, "big")
	if runs := runsOf(pages); runs != 1 {
		t.Errorf("fresh chain of %d pages: %d runs, want 1", len(pages), runs)
	}
	// 64 + 128 + 108 pages; the second read (chainOf) costs as many.
	if snap.runReads != 6 {
		t.Errorf("fresh chain of 300 pages, read twice: %d run reads, want 6", snap.runReads)
	}

	// Fragment the free list: 40 values of 5 pages, every other deleted.
	small := map[string][]byte{}
	f.commit(func(tx *Tx) {
		for i := range 40 {
			k := fmt.Sprintf("s%02d", i)
			small[k] = randBytes(r, 5*per)
			if err := tx.Put(f.root, []byte(k), small[k]); err != nil {
				t.Fatal(err)
			}
		}
	})
	f.commit(func(tx *Tx) {
		for i := 0; i < 40; i += 2 {
			k := fmt.Sprintf("s%02d", i)
			if ok, err := tx.Delete(f.root, []byte(k)); !ok || err != nil {
				t.Fatalf("delete %s: %v %v", k, ok, err)
			}
			delete(small, k)
		}
	})
	frag := randBytes(r, 150*per) // 100 freed pages in stretches of 5, then new ones
	f.commit(func(tx *Tx) {
		if err := tx.Put(f.root, []byte("frag"), frag); err != nil {
			t.Fatal(err)
		}
	})
	for _, wrap := range []struct {
		name string
		fn   func(*memSnap) PageReader
	}{{"runs", nil}, {"pages", func(s *memSnap) PageReader { return pageOnly{s} }}} {
		t.Run(wrap.name, func(t *testing.T) {
			rtx, snap := f.reader(wrap.fn)
			got, err := rtx.value(mustCell(t, rtx, f.root, "frag"))
			if err != nil || !bytes.Equal(got, frag) {
				t.Fatalf("fragmented chain: got %d bytes (%v), want %d", len(got), err, len(frag))
			}
			reads, read := snap.runReads, snap.runPages
			pages := f.chainOf(rtx, "frag")
			if wrap.fn != nil {
				return
			}
			for i := 1; i < len(pages); i++ {
				if pages[i] <= pages[i-1] {
					t.Fatalf("chain not ascending at %d: %d after %d", i, pages[i], pages[i-1])
				}
			}
			runs := runsOf(pages)
			if runs < 10 {
				t.Fatalf("chain has only %d runs; the test wants a fragmented one", runs)
			}
			// One read per stretch, plus a few while the guess regrows.
			if reads > runs+8 {
				t.Errorf("%d stretches read in %d calls, want at most %d", runs, reads, runs+8)
			}
			// Guesses past a stretch's end waste reading, but boundedly.
			if read > 2*len(pages)+firstRun {
				t.Errorf("chain of %d pages: %d pages read, want at most %d", len(pages), read, 2*len(pages)+firstRun)
			}
			if _, err := rtx.Check([]uint32{f.root}); err != nil {
				t.Fatalf("invariants: %v", err)
			}
			for k, v := range small {
				if got, err := rtx.value(mustCell(t, rtx, f.root, k)); err != nil || !bytes.Equal(got, v) {
					t.Fatalf("%s: got %d bytes (%v), want %d", k, len(got), err, len(v))
				}
			}
		})
	}
}

// mustCell returns the cell of key.
func mustCell(t *testing.T, tx *Tx, root uint32, key string) *cell {
	t.Helper()
	c := tx.Cursor(root)
	c.Seek([]byte(key))
	if !c.Valid() || string(c.Key()) != key {
		t.Fatalf("key %q not found (%v)", key, c.Err())
	}
	return c.cur()
}

// TestOverflowCorruptChain: a damaged chain is a CorruptError, never a
// panic, a hang or wrong bytes, whether the damage is inside a run the
// reader guessed or at a break.
func TestOverflowCorruptChain(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	per := capacity(ovfPS)
	val := randBytes(r, 20*per-7)
	damage := []struct {
		name string
		page int // index in the chain
		fn   func(p []byte, chain []uint32)
	}{
		{"link past the file", 5, func(p []byte, _ []uint32) { binary.BigEndian.PutUint32(p[4:], 1<<30) }},
		{"link to itself", 5, func(p []byte, c []uint32) { binary.BigEndian.PutUint32(p[4:], c[5]) }},
		{"link back to the start", 19, func(p []byte, c []uint32) { binary.BigEndian.PutUint32(p[4:], c[0]) }},
		{"chain ends early", 10, func(p []byte, _ []uint32) { binary.BigEndian.PutUint32(p[4:], 0) }},
		{"short page inside", 3, func(p []byte, _ []uint32) { binary.BigEndian.PutUint16(p[2:], 100) }},
		{"last page too long", 19, func(p []byte, _ []uint32) { binary.BigEndian.PutUint16(p[2:], uint16(per)) }},
		{"not an overflow page", 7, func(p []byte, _ []uint32) { p[0] = typeLeaf }},
		{"used zero", 0, func(p []byte, _ []uint32) { binary.BigEndian.PutUint16(p[2:], 0) }},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			f := damagedChain(t, val, d.page, d.fn)
			for _, wrap := range bothReaders {
				rtx, _ := f.reader(wrap)
				got, err := rtx.value(mustCell(t, rtx, f.root, "v"))
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("got %d bytes, err %v; want a CorruptError", len(got), err)
				}
			}
		})
	}
}
