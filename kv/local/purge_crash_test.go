package local_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// purgeModel is what a sequence of Apply calls leaves readable: name
// ("id/key") → the live cell. Every mutation in the crash test is newer
// than all before it, so the model is the calls applied in order.
type purgeModel map[string]purgeCell

type purgeCell struct {
	n      int   // value size; the value is crashValue(key, n)
	expiry int64 // unix ns; 0 = never
}

// purgeOp is one Apply call of one mutation, with the store's clock when
// it was made (TTLs count from it).
type purgeOp struct {
	id  string
	m   kv.Mutation
	now int64
}

func (m purgeModel) apply(op purgeOp) {
	mu := op.m
	prefix := op.id + "/"
	switch mu.Op {
	case kv.OpPut:
		c := purgeCell{n: len(mu.Value)}
		if mu.TTL > 0 {
			c.expiry = op.now + int64(mu.TTL)
		}
		m[prefix+string(mu.Key)] = c
	case kv.OpDelete:
		delete(m, prefix+string(mu.Key))
	case kv.OpDeleteRange, kv.OpDeleteRecord:
		for name := range m {
			if len(name) < len(prefix) || name[:len(prefix)] != prefix {
				continue
			}
			k := name[len(prefix):]
			if mu.Op == kv.OpDeleteRecord || (mu.Key == nil || k >= string(mu.Key)) && (mu.End == nil || k < string(mu.End)) {
				delete(m, name)
			}
		}
	}
}

// visible returns the size a reader at now must see for name, or -1.
func (m purgeModel) visible(name string, now int64) int {
	c, ok := m[name]
	if !ok || c.expiry != 0 && c.expiry <= now {
		return -1
	}
	return c.n
}

var purgeIDs = []string{"r0", "r1", "r2", "r3"}

// randomPurgeOp draws a put (some large, some with the TTL ttl), an item
// delete, a range delete or a record delete.
func randomPurgeOp(r *rand.Rand, ts int64, ttl time.Duration) (string, kv.Mutation) {
	id := purgeIDs[r.IntN(len(purgeIDs))]
	key := func() string { return fmt.Sprintf("k%02d", r.IntN(40)) }
	switch x := r.IntN(20); {
	case x < 12:
		k := key()
		n := 4 + r.IntN(200)
		if r.IntN(8) == 0 {
			n = 5000 + r.IntN(25000) // an overflow chain
		}
		m := kv.Mutation{Op: kv.OpPut, Key: []byte(k), Value: crashValue(k, n), Timestamp: ts}
		if r.IntN(6) == 0 {
			m.TTL = ttl
		}
		return id, m
	case x < 16:
		return id, kv.Mutation{Op: kv.OpDelete, Key: []byte(key()), Timestamp: ts}
	case x < 19:
		a, b := key(), key()
		if a > b {
			a, b = b, a
		}
		m := kv.Mutation{Op: kv.OpDeleteRange, Key: []byte(a), End: []byte(b), Timestamp: ts}
		if r.IntN(4) == 0 {
			m.Key = nil
		}
		return id, m
	default:
		return id, kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: ts}
	}
}

