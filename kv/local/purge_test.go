package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
)

// Tests of tombstone purging (Options.TombstoneGrace). They drive the
// store's clock by hand and use write timestamps taken from the same clock
// (microseconds, as kv.Mutation specifies), so that range tombstones, whose
// grace runs from their timestamp, age with the clock too.

// purgeEnv is a store on a memory file system with a hand-driven clock.
type purgeEnv struct {
	t   *testing.T
	ctx context.Context
	clk *fakeClock
	s   *local.Store
	seq int64 // added to the clock's microseconds so that timestamps increase
}

func newPurgeEnv(t *testing.T, fs vfs.FS, grace time.Duration) *purgeEnv {
	t.Helper()
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	e := &purgeEnv{t: t, ctx: context.Background(), clk: clk}
	e.s = openMem(t, fs, &local.Options{Now: clk.now, SweepInterval: -1, TombstoneGrace: grace})
	if err := e.s.CreateNamespace(e.ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	return e
}

// ts returns a fresh write timestamp: the clock in microseconds, made
// strictly increasing.
func (e *purgeEnv) ts() int64 {
	e.seq++
	return e.clk.now().UnixMicro() + e.seq
}

func (e *purgeEnv) apply(id string, muts ...kv.Mutation) {
	e.t.Helper()
	if err := e.s.Apply(e.ctx, "ns", id, muts); err != nil {
		e.t.Fatalf("Apply %s: %v", id, err)
	}
}

// fill writes n items key0000.. of 100 bytes to id, with ttl if non-zero.
func (e *purgeEnv) fill(id string, n int, ttl time.Duration) {
	e.t.Helper()
	ts := e.ts()
	var muts []kv.Mutation
	for i := range n {
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "key%04d", i), Value: []byte(strings.Repeat("v", 100)), TTL: ttl, Timestamp: ts})
	}
	e.apply(id, muts...)
}

func (e *purgeEnv) count(id string) int {
	e.t.Helper()
	res, err := e.s.Read(e.ctx, "ns", id, kv.Query{Limit: 100000})
	if err != nil {
		e.t.Fatalf("Read %s: %v", id, err)
	}
	return len(res.Items)
}

func (e *purgeEnv) sweep() {
	e.t.Helper()
	if err := e.s.SweepNow(e.ctx); err != nil {
		e.t.Fatalf("SweepNow: %v", err)
	}
}

func (e *purgeEnv) stats() local.Stats {
	e.t.Helper()
	st, err := e.s.Stats()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// purgeSetup writes four records and deletes in each a different way:
// "rec" by a record delete, "rng" by a range delete of 100 of its 300
// items, "itm" by 20 item deletes of its 50, and "ttl" by letting 50 of
// its 60 items expire. It returns a timestamp older than every write, which
// a late write uses to be older than every tombstone.
func purgeSetup(e *purgeEnv) (old int64) {
	old = e.ts()
	e.fill("rec", 300, 0)
	e.fill("rng", 300, 0)
	e.fill("itm", 50, 0)
	e.fill("ttl", 50, time.Minute)
	e.apply("ttl", kv.Mutation{Op: kv.OpPut, Key: []byte("stay"), Value: []byte("x"), Timestamp: e.ts()})
	e.apply("rec", kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: e.ts()})
	e.apply("rng", kv.Mutation{Op: kv.OpDeleteRange, Key: []byte("key0100"), End: []byte("key0200"), Timestamp: e.ts()})
	ts := e.ts()
	var dels []kv.Mutation
	for i := range 20 {
		dels = append(dels, kv.Mutation{Op: kv.OpDelete, Key: fmt.Appendf(nil, "key%04d", i*2), Timestamp: ts})
	}
	e.apply("itm", dels...)
	return old
}

// lateWrites writes one item older than every tombstone into each record,
// at a key each delete covered, and reports which of them are visible.
func lateWrites(e *purgeEnv, old int64) map[string]bool {
	e.t.Helper()
	late := func(key string) kv.Mutation {
		return kv.Mutation{Op: kv.OpPut, Key: []byte(key), Value: []byte("late"), Timestamp: old}
	}
	e.apply("rec", late("key0007"))
	e.apply("rng", late("key0150"))
	e.apply("itm", late("key0002"))
	e.apply("ttl", late("key0003"))
	seen := map[string]bool{}
	for id, key := range map[string]string{"rec": "key0007", "rng": "key0150", "itm": "key0002", "ttl": "key0003"} {
		res, err := e.s.Read(e.ctx, "ns", id, kv.Query{Keys: [][]byte{[]byte(key)}})
		if err != nil {
			e.t.Fatal(err)
		}
		seen[id] = len(res.Items) == 1 && string(res.Items[0].Value) == "late"
	}
	return seen
}

