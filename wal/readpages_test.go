package wal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// pageReader is what Snapshot and Tx have in common.
type pageReader interface {
	ReadPage(pg uint32, dst []byte) error
	ReadPages(first uint32, bufs [][]byte) error
	PageCount() uint32
}

// scatter splits n pages into buffers at random cut points, routing some
// stretches to one shared scratch buffer (as a caller skipping page headers
// does). It returns the buffers and, for each byte of the run, where it
// lands (nil for the scratch).
func scatter(rng *rand.Rand, n, ps int) (bufs [][]byte, dst [][]byte) {
	total := n * ps
	scratch := make([]byte, ps)
	for off := 0; off < total; {
		k := min(total-off, 1+rng.IntN(2*ps))
		if rng.IntN(4) == 0 {
			k = min(total-off, 1+rng.IntN(24))
		}
		if rng.IntN(5) == 0 && k <= len(scratch) {
			bufs = append(bufs, scratch[:k])
			dst = append(dst, nil)
		} else {
			b := bytes.Repeat([]byte{0xa5}, k) // not zeros: a page left unread shows
			bufs = append(bufs, b)
			dst = append(dst, b)
		}
		off += k
	}
	return bufs, dst
}

// checkRun reads pages [first, first+n) with ReadPages over random buffers
// and compares every byte outside the scratch with ReadPage's.
func checkRun(rng *rand.Rand, r pageReader, first uint32, n, ps int) error {
	bufs, dst := scatter(rng, n, ps)
	if err := r.ReadPages(first, bufs); err != nil {
		return fmt.Errorf("ReadPages(%d, %d pages): %v", first, n, err)
	}
	want := make([]byte, n*ps)
	for i := range n {
		if err := r.ReadPage(first+uint32(i), want[i*ps:(i+1)*ps]); err != nil {
			return fmt.Errorf("ReadPage(%d): %v", first+uint32(i), err)
		}
	}
	off := 0
	for i, b := range bufs {
		if dst[i] != nil && !bytes.Equal(dst[i], want[off:off+len(b)]) {
			pg := first + uint32(off/ps)
			return fmt.Errorf("ReadPages(%d, %d pages): bytes %d..%d (page %d) got %x... want %x...",
				first, n, off, off+len(b), pg, b[:min(8, len(b))], want[off:off+min(8, len(b))])
		}
		off += len(b)
	}
	return nil
}

// checkRuns compares random runs of r (and the whole file) with ReadPage.
func checkRuns(rng *rand.Rand, r pageReader, ps int) error {
	np := int(r.PageCount())
	if np == 0 {
		return nil
	}
	if err := checkRun(rng, r, 1, np, ps); err != nil {
		return err
	}
	for range 4 {
		first := 1 + rng.IntN(np)
		if err := checkRun(rng, r, uint32(first), 1+rng.IntN(np-first+1), ps); err != nil {
			return err
		}
	}
	return nil
}

// TestReadPagesMatchesReadPage runs the random workload with snapshots held
// across commits and checkpoints, so that runs mix pages in the db file,
// in WAL frames of one commit and of several, and never-written zeros; and
// a write transaction's own pages. Every ReadPages must return exactly what
// ReadPage returns, on memory, on the OS file system (preadv) and through
// a wrapper without vectored reads (one ReadAt per buffer).
func TestReadPagesMatchesReadPage(t *testing.T) {
	seed := seedFor(t)
	fss := []struct {
		name string
		fs   func(t *testing.T) (vfs.FS, string)
	}{
		{"mem", func(*testing.T) (vfs.FS, string) { return vfs.NewMem(), "/db/test.db" }},
		{"os", func(t *testing.T) (vfs.FS, string) { return vfs.OS(), t.TempDir() + "/test.db" }},
		{"readat", func(*testing.T) (vfs.FS, string) { return vfstest.NewFaultFS(vfs.NewMem()), "/db/test.db" }},
	}
	for _, f := range fss {
		t.Run(f.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			fs, path := f.fs(t)
			const ps = 512
			st, err := wal.Open(path, &wal.Options{PageSize: ps, FS: fs, AutoCheckpoint: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			w := newWorkload(seed, ps, 48, 120)
			ctx := context.Background()
			var held []*wal.Snapshot
			defer func() {
				for _, r := range held {
					r.Close()
				}
			}()
			for i := 1; i <= len(w.commits); i++ {
				if err := w.apply(ctx, st, i); err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 {
					r, err := st.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, r)
				}
				if rng.IntN(4) == 0 && len(held) > 0 {
					j := rng.IntN(len(held))
					held[j].Close()
					held = append(held[:j], held[j+1:]...)
				}
				if rng.IntN(5) == 0 {
					mode := wal.CheckpointMode(rng.IntN(2)) // Passive or Full; Full with readers: ErrBusy, partial
					cctx, cancel := context.WithCancel(ctx)
					cancel()
					if _, err := st.Checkpoint(cctx, mode); err != nil && !errors.Is(err, wal.ErrBusy) && !errors.Is(err, context.Canceled) {
						t.Fatal(err)
					}
				}
				for _, r := range held {
					if err := checkRuns(rng, r, ps); err != nil {
						t.Fatalf("commit %d, held snapshot: %v", i, err)
					}
				}
				r, err := st.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				err = checkRuns(rng, r, ps)
				r.Close()
				if err != nil {
					t.Fatalf("commit %d, new snapshot: %v", i, err)
				}
				if rng.IntN(4) == 0 {
					if err := checkTxRuns(ctx, rng, st, ps); err != nil {
						t.Fatalf("commit %d, write transaction: %v", i, err)
					}
				}
			}
		})
	}
}

