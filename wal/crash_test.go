package wal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// Power loss, simulated in process: the workload runs on a CrashFS, and at a
// random write/truncate/sync the files are captured as a crash would leave
// them (synced data, plus each unsynced write applied, dropped or torn).
// Recovery must give exactly the state after some commit, and with a
// syncing mode every commit acknowledged before the crash.
func TestPowerLoss(t *testing.T) {
	seed := seedFor(t)
	trials := 1200
	if *flagLong {
		trials = 24000
	}
	w := newWorkload(seed, 512, 16, 40)
	w.precompute()
	rng := rand.New(rand.NewPCG(seed, 3))
	// Group commit runs twice: from one goroutine, and from four sharing
	// fsyncs while auto-checkpoints run, so that the leader writes frames
	// other committers queued.
	modes := []struct {
		sm         wal.SyncMode
		committers int
	}{{wal.SyncFull, 1}, {wal.SyncGroup, 1}, {wal.SyncNormal, 1}, {wal.SyncGroup, 4}}
	for trial := range trials {
		m := modes[trial%len(modes)]
		c := powerLoss{trial: trial, crashAt: 1 + rng.IntN(250), fateSeed: rng.Uint64()}
		if m.committers > 1 {
			c.run(t, w, &wal.Options{PageSize: 512, Sync: m.sm, AutoCheckpoint: 16}, func(st *wal.Store) {
				w.commitConcurrently(context.Background(), st, m.committers, c.ack, func(i int, err error) {
					t.Errorf("trial %d: commit %d: %v", trial, i, err)
				})
			})
			continue
		}
		c.run(t, w, &wal.Options{PageSize: 512, Sync: m.sm, AutoCheckpoint: -1}, func(st *wal.Store) {
			ctx := context.Background()
			for i := 1; i <= len(w.commits) && !c.crashed(); i++ {
				if err := w.apply(ctx, st, i); err != nil {
					t.Fatal(err)
				}
				c.ack(i)
				if i%5 == 0 {
					st.Checkpoint(ctx, wal.CheckpointMode(i/5%4))
				}
			}
		})
	}
}

// powerLoss is one trial of a power-loss test: the store runs on a CrashFS
// whose files are captured, as a power loss would leave them, at write,
// truncate or sync number crashAt (the fates of unsynced writes drawn from
// fateSeed). Its methods are safe for concurrent use by the committers.
type powerLoss struct {
	trial, crashAt int
	fateSeed       uint64

	mu       sync.Mutex // guards captured and acked
	captured *vfs.Mem
	acked    int
}

// crashed reports whether the capture has happened.
func (c *powerLoss) crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.captured != nil
}

// ack records that commit i returned success; it counts only if the
// capture has not happened yet (the commit was durable before the crash).
func (c *powerLoss) ack(i int) {
	c.mu.Lock()
	if c.captured == nil {
		c.acked = max(c.acked, i)
	}
	c.mu.Unlock()
}

// run opens a store with opts on a fresh CrashFS, lets drive commit the
// workload, closes it, and then reopens the captured files: they must hold
// exactly the state after some commit, and (unless opts.Sync is SyncNormal)
// at least every commit acknowledged before the capture.
func (c *powerLoss) run(t *testing.T, w *workload, opts *wal.Options, drive func(*wal.Store)) {
	t.Helper()
	cfs := vfstest.NewCrashFS()
	cfs.OnOp(func(op int) {
		if op == c.crashAt {
			c.mu.Lock()
			c.captured = cfs.Crash(c.fateSeed, 512)
			c.mu.Unlock()
		}
	})
	o := *opts
	o.FS = cfs
	st, err := wal.Open("/db/test.db", &o)
	if err != nil {
		t.Fatal(err)
	}
	drive(st)
	st.Close()
	c.mu.Lock()
	captured, acked := c.captured, c.acked
	c.mu.Unlock()
	if captured == nil {
		return // the crash point lay beyond the workload
	}
	where := fmt.Sprintf("trial %d (%v, crash at op %d, fate seed %d)", c.trial, o.Sync, c.crashAt, c.fateSeed)
	st2, err := wal.Open("/db/test.db", &wal.Options{PageSize: o.PageSize, FS: captured, AutoCheckpoint: -1})
	if err != nil {
		t.Fatalf("%s: open: %v", where, err)
	}
	k, err := w.check(st2)
	st2.Close()
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if o.Sync != wal.SyncNormal && k < acked {
		t.Fatalf("%s: recovered commit %d but %d was acknowledged", where, k, acked)
	}
}

const crashChildEnv = "EDGEKIT_WAL_CRASH_CHILD"

