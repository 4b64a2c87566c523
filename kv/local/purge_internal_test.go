package local

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// TestWalkPurgeSafety drives sweep walks step by step over a record larger
// than one sweep commit. A record or range tombstone may be purged only by
// a walk that entered the record at its start and saw the tombstone
// unchanged in every step since: otherwise items it hides may remain
// behind the walk and would come back when it goes. Range tombstones here
// have a timestamp of 1 µs, so by their deletion time they are long past
// the default grace; the clock jumps past the grace of the record
// tombstone before the walk.
func TestWalkPurgeSafety(t *testing.T) {
	const items = 2500 // 2.5 sweep batches
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// before runs before the walk, mid after its first step; from is
		// where the walk starts.
		before, mid []kv.Mutation
		from        []byte
		// recreate drops the namespace after the first step and writes
		// the items again into a new one of the same name.
		recreate bool
		// entries left after the walk (catalog included): the items the
		// walk passed before the tombstone appeared, and the tombstone.
		want int
	}{
		{
			name: "tombstone written mid-walk",
			mid:  []kv.Mutation{{Op: kv.OpDeleteRange, Timestamp: 1}},
			want: 1 + 1 + sweepBatch,
		},
		{
			name:   "tombstone widened mid-walk",
			before: []kv.Mutation{{Op: kv.OpDeleteRange, Key: []byte("key0000"), End: []byte("key0001"), Timestamp: 1}},
			// Same start and timestamp: the same entry, with a new end.
			mid: []kv.Mutation{{Op: kv.OpDeleteRange, Key: []byte("key0000"), Timestamp: 1}},
			// The first step examined the old tombstone and 999 items,
			// deleting the one it hid.
			want: 1 + 1 + sweepBatch - 2,
		},
		{
			name:     "namespace dropped and created again mid-walk",
			before:   []kv.Mutation{{Op: kv.OpDeleteRange, Timestamp: 1}},
			recreate: true,
			// The same tombstone again, in the new namespace.
			mid:  []kv.Mutation{{Op: kv.OpDeleteRange, Timestamp: 1}},
			want: 1 + 1 + sweepBatch - 1,
		},
		{
			name:   "walk entering the record mid-way",
			before: []kv.Mutation{{Op: kv.OpDeleteRecord, Timestamp: 1}},
			from:   itemKey("r", []byte("key1000")),
			want:   1 + 1 + 1000,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			s, err := Open("db", &Options{FS: vfs.NewMem(), SweepInterval: -1, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.sweep.stop() // no queued sweeps behind the test's back
			if err := s.CreateNamespace(ctx, "ns"); err != nil {
				t.Fatal(err)
			}
			apply := func(muts []kv.Mutation) {
				t.Helper()
				if len(muts) == 0 {
					return
				}
				if err := s.Apply(ctx, "ns", "r", muts); err != nil {
					t.Fatal(err)
				}
			}
			fill := func() {
				for lo := 0; lo < items; lo += 500 {
					var muts []kv.Mutation
					for i := lo; i < lo+500; i++ {
						muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "key%04d", i), Value: []byte("v"), Timestamp: 1})
					}
					apply(muts)
				}
			}
			fill()
			apply(c.before)
			clock.Add(int64(2 * DefaultTombstoneGrace))
			var walk recordWalk
			from, err := s.sweepStep(ctx, "ns", c.from, nil, &walk)
			if err != nil || from == nil {
				t.Fatalf("first step: next %q, err %v; want a position mid-record", from, err)
			}
			if c.recreate {
				if err := s.DropNamespace(ctx, "ns"); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateNamespace(ctx, "ns"); err != nil {
					t.Fatal(err)
				}
				fill()
			}
			apply(c.mid)
			for from != nil {
				if from, err = s.sweepStep(ctx, "ns", from, nil, &walk); err != nil {
					t.Fatal(err)
				}
			}
			live := func() int {
				res, err := s.Read(ctx, "ns", "r", kv.Query{Limit: items})
				if err != nil {
					t.Fatal(err)
				}
				return len(res.Items)
			}
			if n := live(); n != 0 {
				t.Fatalf("after the walk %d deleted items are visible again", n)
			}
			vs, err := s.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if vs.Entries != c.want {
				t.Fatalf("after the walk: %d entries, want %d (the tombstone kept)", vs.Entries, c.want)
			}
			// A whole walk from the start purges the tombstone with
			// everything it hides.
			if err := s.SweepNow(ctx); err != nil {
				t.Fatal(err)
			}
			if vs, err = s.Verify(ctx); err != nil || vs.Entries != 1 {
				t.Fatalf("after SweepNow: %d entries (%v), want 1", vs.Entries, err)
			}
			if n := live(); n != 0 {
				t.Fatalf("after the purge %d deleted items are visible", n)
			}
		})
	}
}