// checkTxRuns opens a write transaction that writes, grows and truncates,
// compares its ReadPages with its ReadPage, and rolls back.
func checkTxRuns(ctx context.Context, rng *rand.Rand, st *wal.Store, ps int) error {
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if n := tx.PageCount(); n > 4 && rng.IntN(3) == 0 {
		if err := tx.Truncate(2 + rng.Uint32N(n-2)); err != nil {
			return err
		}
	}
	for range 1 + rng.IntN(6) {
		pg := 1 + rng.Uint32N(tx.PageCount()+4) // sometimes past the end: a gap of zeros
		p := make([]byte, ps)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if err := tx.WritePage(pg, p); err != nil {
			return err
		}
	}
	return checkRuns(rng, tx, ps)
}

// countingFS counts vectored reads of its files.
type countingFS struct {
	vfs.FS
	reads atomic.Int64
}

func (c *countingFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, c: c}, nil
}

type countingFile struct {
	vfs.File
	c *countingFS
}

func (f countingFile) ReadvAt(bufs [][]byte, off int64) (int, error) {
	f.c.reads.Add(1)
	return vfs.ReadvAt(f.File, bufs, off)
}

// TestReadPagesOneReadPerStretch checks the point of ReadPages: a run
// written by one commit is one read from the WAL, and one from the db file
// after a checkpoint; a run whose pages were split by a later commit is
// one read per stretch, and still returns the right bytes.
func TestReadPagesOneReadPerStretch(t *testing.T) {
	const ps, n = 512, 64
	cfs := &countingFS{FS: vfs.NewMem()}
	st := mustOpen(t, cfs, &wal.Options{PageSize: ps, AutoCheckpoint: -1})
	defer st.Close()
	ctx := context.Background()
	write := func(pages map[uint32]byte) {
		t.Helper()
		writeTx(t, st, pages)
	}
	run := map[uint32]byte{}
	for pg := uint32(1); pg <= n; pg++ {
		run[pg] = byte(pg)
	}
	write(run)
	read := func(want map[uint32]byte) int64 {
		t.Helper()
		r, err := st.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, n*ps)
		before := cfs.reads.Load()
		if err := r.ReadPages(1, [][]byte{buf}); err != nil {
			t.Fatal(err)
		}
		for pg := uint32(1); pg <= n; pg++ {
			if got := buf[(pg-1)*ps]; got != want[pg] {
				t.Fatalf("page %d: got byte %d want %d", pg, got, want[pg])
			}
		}
		return cfs.reads.Load() - before
	}
	if got := read(run); got != 1 {
		t.Errorf("run of %d pages in one commit's frames: %d reads, want 1", n, got)
	}
	if _, err := st.Checkpoint(ctx, wal.Full); err != nil {
		t.Fatal(err)
	}
	if got := read(run); got != 1 {
		t.Errorf("run of %d pages in the db file: %d reads, want 1", n, got)
	}
	// Rewrite two pages in the middle: db 1-19, WAL 20-21, db 22-64.
	run[20], run[21] = 200, 201
	write(map[uint32]byte{20: 200, 21: 201})
	if got := read(run); got != 3 {
		t.Errorf("run split by a later commit: %d reads, want 3", got)
	}
	// Half the run rewritten in one commit, then page 40 again: WAL frames
	// of two commits and the db file.
	half := map[uint32]byte{}
	for pg := uint32(33); pg <= n; pg++ {
		half[pg], run[pg] = byte(pg+100), byte(pg+100)
	}
	write(half)
	run[40] = 7
	write(map[uint32]byte{40: 7})
	// db 1-19, frames 20-21, db 22-32, frames 33-39, frame 40, frames 41-64.
	if got := read(run); got != 6 {
		t.Errorf("run over two commits and the db file: %d reads, want 6", got)
	}
}