// crashChild is the subprocess of TestCrashSIGKILL: it commits the workload
// named by its environment into the directory named by crashChildEnv and
// prints the number of every acknowledged commit on its own line, until it
// is killed.
func crashChild() int {
	dir := os.Getenv(crashChildEnv)
	seed, _ := strconv.ParseUint(os.Getenv("EDGEKIT_WAL_CRASH_SEED"), 10, 64)
	n, _ := strconv.Atoi(os.Getenv("EDGEKIT_WAL_CRASH_N"))
	sm := wal.SyncFull
	if os.Getenv("EDGEKIT_WAL_CRASH_GROUP") == "1" {
		sm = wal.SyncGroup
	}
	w := newWorkload(seed, 512, 16, n)
	st, err := wal.Open(filepath.Join(dir, "test.db"), &wal.Options{PageSize: 512, Sync: sm, AutoCheckpoint: 16})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	workers := 1
	if sm == wal.SyncGroup {
		workers = 4
	}
	w.commitConcurrently(ctx, st, workers, func(i int) {
		fmt.Fprintf(os.Stdout, "%d\n", i) // unbuffered: one write(2) per ack
	}, func(i int, err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	})
	st.Close()
	return 0
}

// Crash at every point: a subprocess commits (with fsync per commit, or
// group commit from four goroutines, and auto-checkpoints every 16 frames)
// and is SIGKILLed at a random moment. After reopening, the pages must be
// exactly the state after some prefix of the commits, including every
// commit the child acknowledged.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns hundreds of processes")
	}
	seed := seedFor(t)
	trials := 200
	if *flagLong {
		trials = 2000
	}
	const n = 400
	w := newWorkload(seed, 512, 16, n)
	w.precompute()
	rng := rand.New(rand.NewPCG(seed, 4))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for trial := range trials {
		group := trial%2 == 1
		dir := t.TempDir()
		// Kill after the child acknowledged killAfter commits, plus a random
		// sub-millisecond delay so the kill lands anywhere in a commit or
		// checkpoint.
		killAfter := rng.IntN(60)
		delay := time.Duration(rng.IntN(1000)) * time.Microsecond
		acked, err := runAndKill(exe, dir, seed, n, group, killAfter, delay)
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		st, err := wal.Open(filepath.Join(dir, "test.db"), &wal.Options{PageSize: 512, AutoCheckpoint: -1})
		if err != nil {
			t.Fatalf("trial %d: reopen: %v", trial, err)
		}
		k, err := w.check(st)
		st.Close()
		if err != nil {
			t.Fatalf("trial %d (group=%v, kill after %d acks + %v): %v", trial, group, killAfter, delay, err)
		}
		if k < acked {
			t.Fatalf("trial %d (group=%v, kill after %d acks + %v): recovered commit %d, but %d was acknowledged", trial, group, killAfter, delay, k, acked)
		}
	}
	t.Logf("%d trials in %v", trials, time.Since(start).Round(time.Millisecond))
}