// TestTombstonePurge walks tombstones through their life: within the grace
// they hide late older writes and take up entries; after it the sweeper
// purges them with everything they hide, frees their pages, and a late
// older write is visible again (the documented cost, as in Cassandra).
func TestTombstonePurge(t *testing.T) {
	const grace = time.Hour
	e := newPurgeEnv(t, vfs.NewMem(), grace)
	old := purgeSetup(e)
	full := mustVerify(t, e.s)

	// Within the grace (expiry was a minute ago, the deletes are fresh).
	e.clk.advance(2 * time.Minute)
	e.sweep()
	within := mustVerify(t, e.s)
	// 1 catalog entry; rec: its record tombstone; rng: 200 items and the
	// range tombstone; itm: 30 items, 20 item tombstones; ttl: 1 item and
	// 50 expired items turned into tombstones.
	if want := 1 + 1 + 201 + 50 + 51; within.Entries != want {
		t.Fatalf("entries within the grace: got %d, want %d (from %d)", within.Entries, want, full.Entries)
	}
	if st := e.stats(); st.Purged != 0 {
		t.Fatalf("purged %d tombstones within the grace, want 0", st.Purged)
	}
	for id, want := range map[string]int{"rec": 0, "rng": 200, "itm": 30, "ttl": 1} {
		if got := e.count(id); got != want {
			t.Fatalf("%s reads %d items, want %d", id, got, want)
		}
	}
	for id, visible := range lateWrites(e, old) {
		if visible {
			t.Errorf("within the grace: a late write older than %s's tombstone is visible", id)
		}
	}
	// The late writes were dropped on arrival: nothing changed.
	if st := mustVerify(t, e.s); st.Entries != within.Entries {
		t.Fatalf("entries after dropped late writes: got %d, want %d", st.Entries, within.Entries)
	}

	// Each tombstone goes when its own grace ends: the deletes' grace runs
	// from when they were written, the expired items' from their expiry a
	// minute later.
	for _, c := range []struct {
		name       string
		advance    time.Duration
		wantPurged uint64
	}{
		{"a second before the deletes' grace ends", grace - 2*time.Minute - time.Second, 0},
		{"a second after it", 2 * time.Second, 1 + 1 + 20},
		{"a second before the expired items' grace ends", time.Minute - 2*time.Second, 1 + 1 + 20},
		{"a second after it", 2 * time.Second, 1 + 1 + 20 + 50},
	} {
		e.clk.advance(c.advance)
		e.sweep()
		if st := e.stats(); st.Purged != c.wantPurged {
			t.Fatalf("%s: purged %d tombstones, want %d", c.name, st.Purged, c.wantPurged)
		}
	}
	after := mustVerify(t, e.s)
	if want := 1 + 200 + 30 + 1; after.Entries != want {
		t.Fatalf("entries after the grace: got %d, want %d (the live items)", after.Entries, want)
	}
	if after.FreePages <= within.FreePages {
		t.Fatalf("free pages %d after the purge, %d before: want more", after.FreePages, within.FreePages)
	}
	for id, want := range map[string]int{"rec": 0, "rng": 200, "itm": 30, "ttl": 1} {
		if got := e.count(id); got != want {
			t.Fatalf("after the purge %s reads %d items, want %d", id, got, want)
		}
	}
	// Resurrection of a write older than a purged tombstone.
	for id, visible := range lateWrites(e, old) {
		if !visible {
			t.Errorf("after the purge: the late write to %s is hidden; want it visible (nothing left to hide it)", id)
		}
	}
	// Newer writes and deletes work as before on the purged records.
	e.apply("rec", kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: e.ts()})
	if got := e.count("rec"); got != 0 {
		t.Fatalf("rec after a new record delete reads %d items", got)
	}
}

// TestTombstoneGraceNever: a negative grace keeps every tombstone.
func TestTombstoneGraceNever(t *testing.T) {
	e := newPurgeEnv(t, vfs.NewMem(), -1)
	old := purgeSetup(e)
	e.clk.advance(2 * time.Minute)
	e.sweep()
	within := mustVerify(t, e.s)
	e.clk.advance(100 * 365 * 24 * time.Hour)
	e.sweep()
	if st := mustVerify(t, e.s); st.Entries != within.Entries {
		t.Fatalf("entries after a century with grace < 0: got %d, want %d", st.Entries, within.Entries)
	}
	if st := e.stats(); st.Purged != 0 {
		t.Fatalf("purged %d with grace < 0", st.Purged)
	}
	for id, visible := range lateWrites(e, old) {
		if visible {
			t.Errorf("grace < 0: a late write older than %s's tombstone is visible", id)
		}
	}
}