// TestReadPagesErrors: bad buffers and ranges are errors, not panics, and
// an I/O error surfaces.
func TestReadPagesErrors(t *testing.T) {
	const ps = 512
	ffs := vfstest.NewFaultFS(vfs.NewMem())
	st := mustOpen(t, ffs, &wal.Options{PageSize: ps, AutoCheckpoint: -1})
	writeTx(t, st, map[uint32]byte{1: 1, 2: 2, 3: 3, 4: 4})
	r, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	page := func(n int) [][]byte { return [][]byte{make([]byte, n)} }
	cases := []struct {
		name  string
		first uint32
		bufs  [][]byte
		want  error
	}{
		{"not whole pages", 1, page(ps + 1), wal.ErrPageSize},
		{"page 0", 0, page(ps), wal.ErrPageNumber},
		{"past the end", 3, page(3 * ps), wal.ErrPageNumber},
		{"far past the end", ^uint32(0), page(2 * ps), wal.ErrPageNumber},
		{"empty", 1, nil, nil},
		{"whole file", 1, page(4 * ps), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := r.ReadPages(c.first, c.bufs); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Errorf("got %v want %v", err, c.want)
			}
		})
	}
	ffs.Inject(vfstest.Rule{Op: vfstest.OpRead, Suffix: "-wal"})
	if err := r.ReadPages(1, page(4*ps)); !errors.Is(err, syscall.EIO) {
		t.Errorf("read fault: got %v want EIO", err)
	}
	tx, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if err := tx.ReadPages(1, page(ps)); !errors.Is(err, wal.ErrTxDone) {
		t.Errorf("after Rollback: got %v want ErrTxDone", err)
	}
	st.Close()
	if err := r.ReadPages(1, page(ps)); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("after Close: got %v want ErrClosed", err)
	}
}

// TestReadPagesAfterPowerLoss: after a crash that tears the WAL in the
// middle of a long run, recovery drops the torn commit and ReadPages
// returns exactly the recovered state, as ReadPage does.
func TestReadPagesAfterPowerLoss(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewPCG(seed, 12))
	const ps = 512
	w := newWorkload(seed, ps, 64, 30)
	for trial := range 200 {
		cfs := vfstest.NewCrashFS()
		crashAt := 1 + rng.IntN(120)
		fateSeed := rng.Uint64()
		var crashed *vfs.Mem
		cfs.OnOp(func(op int) {
			if op == crashAt {
				crashed = cfs.Crash(fateSeed, ps)
			}
		})
		st, err := wal.Open("/db/test.db", &wal.Options{PageSize: ps, FS: cfs, AutoCheckpoint: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := 1; i <= len(w.commits) && crashed == nil; i++ {
			if err := w.apply(ctx, st, i); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				st.Checkpoint(ctx, wal.Passive)
			}
		}
		st.Close()
		if crashed == nil {
			continue
		}
		st, err = wal.Open("/db/test.db", &wal.Options{PageSize: ps, FS: crashed, AutoCheckpoint: -1})
		if err != nil {
			t.Fatalf("trial %d: reopen: %v", trial, err)
		}
		r, err := st.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.checkSnapshot(r); err != nil {
			t.Fatalf("trial %d: recovered state: %v", trial, err)
		}
		if err := checkRuns(rng, r, ps); err != nil {
			t.Fatalf("trial %d (crash at op %d): %v", trial, crashAt, err)
		}
		r.Close()
		st.Close()
	}
}

// TestReadPagesPastFileEnd: a db file that ends inside its last page (as a
// file cut short can) reads as zeros past its end, as ReadPage does.
func TestReadPagesPastFileEnd(t *testing.T) {
	const ps = 512
	m := vfs.NewMem()
	m.WriteFile("/db/test.db", bytes.Repeat([]byte{0xff}, 2*ps+ps/2))
	st := mustOpen(t, m, &wal.Options{PageSize: ps, AutoCheckpoint: -1})
	defer st.Close()
	r, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.PageCount() != 3 {
		t.Fatalf("page count got %d want 3", r.PageCount())
	}
	buf := bytes.Repeat([]byte{0xa5}, 3*ps)
	if err := r.ReadPages(1, [][]byte{buf[:ps+7], buf[ps+7:]}); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Repeat([]byte{0xff}, 2*ps+ps/2), make([]byte, ps/2)...)
	if !bytes.Equal(buf, want) {
		t.Errorf("got %x... at the end, want %d bytes of 0xff then zeros", buf[2*ps+ps/2-4:2*ps+ps/2+4], 2*ps+ps/2)
	}
}
