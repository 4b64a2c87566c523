package wal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/internal/peertest"
)

// These tests use the real sqlite3 CLI as the oracle for byte compatibility,
// in both directions. They skip without sqlite3 unless EDGEKIT_REQUIRE_PEERS=1.

func sqlite(t *testing.T, bin, db, script string) string {
	t.Helper()
	cmd := exec.Command(bin, "-batch", db)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s\nscript:\n%.500s", db, err, out, script)
	}
	return strings.TrimSpace(string(out))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manyCommits returns SQL making n separate commits with rows of varying
// size, plus an update and a delete, so pages are rewritten in the WAL.
func manyCommits(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "INSERT INTO t(v) VALUES(printf('%%.*c', %d, 'x') || %d);\n", 50+i%700, i)
	}
	b.WriteString("UPDATE t SET v = upper(v) WHERE id % 7 = 0;\nDELETE FROM t WHERE id % 11 = 0;\n")
	return b.String()
}

// SQLite writes, wal reads: sqlite3 leaves an un-checkpointed WAL; wal must
// serve every page exactly as SQLite's own checkpoint of a copy produces,
// and its TRUNCATE checkpoint must yield a db file SQLite finds intact.
func TestSQLiteWALReadByUs(t *testing.T) {
	bin := peertest.Exec(t, "sqlite3", "apt-get install sqlite3")
	for _, tc := range []struct {
		pageSize, commits int
	}{{1024, 4200}, {4096, 300}, {65536, 40}} { // 4200+ frames cross the 4096-frame index block
		t.Run(fmt.Sprintf("page=%d", tc.pageSize), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "a.db")
			sqlite(t, bin, db, fmt.Sprintf(`.dbconfig no_ckpt_on_close on
PRAGMA page_size=%d;
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=0;
PRAGMA synchronous=OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
CREATE INDEX tv ON t(v);
%s`, tc.pageSize, manyCommits(tc.commits)))
			if fi, err := os.Stat(db + "-wal"); err != nil || fi.Size() <= 32 {
				t.Fatalf("sqlite3 left no WAL: %v", err)
			}
			// SQLite's own view: checkpoint a copy.
			ref := filepath.Join(dir, "ref.db")
			copyFile(t, db, ref)
			copyFile(t, db+"-wal", ref+"-wal")
			sqlite(t, bin, ref, "PRAGMA wal_checkpoint(TRUNCATE);")
			want, _ := os.ReadFile(ref)

			st, err := Open(db, &Options{KeepWALOnClose: true, AutoCheckpoint: -1})
			if err != nil {
				t.Fatal(err)
			}
			if st.PageSize() != tc.pageSize {
				t.Fatalf("page size got %d want %d", st.PageSize(), tc.pageSize)
			}
			r, _ := st.Snapshot()
			if got, w := int(r.PageCount()), len(want)/tc.pageSize; got != w {
				t.Fatalf("page count got %d want %d", got, w)
			}
			buf := make([]byte, tc.pageSize)
			for pg := uint32(1); pg <= r.PageCount(); pg++ {
				r.ReadPage(pg, buf)
				if !bytes.Equal(buf, want[int(pg-1)*tc.pageSize:int(pg)*tc.pageSize]) {
					t.Fatalf("page %d differs from SQLite's checkpointed copy", pg)
				}
			}
			r.Close()
			if _, err := st.Checkpoint(context.Background(), Truncate); err != nil {
				t.Fatal(err)
			}
			st.Close()
			got, _ := os.ReadFile(db)
			if !bytes.Equal(got, want) {
				t.Errorf("db after our TRUNCATE checkpoint (%d bytes) differs from SQLite's (%d bytes)", len(got), len(want))
			}
			if fi, _ := os.Stat(db + "-wal"); fi.Size() != 0 {
				t.Errorf("WAL after TRUNCATE is %d bytes", fi.Size())
			}
			os.Remove(db + "-shm")
			// Every row, compared in full with SQLite's own result.
			const q = "PRAGMA integrity_check;\nSELECT count(*) FROM t;\nSELECT id, v FROM t ORDER BY id;"
			out, wantOut := sqlite(t, bin, db, q), sqlite(t, bin, ref, q)
			if !strings.HasPrefix(out, "ok\n") || out != wantOut {
				t.Errorf("sqlite3 on our checkpoint: got %.200q... want %.200q...", out, wantOut)
			}
		})
	}
}

