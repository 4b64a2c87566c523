package wal_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// In SyncGroup the leader writes the frames of every queued commit with one
// write. When that write fails, every commit of its batch, and every later
// one, must fail with ErrFailed: the acknowledged commits are exactly a
// prefix, all of them survive a reopen, and the store takes no more
// commits. The slow fsync makes batches of several commits, so the failing
// write carries more than one.
func TestGroupCommitBatchWriteFailure(t *testing.T) {
	for _, rule := range []vfstest.Rule{
		{Op: vfstest.OpWrite, Suffix: "-wal"},
		{Op: vfstest.OpWrite, Suffix: "-wal", Err: syscall.ENOSPC, Short: true},
		{Op: vfstest.OpSync, Suffix: "-wal"},
	} {
		for _, after := range []int{3, 6, 11} {
			rule.After = after
			t.Run(fmt.Sprintf("%v/short=%v/after=%d", rule.Op, rule.Short, after), func(t *testing.T) {
				mem := vfs.NewMem()
				ffs := vfstest.NewFaultFS(slowSyncFS{mem, 2 * time.Millisecond})
				w := newWorkload(7, 512, 8, 200)
				st := mustOpen(t, ffs, &wal.Options{PageSize: 512, Sync: wal.SyncGroup, AutoCheckpoint: -1, KeepWALOnClose: true})
				ffs.Inject(rule)
				var acked, failed []int
				w.commitConcurrently(context.Background(), st, 8,
					func(i int) { acked = append(acked, i) },
					func(i int, err error) {
						failed = append(failed, i)
						if !errors.Is(err, wal.ErrFailed) {
							t.Errorf("commit %d: got %v, want ErrFailed", i, err)
						}
					})
				slices.Sort(acked)
				slices.Sort(failed)
				t.Logf("acknowledged %d, failed %v, %d fsyncs", len(acked), failed, st.Stats().WALSyncs)
				if len(failed) < 2 {
					t.Errorf("%d commits failed; the failing write or fsync should carry a batch of several", len(failed))
				}
				for j, i := range acked {
					if i != j+1 {
						t.Fatalf("acknowledged commits %v are not a prefix", acked)
					}
				}
				if len(failed) > 0 && failed[0] != len(acked)+1 {
					t.Errorf("first failed commit %d, want %d (right after the acknowledged prefix)", failed[0], len(acked)+1)
				}
				if _, err := st.Begin(context.Background()); !errors.Is(err, wal.ErrFailed) {
					t.Errorf("Begin after the failure: got %v, want ErrFailed", err)
				}
				st.Close()
				st2 := mustOpen(t, mem, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
				defer st2.Close()
				k, err := w.check(st2)
				if err != nil {
					t.Fatal(err)
				}
				if k < len(acked) {
					t.Errorf("reopened at commit %d, but %d were acknowledged", k, len(acked))
				}
			})
		}
	}
}

// The write transaction sees commits whose frames are still queued for the
// group-commit leader (not yet in the file): reading such a page writes
// the queue first. Here commit 'b' of page 1 is queued behind an fsync that
// is held, when the next transaction reads page 1.
func TestGroupCommitTxReadsQueuedCommit(t *testing.T) {
	bfs := &blockingSyncFS{Mem: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	st, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: bfs, Sync: wal.SyncGroup, AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	commit := func(pg uint32, b byte, began chan<- struct{}) <-chan error {
		done := make(chan error, 1)
		go func() {
			tx, err := st.Begin(ctx)
			if err != nil {
				done <- err
				return
			}
			if began != nil {
				close(began)
			}
			tx.WritePage(pg, fill(512, b))
			done <- tx.Commit(ctx)
		}()
		return done
	}
	first := commit(1, 'a', nil)
	<-bfs.entered // the new generation's header
	bfs.release <- struct{}{}
	<-bfs.entered // the frames
	bfs.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	leader := commit(2, 'x', nil)
	<-bfs.entered // the leader is in its fsync
	began := make(chan struct{})
	queued := commit(1, 'b', began)
	<-began
	tx, err := st.Begin(ctx) // returns once 'b' is queued and the writer released
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if err := tx.ReadPage(1, buf); err != nil || buf[0] != 'b' {
		t.Errorf("ReadPage(1) of the queued commit: got %q, %v; want 'b'", buf[0], err)
	}
	two := [][]byte{make([]byte, 512), make([]byte, 512)}
	if err := tx.ReadPages(1, two); err != nil || two[0][0] != 'b' || two[1][0] != 'x' {
		t.Errorf("ReadPages(1, 2): got %q %q, %v; want 'b' 'x'", two[0][0], two[1][0], err)
	}
	if got := readByte(t, st, 1); got != 'a' {
		t.Errorf("a snapshot sees page 1 = %q before the fsync; want 'a'", got)
	}
	tx.Rollback()

	close(bfs.release) // let every fsync through from now on
	go func() {
		for range bfs.entered {
		}
	}()
	for _, ch := range []<-chan error{leader, queued} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if got := readByte(t, st, 1); got != 'b' {
		t.Errorf("page 1 after the commits: got %q want 'b'", got)
	}
	st.Close()
	close(bfs.entered)
}

// A SyncGroup transaction larger than the write queue's bound is written
// in pieces by the committer itself, and recovers whole.
func TestGroupCommitLargeTransaction(t *testing.T) {
	mem := vfs.NewMem()
	st := mustOpen(t, mem, &wal.Options{PageSize: 512, Sync: wal.SyncGroup, AutoCheckpoint: -1, KeepWALOnClose: true})
	ctx := context.Background()
	const n = 9000 // 9,000 × 536-byte frames: more than the 4 MiB queue bound
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for pg := uint32(1); pg <= n; pg++ {
		tx.WritePage(pg, fill(512, byte(pg)))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	writeTx(t, st, map[uint32]byte{3: 'z'})
	st.Close()
	st = mustOpen(t, mem, &wal.Options{PageSize: 512, AutoCheckpoint: -1})
	defer st.Close()
	for _, pg := range []uint32{1, 2, 3, 4096, n} {
		want := byte(pg)
		if pg == 3 {
			want = 'z'
		}
		if got := readByte(t, st, pg); got != want {
			t.Errorf("page %d after reopen: got %d want %d", pg, got, want)
		}
	}
}