// TestTombstoneGraceDefault: the zero Options keep a tombstone for
// DefaultTombstoneGrace (ten days), measured from when it was written, not
// from its timestamp: a delete that carries an old timestamp still gets
// its full grace. Range tombstones have no room for a deletion time in the
// frozen format; their grace runs from their timestamp, so an old one goes
// at the first sweep.
func TestTombstoneGraceDefault(t *testing.T) {
	e := newPurgeEnv(t, vfs.NewMem(), 0)
	e.fill("a", 10, 0)
	// Timestamps from a year ago: by their timestamp, long past the grace.
	ts := e.clk.now().Add(-365*24*time.Hour).UnixMicro() + 1
	e.apply("a", kv.Mutation{Op: kv.OpPut, Key: []byte("x"), Value: []byte("x"), Timestamp: ts})
	e.apply("a", kv.Mutation{Op: kv.OpDelete, Key: []byte("x"), Timestamp: ts + 1})
	e.apply("b", kv.Mutation{Op: kv.OpPut, Key: []byte("y"), Value: []byte("y"), Timestamp: ts})
	e.apply("b", kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: ts + 1})
	e.apply("c", kv.Mutation{Op: kv.OpPut, Key: []byte("z"), Value: []byte("z"), Timestamp: ts})
	e.apply("c", kv.Mutation{Op: kv.OpDeleteRange, Timestamp: ts + 1})
	for _, c := range []struct {
		advance    time.Duration
		wantPurged uint64
	}{
		{0, 1},
		{local.DefaultTombstoneGrace - time.Minute, 1},
		{2 * time.Minute, 3},
	} {
		e.clk.advance(c.advance)
		e.sweep()
		// The year-old range tombstone is purged at once, maybe by the
		// queued pass its delete started, in the same group commit as
		// SweepNow's step: that pass counts its purge before the commit
		// wakes SweepNow, so the count is there when SweepNow returns.
		if st := e.stats(); st.Purged != c.wantPurged {
			t.Fatalf("%v after the deletes: purged %d, want %d", c.advance, st.Purged, c.wantPurged)
		}
	}
}

// TestPurgeSteadyState runs rounds of writes and deletes of keys never
// written again: with the grace passing every round the file stops
// growing; with tombstones kept forever it keeps growing, which shows the
// measurement can fail.
func TestPurgeSteadyState(t *testing.T) {
	const rounds = 24
	run := func(t *testing.T, grace time.Duration) []uint32 {
		e := newPurgeEnv(t, vfs.NewMem(), grace)
		var pages []uint32
		for round := range rounds {
			ts := e.ts()
			for rec := range 8 {
				id := fmt.Sprintf("r%d", rec)
				var muts []kv.Mutation
				for i := range 60 {
					m := kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "%03d-%03d", round, i), Value: []byte(strings.Repeat("p", 150)), Timestamp: ts}
					if rec == 7 {
						m.TTL = time.Minute
					}
					muts = append(muts, m)
				}
				if rec == 6 {
					muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "big-%03d", round), Value: []byte(strings.Repeat("B", 20000)), Timestamp: ts})
				}
				e.apply(id, muts...)
			}
			del := e.ts()
			for rec := range 8 {
				id := fmt.Sprintf("r%d", rec)
				switch rec % 4 {
				case 0:
					e.apply(id, kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: del})
				case 1:
					e.apply(id, kv.Mutation{Op: kv.OpDeleteRange, Key: fmt.Appendf(nil, "%03d-", round), End: fmt.Appendf(nil, "%03d-~", round), Timestamp: del})
				case 2:
					var muts []kv.Mutation
					for i := range 60 {
						muts = append(muts, kv.Mutation{Op: kv.OpDelete, Key: fmt.Appendf(nil, "%03d-%03d", round, i), Timestamp: del})
					}
					if rec == 6 {
						muts = append(muts, kv.Mutation{Op: kv.OpDelete, Key: fmt.Appendf(nil, "big-%03d", round), Timestamp: del})
					}
					e.apply(id, muts...)
				case 3:
					// r3 deletes by range from the start; r7's items expire.
					if rec == 3 {
						e.apply(id, kv.Mutation{Op: kv.OpDeleteRange, End: fmt.Appendf(nil, "%03d-~", round), Timestamp: del})
					}
				}
			}
			e.clk.advance(2 * time.Hour)
			e.sweep()
			st := mustVerify(t, e.s)
			if grace > 0 && st.Entries != 1 {
				t.Fatalf("round %d: %d entries after the purge, want 1 (the catalog's)", round, st.Entries)
			}
			pages = append(pages, st.Pages)
		}
		t.Logf("file size in pages per round: %v", pages)
		return pages
	}
	var purged []uint32
	t.Run("purge", func(t *testing.T) {
		purged = run(t, time.Hour)
		// The first rounds set the size; after that the free list serves
		// every round and the file never grows.
		limit := purged[2]
		for round, p := range purged[3:] {
			if p > limit {
				t.Fatalf("round %d: file grew to %d pages, above %d after round 2", round+3, p, limit)
			}
		}
	})
	t.Run("keep", func(t *testing.T) {
		kept := run(t, -1)
		if purged != nil && kept[rounds-1] <= purged[rounds-1] {
			t.Fatalf("with tombstones kept the file has %d pages, with purging %d: want it larger", kept[rounds-1], purged[rounds-1])
		}
		if kept[rounds-1] <= kept[rounds/2] {
			t.Fatalf("with tombstones kept the file stopped growing (%d pages at round %d, %d at the end)", kept[rounds/2], rounds/2, kept[rounds-1])
		}
	})
}

