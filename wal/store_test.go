package wal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

func fill(ps int, b byte) []byte { return bytes.Repeat([]byte{b}, ps) }

func mustOpen(t testing.TB, fs vfs.FS, o *wal.Options) *wal.Store {
	t.Helper()
	opts := wal.Options{PageSize: 512}
	if o != nil {
		opts = *o
	}
	opts.FS = fs
	st, err := wal.Open("/db/test.db", &opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return st
}

func writeTx(t testing.TB, st *wal.Store, pages map[uint32]byte) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	for pg, b := range pages {
		if err := tx.WritePage(pg, fill(st.PageSize(), b)); err != nil {
			t.Fatalf("WritePage(%d): %v", pg, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// readByte returns the first byte of page pgno as the latest snapshot sees it.
func readByte(t testing.TB, st *wal.Store, pgno uint32) byte {
	t.Helper()
	r, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, st.PageSize())
	if err := r.ReadPage(pgno, buf); err != nil {
		t.Fatalf("ReadPage(%d): %v", pgno, err)
	}
	return buf[0]
}

func TestTxSeesOwnWritesAndRollback(t *testing.T) {
	st := mustOpen(t, vfs.NewMem(), nil)
	defer st.Close()
	writeTx(t, st, map[uint32]byte{1: 'a', 2: 'b'})
	ctx := context.Background()
	tx, _ := st.Begin(ctx)
	tx.WritePage(2, fill(512, 'B'))
	tx.WritePage(5, fill(512, 'E'))
	buf := make([]byte, 512)
	for _, tc := range []struct {
		pg   uint32
		want byte
	}{{1, 'a'}, {2, 'B'}, {3, 0}, {4, 0}, {5, 'E'}} {
		if err := tx.ReadPage(tc.pg, buf); err != nil || buf[0] != tc.want {
			t.Errorf("tx page %d: got %q, %v want %q", tc.pg, buf[0], err, tc.want)
		}
	}
	if got := tx.PageCount(); got != 5 {
		t.Errorf("tx PageCount got %d want 5", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); !errors.Is(err, wal.ErrTxDone) {
		t.Errorf("second Rollback: got %v want ErrTxDone", err)
	}
	if got := readByte(t, st, 2); got != 'b' {
		t.Errorf("after rollback page 2 got %q want 'b'", got)
	}
	if got := st.PageCount(); got != 2 {
		t.Errorf("after rollback PageCount got %d want 2", got)
	}
}

func TestErrors(t *testing.T) {
	st := mustOpen(t, vfs.NewMem(), nil)
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: 'a'})
	tx, _ := st.Begin(ctx)
	buf := make([]byte, 512)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"write page 0", tx.WritePage(0, buf), wal.ErrPageNumber},
		{"write short page", tx.WritePage(1, buf[:10]), wal.ErrPageSize},
		{"read past end", tx.ReadPage(2, buf), wal.ErrPageNumber},
		{"read page 0", tx.ReadPage(0, buf), wal.ErrPageNumber},
		{"read short buffer", tx.ReadPage(1, buf[:1]), wal.ErrPageSize},
		{"truncate to 0", tx.Truncate(0), wal.ErrPageNumber},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, tc.err, tc.want)
		}
	}
	tx.Commit(ctx)
	if err := tx.Commit(ctx); !errors.Is(err, wal.ErrTxDone) {
		t.Errorf("second Commit: got %v want ErrTxDone", err)
	}
	if _, err := wal.Open("/x.db", &wal.Options{PageSize: 1000, FS: vfs.NewMem()}); !errors.Is(err, wal.ErrPageSize) {
		t.Errorf("page size 1000: got %v want ErrPageSize", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Begin(ctx); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("Begin after Close: got %v want ErrClosed", err)
	}
	if _, err := st.Snapshot(); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("Snapshot after Close: got %v want ErrClosed", err)
	}
	if err := st.Close(); !errors.Is(err, wal.ErrClosed) {
		t.Errorf("second Close: got %v want ErrClosed", err)
	}
}

func TestOpenLocked(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, nil)
	if _, err := wal.Open("/db/test.db", &wal.Options{FS: fs}); !errors.Is(err, wal.ErrLocked) {
		t.Errorf("second Open: got %v want ErrLocked", err)
	}
	st.Close()
	st = mustOpen(t, fs, nil)
	st.Close()
}

func TestOpenLockedOS(t *testing.T) {
	path := t.TempDir() + "/x.db"
	st, err := wal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := wal.Open(path, nil); !errors.Is(err, wal.ErrLocked) {
		t.Errorf("second Open: got %v want ErrLocked", err)
	}
}

