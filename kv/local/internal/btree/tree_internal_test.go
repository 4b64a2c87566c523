package btree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// seed returns the seed for a randomized test: BTREE_SEED replays one.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("BTREE_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("BTREE_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with BTREE_SEED=%d)", s, s)
	return s
}

type model map[uint32]map[string][]byte // root → key → value

func (m model) roots() []uint32 {
	var r []uint32
	for root := range m {
		r = append(r, root)
	}
	slices.Sort(r)
	return r
}

func randKey(r *rand.Rand, ps int) []byte {
	switch r.IntN(10) {
	case 0: // long keys stress splits and separators
		k := make([]byte, 1+r.IntN(MaxKeyLen(ps)))
		for i := range k {
			k[i] = byte('a' + r.IntN(3))
		}
		return k
	case 1:
		return []byte{}
	default:
		return fmt.Appendf(nil, "k%06d", r.IntN(3000))
	}
}

func randVal(r *rand.Rand, ps int) []byte {
	var n int
	switch r.IntN(20) {
	case 0:
		n = ps + r.IntN(4*ps) // overflow chain
	case 1:
		n = maxInlineCell(ps) - 20 + r.IntN(40) // around the inline limit
	default:
		n = r.IntN(200)
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	return v
}

// verify compares every tree with the model in both directions and runs
// the invariant check.
func verify(t *testing.T, tx *Tx, m model) CheckStats {
	t.Helper()
	st, err := tx.Check(m.roots())
	if err != nil {
		t.Fatalf("invariants: %v", err)
	}
	for root, kv := range m {
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c := tx.Cursor(root)
		i := 0
		for c.First(); c.Valid(); c.Next() {
			if i >= len(keys) || string(c.Key()) != keys[i] {
				t.Fatalf("tree %d forward entry %d: got key %q, want %q", root, i, c.Key(), keys[min(i, len(keys)-1)])
			}
			v, err := c.Value()
			if err != nil || !bytes.Equal(v, kv[keys[i]]) {
				t.Fatalf("tree %d key %q: got value of %d bytes (err %v), want %d", root, keys[i], len(v), err, len(kv[keys[i]]))
			}
			i++
		}
		if c.Err() != nil || i != len(keys) {
			t.Fatalf("tree %d forward: got %d entries (err %v), want %d", root, i, c.Err(), len(keys))
		}
		i = len(keys) - 1
		for c.Last(); c.Valid(); c.Prev() {
			if i < 0 || string(c.Key()) != keys[i] {
				t.Fatalf("tree %d reverse: got key %q at %d", root, c.Key(), i)
			}
			i--
		}
		if i != -1 {
			t.Fatalf("tree %d reverse: %d entries not visited", root, i+1)
		}
		// Seeks in a scattered order (every 7th key, wrapping) make a
		// reused cursor path change at every level.
		var scattered [][]byte
		for j := 0; j < len(keys) && j < 200; j++ {
			scattered = append(scattered, []byte(keys[(j*7)%len(keys)]))
		}
		checkSeeks(t, tx, root, scattered)
	}
	return st
}

func TestRandomized(t *testing.T) {
	for _, ps := range []int{4096, 8192} {
		t.Run(fmt.Sprintf("page%d", ps), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed(t), 0))
			p := &memPager{ps: ps, pages: map[uint32][]byte{}}
			cache := NewCache(64*4096, 0)
			m := model{}
			commits := 120
			if testing.Short() {
				commits = 40
			}
			if os.Getenv("KVLOCAL_LONG") == "1" {
				commits = 2000
			}
			var oldTx *Tx
			var oldModel model
			for commit := 0; commit < commits; commit++ {
				w := p.write()
				tx, err := Begin(w, w, cache, ps)
				if err != nil {
					t.Fatal(err)
				}
				if commit == 0 {
					m[tx.Catalog()] = map[string][]byte{}
				}
				ops := 1 + r.IntN(60)
				rollback := r.IntN(10) == 0
				next := clone(m)
				for op := 0; op < ops; op++ {
					roots := next.roots()
					root := roots[r.IntN(len(roots))]
					switch x := r.IntN(100); {
					case x < 2 && len(roots) < 5:
						nr, err := tx.Create()
						if err != nil {
							t.Fatal(err)
						}
						next[nr] = map[string][]byte{}
					case x < 3 && root != tx.Catalog():
						if err := tx.Drop(root); err != nil {
							t.Fatal(err)
						}
						delete(next, root)
					case x < 65:
						k, v := randKey(r, ps), randVal(r, ps)
						if err := tx.Put(root, k, v); err != nil {
							t.Fatal(err)
						}
						next[root][string(k)] = v
					default:
						var k []byte
						if len(next[root]) > 0 && r.IntN(4) > 0 {
							for kk := range next[root] {
								k = []byte(kk)
								break
							}
						} else {
							k = randKey(r, ps)
						}
						_, had := next[root][string(k)]
						ok, err := tx.Delete(root, k)
						if err != nil || ok != had {
							t.Fatalf("delete %q: got %v, %v; want %v", k, ok, err, had)
						}
						delete(next[root], string(k))
					}
				}
				if rollback {
					continue // the writer's pages are dropped; nothing published
				}
				count, err := tx.Commit()
				if err != nil {
					t.Fatal(err)
				}
				w.commit(count)
				tx.Publish()
				m = next
				// Readers use the cache: they know their commit's meta.
				rtx := BeginAt(p.read(), cache, ps, tx.Meta())
				st := verify(t, rtx, m)
				if st.LowFilled != 0 {
					t.Fatalf("commit %d: %d non-root leaves under a quarter page (min fill %d)", commit, st.LowFilled, st.MinFill)
				}
				if commit%50 == 49 {
					t.Logf("commit %d: %d pages, %d keys, %d free, depths %v, min fill %d, low-filled %d",
						commit, st.Pages, st.Keys, st.Free, st.Depth, st.MinFill, st.LowFilled)
				}
				// An old snapshot must still read what it read before.
				if oldTx != nil {
					verify(t, oldTx, oldModel)
				}
				if r.IntN(20) == 0 {
					oldTx, oldModel = rtx, m
				}
			}
		})
	}
}

