package wal_test

import (
	"cmp"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

// Readers check that every snapshot is exactly some commit's state, and
// stays so while a writer commits and checkpoints of every mode run.
func TestSnapshotsStableUnderWriterAndCheckpoints(t *testing.T) {
	for _, sm := range []wal.SyncMode{wal.SyncFull, wal.SyncGroup} {
		t.Run(sm.String(), func(t *testing.T) {
			seed := seedFor(t)
			n := 300
			if *flagLong {
				n = 3000
			}
			w := newWorkload(seed, 512, 24, n)
			w.precompute()
			st := mustOpen(t, vfs.NewMem(), &wal.Options{PageSize: 512, Sync: sm, AutoCheckpoint: 20})
			defer st.Close()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var latest atomic.Int64
			fail := func(format string, a ...any) {
				t.Errorf(format, a...)
				cancel()
			}
			wg.Add(1)
			go func() { // writer
				defer wg.Done()
				defer cancel()
				for i := 1; i <= n && ctx.Err() == nil; i++ {
					if err := w.apply(context.Background(), st, i); err != nil {
						fail("commit %d: %v", i, err)
						return
					}
					latest.Store(int64(i))
				}
			}()
			wg.Add(1)
			go func() { // checkpointer cycling through the modes
				defer wg.Done()
				for m := 0; ctx.Err() == nil; m++ {
					cctx, ccancel := context.WithTimeout(ctx, time.Millisecond)
					_, err := st.Checkpoint(cctx, wal.CheckpointMode(m%4))
					ccancel()
					if err != nil && !errors.Is(err, wal.ErrBusy) {
						fail("checkpoint: %v", err)
					}
				}
			}()
			for range 4 {
				wg.Add(1)
				go func() { // readers
					defer wg.Done()
					for ctx.Err() == nil {
						before := int(latest.Load())
						r, err := st.Snapshot()
						if err != nil {
							fail("snapshot: %v", err)
							return
						}
						k, err := w.checkSnapshot(r)
						if err == nil && k < before {
							err = errors.New("snapshot older than a commit acknowledged before it began")
						}
						if err == nil {
							time.Sleep(200 * time.Microsecond) // let commits and checkpoints pass
							var k2 int
							if k2, err = w.checkSnapshot(r); err == nil && k2 != k {
								err = errors.New("snapshot moved")
							}
						}
						r.Close()
						if err != nil {
							fail("snapshot at commit %d (acked %d): %v", k, before, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if k, err := w.check(st); err != nil || k != n {
				t.Fatalf("final state: commit %d, %v; want %d", k, err, n)
			}
			t.Logf("stats %+v", st.Stats())
		})
	}
}

// slowSyncFS makes every fsync take delay (1 ms when zero), as a disk
// does, so that group commit has something to amortize even on a memory
// file system.
type slowSyncFS struct {
	*vfs.Mem
	delay time.Duration
}

type slowSyncFile struct {
	vfs.File
	delay time.Duration
}

func (f slowSyncFile) Sync() error { time.Sleep(f.delay); return f.File.Sync() }

func (s slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := s.Mem.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowSyncFile{f, cmp.Or(s.delay, time.Millisecond)}, nil
}

// runCommitters runs goroutines committers of per commits each, every
// committer writing its own page.
func runCommitters(t *testing.T, st *wal.Store, goroutines, per int) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				writeTx(t, st, map[uint32]byte{uint32(1 + g): byte(i)})
			}
		}()
	}
	wg.Wait()
}

// TestGroupCommitTakesEveryCommitter: 8 committers in a loop share each
// fsync among nearly all of them. Before the leader waited for the
// committers the previous fsync released, the batches alternated between
// two halves (about 4 commits per fsync). The 4 ms fsync is long enough
// that released committers are back, on a loaded machine too, well inside
// the leader's wait for them (half an fsync).
func TestGroupCommitTakesEveryCommitter(t *testing.T) {
	st := mustOpen(t, slowSyncFS{vfs.NewMem(), 4 * time.Millisecond}, &wal.Options{PageSize: 512, Sync: wal.SyncGroup, AutoCheckpoint: -1})
	defer st.Close()
	const goroutines, per = 8, 30
	runCommitters(t, st, goroutines, per)
	s := st.Stats()
	per1 := float64(s.Commits) / float64(s.WALSyncs)
	t.Logf("%d commits, %d WAL fsyncs: %.2f commits per fsync", s.Commits, s.WALSyncs, per1)
	if per1 < 6 {
		t.Errorf("%.2f commits per fsync with %d committers, want at least 6", per1, goroutines)
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	st := mustOpen(t, slowSyncFS{Mem: vfs.NewMem()}, &wal.Options{PageSize: 512, Sync: wal.SyncGroup, AutoCheckpoint: -1})
	defer st.Close()
	const goroutines, per = 8, 40
	runCommitters(t, st, goroutines, per)
	s := st.Stats()
	t.Logf("%d commits, %d WAL fsyncs", s.Commits, s.WALSyncs)
	if s.Commits != goroutines*per {
		t.Fatalf("commits got %d want %d", s.Commits, goroutines*per)
	}
	if s.WALSyncs*2 > s.Commits {
		t.Errorf("group commit did not share fsyncs: %d fsyncs for %d commits", s.WALSyncs, s.Commits)
	}
	for g := range goroutines {
		if got := readByte(t, st, uint32(1+g)); got != per-1 {
			t.Errorf("page %d got %d want %d", 1+g, got, per-1)
		}
	}
}

// blockingSyncFS holds every WAL fsync until released, to freeze a commit
// (and with SyncFull the writer lock) in the middle of its fsync.
type blockingSyncFS struct {
	*vfs.Mem
	entered, release chan struct{}
}

type blockingSyncFile struct {
	vfs.File
	fs   *blockingSyncFS
	name string
}

func (f blockingSyncFile) Sync() error {
	if strings.HasSuffix(f.name, "-wal") {
		f.fs.entered <- struct{}{}
		<-f.fs.release
	}
	return f.File.Sync()
}

func (b *blockingSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := b.Mem.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return blockingSyncFile{f, b, name}, nil
}

// Readers are never blocked by the writer: while a commit sits in its fsync
// holding the writer lock, and while a FULL checkpoint waits for an old
// snapshot with new writers blocked, new snapshots start and read.
func TestReadersNotBlockedByWriterOrCheckpoint(t *testing.T) {
	bfs := &blockingSyncFS{Mem: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	st, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: bfs, AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error)
	go func() { // first commit: header sync, then frame sync
		tx, _ := st.Begin(ctx)
		tx.WritePage(1, fill(512, 'a'))
		done <- tx.Commit(ctx)
	}()
	<-bfs.entered // header fsync
	bfs.release <- struct{}{}
	<-bfs.entered // commit fsync in progress, writer lock held
	r, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if r.PageCount() != 0 {
		t.Errorf("snapshot during the fsync sees %d pages; the commit is not durable yet", r.PageCount())
	}
	r.Close()
	bfs.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	old, _ := st.Snapshot()
	go func() {
		tx, _ := st.Begin(ctx)
		tx.WritePage(1, fill(512, 'b'))
		done <- tx.Commit(ctx)
	}()
	<-bfs.entered
	bfs.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ckptDone := make(chan error)
	go func() { _, err := st.Checkpoint(ctx, wal.Full); ckptDone <- err }() // waits for old
	for i := 0; i < 50; i++ {                                               // new snapshots keep working while FULL waits
		r, err := st.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if got := readSnap(t, r, 1); got != 'b' {
			t.Fatalf("new snapshot page 1 got %q want 'b'", got)
		}
		r.Close()
	}
	if got := readSnap(t, old, 1); got != 'a' {
		t.Errorf("old snapshot page 1 got %q want 'a'", got)
	}
	old.Close()
	if err := <-ckptDone; err != nil {
		t.Fatalf("FULL checkpoint after the old snapshot closed: %v", err)
	}
	close(bfs.release) // let Close's syncs through
	go func() {
		for range bfs.entered {
		}
	}()
	st.Close()
	close(bfs.entered)
}

func readSnap(t *testing.T, r *wal.Snapshot, pg uint32) byte {
	t.Helper()
	buf := make([]byte, r.PageSize())
	if err := r.ReadPage(pg, buf); err != nil {
		t.Fatal(err)
	}
	return buf[0]
}