// TestIntersectTombs: a tombstone counts as unchanged only with the same
// timestamp, deletion time and bounds (nil, unbounded, is not the empty
// key).
func TestIntersectTombs(t *testing.T) {
	r := func(start, end []byte, ts int64) rangeTomb { return rangeTomb{start: start, end: end, ts: ts} }
	a := tombs{record: 5, recordDel: 50, ranges: []rangeTomb{
		r(nil, []byte("m"), 3), r([]byte{}, nil, 3), r([]byte("a"), []byte("b"), 4),
	}}
	for _, c := range []struct {
		name       string
		b          tombs
		wantRecord bool
		wantRanges int
	}{
		{"identical", a, true, 3},
		{"record deletion time differs", tombs{record: 5, recordDel: 51, ranges: a.ranges}, false, 3},
		{"record timestamp differs", tombs{record: 6, recordDel: 50}, false, 0},
		{"empty start is not unbounded", tombs{ranges: []rangeTomb{r([]byte{}, []byte("m"), 3), r(nil, nil, 3)}}, false, 0},
		{"end widened", tombs{ranges: []rangeTomb{r([]byte("a"), []byte("c"), 4)}}, false, 0},
		{"timestamp differs", tombs{ranges: []rangeTomb{r([]byte("a"), []byte("b"), 5)}}, false, 0},
		{"one of three", tombs{ranges: []rangeTomb{r([]byte("a"), []byte("b"), 4)}}, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := intersectTombs(cloneTombs(a), c.b)
			if (got.record != 0) != c.wantRecord || len(got.ranges) != c.wantRanges {
				t.Fatalf("got record %d, %d ranges; want record kept %v, %d ranges", got.record, len(got.ranges), c.wantRecord, c.wantRanges)
			}
		})
	}
}

// TestPurgeFault fails a WAL write at each commit of a purging SweepNow
// over a record larger than one sweep commit: SweepNow reports the error,
// nothing deleted becomes visible, the tree stays sound, and a later
// SweepNow finishes the purge. A failed step must not let a later one
// purge the tombstone while items the failed step was to delete remain.
func TestPurgeFault(t *testing.T) {
	ctx := context.Background()
	// The purging SweepNow makes three commits (2500 items and the
	// tombstone, 1000 entries a commit); the fourth case has no fault.
	for after := range 4 {
		t.Run(fmt.Sprintf("WAL write %d fails", after+1), func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			ffs := vfstest.NewFaultFS(vfs.NewMem())
			s, err := Open("db", &Options{FS: ffs, SweepInterval: -1, TombstoneGrace: time.Hour,
				Now: func() time.Time { return time.Unix(0, clock.Load()) }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.sweep.stop() // the range delete's queued sweep would do the work first
			s.CreateNamespace(ctx, "ns")
			ts := clock.Load() / 1000
			for lo := 0; lo < 2500; lo += 500 {
				var muts []kv.Mutation
				for i := lo; i < lo+500; i++ {
					muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "key%04d", i), Value: []byte("v"), Timestamp: ts})
				}
				if err := s.Apply(ctx, "ns", "r", muts); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpDeleteRange, Timestamp: ts + 1}}); err != nil {
				t.Fatal(err)
			}
			clock.Add(int64(2 * time.Hour))
			count := func() int {
				res, err := s.Read(ctx, "ns", "r", kv.Query{Limit: 5000})
				if err != nil {
					t.Fatal(err)
				}
				return len(res.Items)
			}
			verify := func() VerifyStats {
				vs, err := s.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return vs
			}
			ffs.Inject(vfstest.Rule{Op: vfstest.OpWrite, Suffix: "-wal", After: after, Err: syscall.ENOSPC})
			err = s.SweepNow(ctx)
			t.Logf("SweepNow with the fault: %v", err)
			if fired := ffs.Fired() > 0; fired != (after < 3) || fired != (err != nil) {
				t.Fatalf("fault fired %v, SweepNow error %v; want both exactly when after < 3", fired, err)
			}
			ffs.Clear()
			if n := count(); n != 0 {
				t.Fatalf("after the failed sweep %d deleted items are visible", n)
			}
			verify()
			if err := s.SweepNow(ctx); err != nil {
				t.Fatal(err)
			}
			if vs := verify(); vs.Entries != 1 {
				t.Fatalf("after a clean SweepNow: %d entries, want 1", vs.Entries)
			}
			if n := count(); n != 0 {
				t.Fatalf("after the purge %d deleted items are visible", n)
			}
		})
	}
}