// runAndKill starts the child, SIGKILLs it once it has acknowledged
// killAfter commits and delay has passed, and returns the highest commit
// number it acknowledged (every lower one was acknowledged too when
// committers are serialized; with group commit, the highest is what counts
// for "every acknowledged commit is present").
func runAndKill(exe, dir string, seed uint64, n int, group bool, killAfter int, delay time.Duration) (int, error) {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir,
		"EDGEKIT_WAL_CRASH_SEED="+strconv.FormatUint(seed, 10), "EDGEKIT_WAL_CRASH_N="+strconv.Itoa(n),
		"EDGEKIT_WAL_CRASH_GROUP="+map[bool]string{false: "0", true: "1"}[group])
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	acks := make(chan int, n+1)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i, err := strconv.Atoi(sc.Text()); err == nil {
				acks <- i
			}
		}
	}()
	count, highest := 0, 0
	killed := false
	for i := range acks {
		count++
		highest = max(highest, i)
		if count >= killAfter && !killed {
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	if !killed {
		cmd.Process.Signal(syscall.SIGKILL) // finished (or never acked) before the kill point
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	if ee != nil && ee.ExitCode() > 0 {
		return 0, fmt.Errorf("child failed with status %d", ee.ExitCode())
	}
	return highest, nil
}

// fsyncgate: when an fsync of the db file fails during a checkpoint, the
// kernel may already have dropped those writes. The next checkpoint must
// copy the pages again rather than trust a retried fsync, or the WAL would
// be reset over data that never reached the disk.
func TestCheckpointAfterFailedDBSyncRewritesPages(t *testing.T) {
	cfs := vfstest.NewCrashFS()
	st, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: cfs, AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(9, 512, 20, 30)
	ctx := context.Background()
	for i := 1; i <= 30; i++ {
		if err := w.apply(ctx, st, i); err != nil {
			t.Fatal(err)
		}
	}
	cfs.FailNextSync(".db")
	if _, err := st.Checkpoint(ctx, wal.Passive); !errors.Is(err, syscall.EIO) {
		t.Fatalf("checkpoint with failing db fsync: got %v want EIO", err)
	}
	if _, err := st.Checkpoint(ctx, wal.Truncate); err != nil {
		t.Fatalf("second checkpoint: %v", err)
	}
	if b, _ := cfs.ReadFile("/db/test.db-wal"); len(b) != 0 {
		t.Fatalf("WAL not truncated (%d bytes)", len(b))
	}
	// Power loss now: only synced data survives. Everything must be in the db.
	st2, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: cfs.Crash(1, 512), AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if k, err := w.check(st2); err != nil || k != 30 {
		t.Fatalf("after crash: commit %d, %v; want 30", k, err)
	}
	st.Close()
}

// The WAL analogue: a failed fsync at commit loses the frames; the commit
// reports ErrFailed, and after a crash the store is at the previous commit.
func TestCommitAfterFailedWALSyncLosesOnlyThatCommit(t *testing.T) {
	cfs := vfstest.NewCrashFS()
	st, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: cfs, AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(10, 512, 20, 12)
	ctx := context.Background()
	for i := 1; i <= 10; i++ {
		w.apply(ctx, st, i)
	}
	cfs.FailNextSync("-wal")
	if err := w.apply(ctx, st, 11); !errors.Is(err, wal.ErrFailed) {
		t.Fatalf("commit with failing fsync: got %v want ErrFailed", err)
	}
	if err := w.apply(ctx, st, 11); !errors.Is(err, wal.ErrFailed) {
		t.Fatalf("retry after failed fsync: got %v want ErrFailed", err)
	}
	st.Close()
	st2, err := wal.Open("/db/test.db", &wal.Options{PageSize: 512, FS: cfs.Crash(2, 512), AutoCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if k, err := w.check(st2); err != nil || k != 10 {
		t.Fatalf("after crash: commit %d, %v; want 10", k, err)
	}
}

// TestCheckpointAfterFailedFsyncCopiesNothing: with SyncNormal a checkpoint
// syncs the WAL before copying frames into the db file. After that fsync
// failed, a second checkpoint must not sync again and copy: the frames'
// pages may be lost, and the WAL offsets hold an older generation's pages,
// which would then land in the db file.
func TestCheckpointAfterFailedFsyncCopiesNothing(t *testing.T) {
	cfs := vfstest.NewCrashFS()
	opts := &wal.Options{PageSize: 512, FS: cfs, Sync: wal.SyncNormal, AutoCheckpoint: -1, KeepWALOnClose: true}
	st, err := wal.Open("/db/test.db", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: '1', 2: '2', 3: '3', 4: '4'})
	if _, err := st.Checkpoint(ctx, wal.Restart); err != nil {
		t.Fatal(err)
	}
	writeTx(t, st, map[uint32]byte{3: 'B'}) // frame 1 of the new generation
	cfs.FailNextSync("-wal")
	if _, err := st.Checkpoint(ctx, wal.Passive); !errors.Is(err, wal.ErrFailed) {
		t.Fatalf("checkpoint with failing WAL fsync: %v, want ErrFailed", err)
	}
	if _, err := st.Checkpoint(ctx, wal.Passive); !errors.Is(err, wal.ErrFailed) {
		t.Fatalf("second checkpoint after the failed fsync: %v, want ErrFailed (no retried fsync)", err)
	}
	st.Close()
	for seed := range uint64(8) {
		o := *opts
		o.FS = cfs.Crash(seed, 512)
		st2, err := wal.Open("/db/test.db", &o)
		if err != nil {
			t.Fatal(err)
		}
		if got := readByte(t, st2, 3); got != '3' && got != 'B' {
			t.Errorf("crash seed %d: page 3 reads %q, want '3' or 'B'", seed, got)
		}
		st2.Close()
	}
}

// TestClosedSnapshotReadsNothing: a closed Snapshot no longer holds
// checkpoints back, so after a WAL restart the frames it would read hold
// other pages; its reads must fail with ErrClosed instead of returning
// them.
func TestClosedSnapshotReadsNothing(t *testing.T) {
	st := mustOpen(t, vfs.NewMem(), &wal.Options{PageSize: 512, AutoCheckpoint: -1})
	defer st.Close()
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: 'a'})
	writeTx(t, st, map[uint32]byte{2: 'b'})
	writeTx(t, st, map[uint32]byte{1: 'c'})
	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if err := snap.ReadPage(2, buf); err != nil || buf[0] != 'b' {
		t.Fatalf("open snapshot: page 2 = %q, %v; want 'b'", buf[0], err)
	}
	snap.Close()
	if _, err := st.Checkpoint(ctx, wal.Restart); err != nil {
		t.Fatal(err)
	}
	writeTx(t, st, map[uint32]byte{2: 'Z'})
	writeTx(t, st, map[uint32]byte{1: 'Y'})
	writeTx(t, st, map[uint32]byte{1: 'X'})
	if err := snap.ReadPage(2, buf); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("closed snapshot ReadPage(2) = %q, %v; want ErrClosed", buf[0], err)
	}
	if err := snap.ReadPages(1, [][]byte{buf}); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("closed snapshot ReadPages(1) = %v; want ErrClosed", err)
	}
}