// wal writes, SQLite reads: sqlite3 produces the page images of a
// transaction; we append them to a copy of the original database through
// wal (in two commits with a RESTART checkpoint between, in both checksum
// byte orders); sqlite3 must replay our WAL and see the transaction.
func TestSQLiteReadsOurWAL(t *testing.T) {
	bin := peertest.Exec(t, "sqlite3", "apt-get install sqlite3")
	for _, bigEndian := range []bool{false, true} {
		t.Run(fmt.Sprintf("bigEndianChecksums=%v", bigEndian), func(t *testing.T) {
			dir := t.TempDir()
			base := filepath.Join(dir, "base.db")
			sqlite(t, bin, base, `PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t(v) SELECT printf('base%d', value) FROM generate_series(1, 200);
PRAGMA wal_checkpoint(TRUNCATE);`)
			os.Remove(base + "-wal")
			os.Remove(base + "-shm")
			baseBytes, _ := os.ReadFile(base)

			// Let sqlite3 make the transaction's pages in a donor copy.
			donor := filepath.Join(dir, "donor.db")
			copyFile(t, base, donor)
			sqlite(t, bin, donor, `.dbconfig no_ckpt_on_close on
PRAGMA wal_autocheckpoint=0;
BEGIN;
INSERT INTO t(v) SELECT printf('new%d', value) || hex(randomblob(40)) FROM generate_series(1, 3000);
CREATE TABLE u(k TEXT PRIMARY KEY, n INT);
INSERT INTO u SELECT 'k'||value, value FROM generate_series(1, 500);
DELETE FROM t WHERE id BETWEEN 10 AND 20;
COMMIT;`)
			const q = "SELECT count(*), sum(length(v)) FROM t; SELECT count(*), sum(n) FROM u; SELECT * FROM t ORDER BY id; SELECT * FROM u ORDER BY k;"
			wantOut := sqlite(t, bin, donor, q)
			ds, err := Open(donor, &Options{KeepWALOnClose: true, AutoCheckpoint: -1})
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := ds.Snapshot()
			ps := ds.PageSize()
			newPages := map[uint32][]byte{}
			for pg := uint32(1); pg <= snap.PageCount(); pg++ {
				b := make([]byte, ps)
				snap.ReadPage(pg, b)
				if off := int(pg-1) * ps; off >= len(baseBytes) || !bytes.Equal(b, baseBytes[off:off+ps]) {
					newPages[pg] = b
				}
			}
			nPage := snap.PageCount()
			snap.Close()
			ds.Close()
			if len(newPages) < 10 {
				t.Fatalf("only %d changed pages; the donor transaction did not happen", len(newPages))
			}

			target := filepath.Join(dir, "target.db")
			copyFile(t, base, target)
			st, err := Open(target, &Options{KeepWALOnClose: true, AutoCheckpoint: -1, forceBigEndian: bigEndian})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Commit 1: every changed page but page 1; then a RESTART
			// checkpoint, so commit 2 (page 1 and the size) goes into a new
			// WAL generation written over the old one.
			tx, _ := st.Begin(ctx)
			for pg, b := range newPages {
				if pg != 1 {
					tx.WritePage(pg, b)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Checkpoint(ctx, Restart); err != nil {
				t.Fatal(err)
			}
			tx, _ = st.Begin(ctx)
			tx.WritePage(1, newPages[1])
			if tx.PageCount() != nPage {
				t.Fatalf("page count got %d want %d", tx.PageCount(), nPage)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			st.Close()
			walBytes, _ := os.ReadFile(target + "-wal")
			magic := uint32(walBytes[0])<<24 | uint32(walBytes[1])<<16 | uint32(walBytes[2])<<8 | uint32(walBytes[3])
			if wantMagic := map[bool]uint32{false: magicLE, true: magicBE}[bigEndian || nativeBigEndian]; magic != wantMagic {
				t.Fatalf("WAL magic %#x want %#x", magic, wantMagic)
			}
			// Page 1 is still the old one in the db file: only our WAL can
			// make sqlite3 see the new rows.
			if dbNow, _ := os.ReadFile(target); bytes.Equal(dbNow[:ps], newPages[1]) {
				t.Fatal("page 1 reached the db file; the test would not prove SQLite read our WAL")
			}
			got := sqlite(t, bin, target, "PRAGMA integrity_check;\n"+q)
			if got != "ok\n"+wantOut {
				t.Errorf("sqlite3 reading our WAL: got %.300q... want %.300q...", got, "ok\n"+wantOut)
			}
		})
	}
}