func clone(m model) model {
	c := model{}
	for root, kv := range m {
		c[root] = map[string][]byte{}
		for k, v := range kv {
			c[root][k] = v
		}
	}
	return c
}

// TestDeepTree grows one tree to several levels, then deletes most of it in
// random order, so branch splits, merges and redistribution all run; after
// every commit the invariants hold and, with short keys, no non-root node
// is under a quarter page.
func TestDeepTree(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	const ps = 4096
	p := &memPager{ps: ps, pages: map[uint32][]byte{}}
	cache := NewCache(256*4096, 0)
	m := model{}
	n := 30000
	if testing.Short() {
		n = 8000
	}
	perm := r.Perm(n)
	keyOf := func(i int) []byte {
		// Variable-length keys with shared prefixes exercise separators.
		return fmt.Appendf(nil, "user/%d/%0*d", i%7, 1+i%13, i)
	}
	step := func(fn func(tx *Tx, kv map[string][]byte)) {
		w := p.write()
		tx, err := Begin(w, w, cache, ps)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			m[tx.Catalog()] = map[string][]byte{}
		}
		fn(tx, m[tx.Catalog()])
		count, err := tx.Commit()
		if err != nil {
			t.Fatal(err)
		}
		w.commit(count)
		tx.Publish()
		rtx := BeginAt(p.read(), cache, ps, tx.Meta())
		st := verify(t, rtx, m)
		if st.LowFilled != 0 || st.LowBranches != 0 {
			t.Fatalf("%d leaves and %d branches under a quarter page (min fill %d)", st.LowFilled, st.LowBranches, st.MinFill)
		}
		t.Logf("%d keys, %d pages (%d free), depth %v, min fill %d", st.Keys, st.Pages, st.Free, st.Depth, st.MinFill)
	}
	for lo := 0; lo < n; lo += n / 4 {
		step(func(tx *Tx, kv map[string][]byte) {
			for _, i := range perm[lo : lo+n/4] {
				k, v := keyOf(i), fmt.Appendf(nil, "v%d", i*i)
				if err := tx.Put(tx.Catalog(), k, v); err != nil {
					t.Fatal(err)
				}
				kv[string(k)] = v
			}
		})
	}
	perm = r.Perm(n)
	for lo := 0; lo < n*9/10; lo += n / 5 {
		step(func(tx *Tx, kv map[string][]byte) {
			for _, i := range perm[lo:min(lo+n/5, n*9/10)] {
				if ok, err := tx.Delete(tx.Catalog(), keyOf(i)); err != nil || !ok {
					t.Fatalf("delete %d: %v %v", i, ok, err)
				}
				delete(kv, string(keyOf(i)))
			}
		})
	}
}