func TestBeginWaitsForWriter(t *testing.T) {
	st := mustOpen(t, vfs.NewMem(), nil)
	defer st.Close()
	tx, _ := st.Begin(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := st.Begin(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Begin while a Tx is open: got %v want DeadlineExceeded", err)
	}
	tx.Rollback()
	tx2, err := st.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tx2.Rollback()
}

func TestReopenKeepsCommits(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "checkpoint-on-close", true: "keep-wal"}[keep], func(t *testing.T) {
			fs := vfs.NewMem()
			o := &wal.Options{PageSize: 1024, KeepWALOnClose: keep}
			st := mustOpen(t, fs, o)
			w := newWorkload(7, 1024, 40, 60)
			for i := 1; i <= 60; i++ {
				if err := w.apply(context.Background(), st, i); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			walBytes, _ := fs.ReadFile("/db/test.db-wal")
			if keep == (len(walBytes) == 0) {
				t.Errorf("WAL size after Close got %d (keep=%v)", len(walBytes), keep)
			}
			st = mustOpen(t, fs, &wal.Options{KeepWALOnClose: keep}) // page size from the WAL or default
			defer st.Close()
			if keep && st.PageSize() != 1024 {
				t.Errorf("page size from WAL header got %d want 1024", st.PageSize())
			}
			if !keep {
				return // db file alone: the page size must be given
			}
			if k, err := w.check(st); err != nil || k != 60 {
				t.Fatalf("after reopen: commit %d, %v; want 60", k, err)
			}
		})
	}
}

func TestReopenAfterCheckpointDBOnly(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, &wal.Options{PageSize: 512})
	w := newWorkload(3, 512, 30, 40)
	for i := 1; i <= 40; i++ {
		w.apply(context.Background(), st, i)
	}
	st.Close() // checkpoints and truncates the WAL
	st = mustOpen(t, fs, &wal.Options{PageSize: 512})
	defer st.Close()
	if k, err := w.check(st); err != nil || k != 40 {
		t.Fatalf("commit %d, %v; want 40", k, err)
	}
}

func TestTruncateShrinksAndGapsAreZero(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, nil)
	defer st.Close()
	writeTx(t, st, map[uint32]byte{1: 'a', 2: 'b', 3: 'c', 4: 'd'})
	st.Checkpoint(context.Background(), wal.Truncate)
	ctx := context.Background()
	tx, _ := st.Begin(ctx)
	tx.Truncate(2)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.PageCount(); got != 2 {
		t.Fatalf("PageCount after truncate got %d want 2", got)
	}
	if _, err := st.Checkpoint(ctx, wal.Full); err != nil {
		t.Fatal(err)
	}
	db, _ := fs.ReadFile("/db/test.db")
	if len(db) != 2*512 {
		t.Errorf("db file after checkpoint: %d bytes, want %d", len(db), 2*512)
	}
	// Growing again past a gap: pages 3 and 4 must read as zeros, not as
	// the stale 'c'/'d' images.
	writeTx(t, st, map[uint32]byte{5: 'e'})
	for pg, want := range map[uint32]byte{1: 'a', 2: 'b', 3: 0, 4: 0, 5: 'e'} {
		if got := readByte(t, st, pg); got != want {
			t.Errorf("page %d got %q want %q", pg, got, want)
		}
	}
}

func TestPageSizeFromSQLiteHeader(t *testing.T) {
	fs := vfs.NewMem()
	hdr := make([]byte, 8192)
	copy(hdr, "SQLite format 3\x00")
	hdr[16], hdr[17] = 0x20, 0x00 // 8192
	fs.WriteFile("/db/test.db", hdr)
	st, err := wal.Open("/db/test.db", &wal.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.PageSize() != 8192 || st.PageCount() != 1 {
		t.Errorf("got page size %d, %d pages; want 8192, 1", st.PageSize(), st.PageCount())
	}
}

func TestPageSizeMismatch(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, &wal.Options{PageSize: 1024, KeepWALOnClose: true})
	writeTx(t, st, map[uint32]byte{1: 'a'})
	st.Close()
	if _, err := wal.Open("/db/test.db", &wal.Options{FS: fs, PageSize: 4096}); !errors.Is(err, wal.ErrPageSize) {
		t.Errorf("got %v want ErrPageSize", err)
	}
}

func TestAllPageSizes(t *testing.T) {
	for ps := 512; ps <= 65536; ps *= 2 {
		fs := vfs.NewMem()
		st := mustOpen(t, fs, &wal.Options{PageSize: ps, KeepWALOnClose: true})
		w := newWorkload(uint64(ps), ps, 6, 5)
		for i := 1; i <= 5; i++ {
			if err := w.apply(context.Background(), st, i); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		st = mustOpen(t, fs, &wal.Options{KeepWALOnClose: true})
		if k, err := w.check(st); err != nil || k != 5 {
			t.Errorf("page size %d: commit %d, %v; want 5", ps, k, err)
		}
		st.Close()
	}
}
