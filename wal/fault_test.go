package wal_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// faultRun commits the workload through a FaultFS, with a checkpoint of
// each mode every few commits. A commit or checkpoint that fails with an
// ordinary error is retried (the faults here are transient); one that fails
// with ErrFailed ends the run, as the store refuses writes from then on. It
// returns the last commit acknowledged and whether the store was poisoned.
func faultRun(t *testing.T, st *wal.Store, w *workload, readFaults bool) (acked int, poisoned bool) {
	ctx := context.Background()
	for i := 1; i <= len(w.commits); i++ {
		for attempt := 0; ; attempt++ {
			err := w.apply(ctx, st, i)
			if err == nil {
				acked = i
				break
			}
			if errors.Is(err, wal.ErrFailed) {
				if err := w.apply(ctx, st, i); !errors.Is(err, wal.ErrFailed) {
					t.Fatalf("commit after a failed fsync: got %v, want ErrFailed (never retry fsync)", err)
				}
				return acked, true
			}
			if attempt > 3 {
				t.Fatalf("commit %d keeps failing: %v", i, err)
			}
		}
		if i%4 == 0 {
			mode := wal.CheckpointMode(i / 4 % 4)
			if _, err := st.Checkpoint(ctx, mode); err != nil && !errors.Is(err, wal.ErrBusy) {
				// The store must stay usable: the next checkpoint redoes it.
				t.Logf("checkpoint %v after commit %d: %v", mode, i, err)
			}
		}
		if _, err := w.check(st); err != nil && !(readFaults && errors.Is(err, syscall.EIO)) {
			t.Fatalf("after commit %d: %v", i, err)
		}
	}
	return acked, false
}

func TestFaultSweep(t *testing.T) {
	w := newWorkload(21, 512, 10, 24)
	for _, sync := range []wal.SyncMode{wal.SyncFull, wal.SyncGroup, wal.SyncNormal} {
		for _, rule := range []vfstest.Rule{
			{Op: vfstest.OpSync, Suffix: "-wal"},
			{Op: vfstest.OpSync, Suffix: ".db"},
			{Op: vfstest.OpWrite, Suffix: "-wal", Err: syscall.ENOSPC},
			{Op: vfstest.OpWrite, Suffix: "-wal", Short: true},
			{Op: vfstest.OpWrite, Suffix: ".db", Err: syscall.ENOSPC},
			{Op: vfstest.OpWrite, Suffix: ".db", Short: true},
			{Op: vfstest.OpTruncate, Suffix: ""},
			{Op: vfstest.OpRead, Suffix: "-wal"},
		} {
			name := fmt.Sprintf("%v/%v%s/short=%v/%v", sync, rule.Op, rule.Suffix, rule.Short, rule.Err)
			t.Run(name, func(t *testing.T) {
				for n := 0; ; n++ {
					mem := vfs.NewMem()
					ffs := vfstest.NewFaultFS(mem)
					r := rule
					r.After = n
					ffs.Inject(r)
					st, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: ffs, Sync: sync, AutoCheckpoint: -1, KeepWALOnClose: true})
					if err != nil {
						t.Fatal(err)
					}
					acked, poisoned := faultRun(t, st, w, r.Op == vfstest.OpRead)
					st.Close()
					// Reopen without faults: exactly a prefix, with every
					// acknowledged commit (at most the failed one beyond).
					st2 := mustOpen(t, mem, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
					k, err := w.check(st2)
					st2.Close()
					if err != nil {
						t.Fatalf("fault after %d ops: reopen: %v", n, err)
					}
					if k < acked || k > acked+1 || (!poisoned && k != acked) {
						t.Fatalf("fault after %d ops: reopened at commit %d, acknowledged %d (poisoned=%v)", n, k, acked, poisoned)
					}
					if ffs.Fired() == 0 {
						return // the sweep has passed the last operation
					}
				}
			})
		}
	}
}

func TestFailedFsyncIsNeverRetried(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfstest.NewFaultFS(mem)
	st := mustOpen(t, ffs, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
	writeTx(t, st, map[uint32]byte{1: 'a'})
	ffs.Inject(vfstest.Rule{Op: vfstest.OpSync, Suffix: "-wal"})
	ctx := context.Background()
	tx, _ := st.Begin(ctx)
	tx.WritePage(1, fill(512, 'b'))
	if err := tx.Commit(ctx); !errors.Is(err, wal.ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit with failing fsync: got %v, want ErrFailed wrapping EIO", err)
	}
	if _, err := st.Begin(ctx); !errors.Is(err, wal.ErrFailed) {
		t.Errorf("Begin after failed fsync: got %v want ErrFailed", err)
	}
	// Readers keep the last durable state; the failed commit is not shown.
	if got := readByte(t, st, 1); got != 'a' {
		t.Errorf("snapshot after failed fsync sees %q, want 'a'", got)
	}
	st.Close()
}

func TestGroupCommitFsyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfstest.NewFaultFS(mem)
	w := newWorkload(4, 512, 8, 400)
	st := mustOpen(t, ffs, &wal.Options{PageSize: 512, Sync: wal.SyncGroup, AutoCheckpoint: -1, KeepWALOnClose: true})
	ffs.Inject(vfstest.Rule{Op: vfstest.OpSync, Suffix: "-wal", After: 20})
	acked := map[int]bool{}
	w.commitConcurrently(context.Background(), st, 8, func(i int) { acked[i] = true }, func(i int, err error) {
		if !errors.Is(err, wal.ErrFailed) {
			t.Errorf("commit %d: %v", i, err)
		}
	})
	st.Close()
	st = mustOpen(t, mem, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
	defer st.Close()
	k, err := w.check(st)
	if err != nil {
		t.Fatal(err)
	}
	for i := range acked {
		if i > k {
			t.Errorf("commit %d was acknowledged but the store recovered only to %d", i, k)
		}
	}
	if len(acked) == 0 || len(acked) >= len(w.commits) {
		t.Errorf("acknowledged %d commits; the fault should have stopped the run partway", len(acked))
	}
}

func TestCheckpointENOSPCKeepsStoreConsistent(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfstest.NewFaultFS(mem)
	st := mustOpen(t, ffs, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
	defer st.Close()
	w := newWorkload(8, 512, 20, 30)
	ctx := context.Background()
	for i := 1; i <= 30; i++ {
		w.apply(ctx, st, i)
	}
	ffs.Inject(vfstest.Rule{Op: vfstest.OpWrite, Suffix: ".db", Err: syscall.ENOSPC, Persistent: true})
	res, err := st.Checkpoint(ctx, wal.Truncate)
	if !errors.Is(err, syscall.ENOSPC) || res.Checkpointed != 0 {
		t.Fatalf("checkpoint on a full disk: got %+v, %v", res, err)
	}
	if k, err := w.check(st); err != nil || k != 30 {
		t.Fatalf("after failed checkpoint: commit %d, %v", k, err)
	}
	ffs.Clear()
	if res, err := st.Checkpoint(ctx, wal.Truncate); err != nil || res.LogFrames != 0 {
		t.Fatalf("checkpoint after space returned: %+v, %v", res, err)
	}
	if k, err := w.check(st); err != nil || k != 30 {
		t.Fatalf("after checkpoint: commit %d, %v", k, err)
	}
}