// TestPurgeAfterRestart: the queue of records to sweep is in memory only,
// so after a restart it is the timed pass that purges what the grace let
// go, with no SweepNow.
func TestPurgeAfterRestart(t *testing.T) {
	fs := vfs.NewMem()
	e := newPurgeEnv(t, fs, time.Hour)
	purgeSetup(e)
	e.clk.advance(2 * time.Minute)
	e.sweep() // hidden items gone; the tombstones stay
	within := mustVerify(t, e.s)
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	e.clk.advance(2 * time.Hour)
	s := openMem(t, fs, &local.Options{Now: e.clk.now, SweepInterval: time.Millisecond, TombstoneGrace: time.Hour})
	want := 1 + 200 + 30 + 1 // the catalog entry and the live items
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := mustVerify(t, s)
		if st.Entries == want {
			ss, _ := s.Stats()
			t.Logf("timed pass after reopen: entries %d -> %d, %d tombstones purged", within.Entries, st.Entries, ss.Purged)
			if ss.Purged != 72 {
				t.Fatalf("purged %d, want 72", ss.Purged)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries still %d (want %d) 20s after reopening past the grace", st.Entries, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPurgeQueuedPass: a record queued by a new range delete is swept
// soon after, and that sweep purges the record's tombstones whose grace has
// passed, while the new one stays.
func TestPurgeQueuedPass(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s := openMem(t, vfs.NewMem(), &local.Options{Now: clk.now, SweepInterval: -1, TombstoneGrace: time.Hour})
	ctx := context.Background()
	s.CreateNamespace(ctx, "ns")
	ts := clk.now().UnixMicro()
	apply := func(muts ...kv.Mutation) {
		t.Helper()
		if err := s.Apply(ctx, "ns", "r", muts); err != nil {
			t.Fatal(err)
		}
	}
	apply(put("a1", "x", ts), put("a2", "x", ts), put("b1", "x", ts), put("c1", "x", ts))
	apply(kv.Mutation{Op: kv.OpDeleteRange, Key: []byte("a"), End: []byte("b"), Timestamp: ts + 1})
	apply(kv.Mutation{Op: kv.OpDelete, Key: []byte("c1"), Timestamp: ts + 1})
	clk.advance(2 * time.Hour)
	apply(kv.Mutation{Op: kv.OpDeleteRange, Key: []byte("b"), End: []byte("c"), Timestamp: clk.now().UnixMicro()})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := mustVerify(t, s)
		// Left: the catalog entry and the new range tombstone.
		if st.Entries == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries %d 10s after the queued sweep, want 2", st.Entries)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ss, _ := s.Stats(); ss.Purged != 2 {
		t.Fatalf("purged %d, want 2 (the old range tombstone and the item tombstone)", ss.Purged)
	}
	// The new tombstone still hides an older late write; the purged one
	// no longer does.
	apply(put("b2", "late", ts), put("a3", "late", ts))
	res, err := s.Read(ctx, "ns", "r", kv.Query{})
	if err != nil || keysOf(res.Items) != "a3=late" {
		t.Fatalf("got %q (%v), want a3=late", keysOf(res.Items), err)
	}
}