// TestPowerLossDuringPurge cuts the power (CrashFS) at a random file
// operation while sweeps purge tombstones whose grace has passed,
// interleaved with more writes and deletes. After reopening, the tree
// passes Verify, every acknowledged write that no acknowledged delete
// removed is present and intact, and no deleted item is visible again —
// neither on the image as it is nor after a SweepNow finishes the purge.
func TestPowerLossDuringPurge(t *testing.T) {
	trials := 40
	if longMode() {
		trials = 1000
	}
	seed := testSeed(t, "KVLOCAL_PURGE_SEED")
	ctx := context.Background()
	crashed, inSweeps := 0, 0
	defer func() {
		t.Logf("%d of %d trials crashed mid-run, %d of them in a purging SweepNow", crashed, trials, inSweeps)
		if crashed > 10 && inSweeps == 0 {
			t.Errorf("no crash landed in a sweep: the test no longer tests purging")
		}
	}()
	for trial := range trials {
		r := rand.New(rand.NewPCG(seed, uint64(trial)))
		fs := vfstest.NewCrashFS()
		clk := &fakeClock{}
		clk.ns.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		opts := &local.Options{FS: fs, AutoCheckpoint: 8 + r.IntN(40), CacheSize: 64 << 12, SweepInterval: -1, Now: clk.now, TombstoneGrace: time.Hour}
		s, err := local.Open("db", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateNamespace(ctx, "ns"); err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex // guards ops, nAcked, image, atCrash, ackedAtCrash
			ops    []purgeOp  // every Apply attempted, in order
			nAcked int        // ops[:nAcked] returned nil
			image  *vfs.Mem
			// Ops attempted and acknowledged when the power went.
			atCrash, ackedAtCrash int
			sweeping, inSweep     bool // a SweepNow is running; it was at the crash
		)
		var seq int64
		step := func() {
			seq++
			id, m := randomPurgeOp(r, clk.now().UnixMicro()+seq, time.Minute)
			mu.Lock()
			ops = append(ops, purgeOp{id: id, m: m, now: clk.now().UnixNano()})
			mu.Unlock()
			if err := s.Apply(ctx, "ns", id, []kv.Mutation{m}); err != nil {
				t.Fatalf("trial %d: Apply: %v", trial, err)
			}
			mu.Lock()
			nAcked++
			mu.Unlock()
		}
		sweep := func() {
			mu.Lock()
			sweeping = true
			mu.Unlock()
			if err := s.SweepNow(ctx); err != nil {
				t.Fatalf("trial %d: SweepNow: %v", trial, err)
			}
			mu.Lock()
			sweeping = false
			mu.Unlock()
		}
		// Before the power may go: data, deletes, expiries, all past
		// their grace when the crash window opens.
		for range 80 {
			step()
		}
		clk.advance(2 * time.Hour)
		// Three crashes in four land in a SweepNow (at its target-th file
		// operation), the others anywhere in the window.
		crashAt := fs.Ops() + 1 + r.IntN(150)
		inSweepTarget, sweepOps := 0, 0
		if r.IntN(4) != 0 {
			// The window's sweeps make 8 to 30 file operations in all
			// (a purge commit is a WAL write and an fsync, plus the
			// checkpoints that fall into it).
			inSweepTarget = 1 + r.IntN(10)
		}
		fs.OnOp(func(op int) {
			mu.Lock()
			defer mu.Unlock()
			if sweeping {
				sweepOps++
			}
			if image != nil || inSweepTarget == 0 && op != crashAt || inSweepTarget != 0 && (!sweeping || sweepOps != inSweepTarget) {
				return
			}
			image = fs.Crash(seed^uint64(trial), 512)
			atCrash, ackedAtCrash, inSweep = len(ops), nAcked, sweeping
		})
		// The crash window: a purge of everything due, then rounds of
		// more writes and deletes, each followed by the grace passing and
		// another purge.
		sweep()
		for range 3 {
			for range 15 {
				step()
			}
			sweep()
			clk.advance(2 * time.Hour)
			sweep()
		}
		s.Close()
		mu.Lock()
		img, done, acked := image, atCrash, ackedAtCrash
		if inSweep {
			inSweeps++
		}
		mu.Unlock()
		if img == nil {
			continue // the run ended before the crash point
		}
		crashed++
		// At most one Apply was in flight: the image may show it or not.
		before, after := purgeModel{}, purgeModel{}
		for i, op := range ops[:done] {
			if i < acked {
				before.apply(op)
			}
			after.apply(op)
		}
		what := fmt.Sprintf("trial %d (crash at op %d, %d of %d applies acknowledged)", trial, crashAt, acked, len(ops))
		s2, err := local.Open("db", &local.Options{FS: img, SweepInterval: -1, Now: clk.now, TombstoneGrace: time.Hour})
		if err != nil {
			t.Fatalf("%s: reopen: %v", what, err)
		}
		checkPurgeImage(t, s2, what, clk.now().UnixNano(), before, after)
		if err := s2.SweepNow(ctx); err != nil {
			t.Fatalf("%s: SweepNow after reopen: %v", what, err)
		}
		checkPurgeImage(t, s2, what+", swept after reopen", clk.now().UnixNano(), before, after)
		s2.Close()
	}
}

// checkPurgeImage verifies a store against the models of before and after
// the one Apply that may have been in flight: Verify passes, and every
// name reads as one of them says (its value intact), all from the same
// model, since that Apply is atomic. It returns the model that matched.
func checkPurgeImage(t *testing.T, s *local.Store, what string, now int64, before, after purgeModel) purgeModel {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("%s: Verify: %v", what, err)
	}
	got, err := readIntact(s, purgeIDs, 7)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	names := map[string]bool{}
	for _, m := range []map[string]purgeCell{before, after} {
		for name := range m {
			names[name] = true
		}
	}
	for name := range got {
		names[name] = true
	}
	matches := func(m purgeModel) (bad []string) {
		for name := range names {
			n, ok := got[name]
			if !ok {
				n = -1
			}
			if want := m.visible(name, now); n != want {
				bad = append(bad, fmt.Sprintf("%s: got size %d, want %d (-1: absent)", name, n, want))
			}
		}
		sort.Strings(bad)
		return bad
	}
	badBefore := matches(before)
	if len(badBefore) == 0 {
		return before
	}
	if badAfter := matches(after); len(badAfter) != 0 {
		t.Fatalf("%s: the store matches neither the acknowledged state (%d differences, e.g. %v) nor the one with the in-flight Apply (%d, e.g. %v)",
			what, len(badBefore), badBefore[0], len(badAfter), badAfter[0])
	}
	return after
}

func (m purgeModel) clone() purgeModel {
	c := make(purgeModel, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
