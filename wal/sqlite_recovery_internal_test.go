package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/internal/peertest"
)

// killedSQLiteWAL makes sqlite3 commit a few transactions and then spill an
// uncommitted one into the WAL (a tiny page cache forces it), and kills it
// with SIGKILL mid-transaction. The WAL then holds committed frames followed
// by uncommitted ones, some with zeroed salts and checksums (research §1.5).
func killedSQLiteWAL(t *testing.T, bin, db string) {
	t.Helper()
	cmd := exec.Command(bin, "-batch", db)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(stdin, `PRAGMA page_size=1024;
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=0;
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
INSERT INTO t(v) SELECT randomblob(300) FROM generate_series(1, 200);
UPDATE t SET v = randomblob(310) WHERE id % 3 = 0;
INSERT INTO t(v) SELECT randomblob(200) FROM generate_series(1, 50);
PRAGMA cache_size=4;
BEGIN;
INSERT INTO t(v) SELECT randomblob(600) FROM generate_series(1, 400);
UPDATE t SET v = randomblob(100) WHERE id < 50;
.print READY
`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "READY") {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
}

// SQLite's own recovery is the oracle for ours: on a WAL that sqlite3 left
// mid-transaction, and on copies of it cut at random offsets, both must keep
// exactly the same committed prefix, page for page.
func TestRecoveryMatchesSQLite(t *testing.T) {
	bin := peertest.Exec(t, "sqlite3", "apt-get install sqlite3")
	seed := rand.Uint64()
	if v, err := strconv.ParseUint(os.Getenv("EDGEKIT_WAL_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with EDGEKIT_WAL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	killedSQLiteWAL(t, bin, src)
	dbBytes, _ := os.ReadFile(src)
	walBytes, _ := os.ReadFile(src + "-wal")
	if len(walBytes) < 32+100*(1024+24) {
		t.Fatalf("sqlite3 left a %d-byte WAL; expected a spilled transaction", len(walBytes))
	}
	cuts := []int{len(walBytes)}
	for range 12 {
		cuts = append(cuts, 32+rng.IntN(len(walBytes)-32))
	}
	for i, cut := range cuts {
		name := fmt.Sprintf("cut%d", i)
		// SQLite's view of the cut WAL.
		ref := filepath.Join(dir, name+"-ref.db")
		os.WriteFile(ref, dbBytes, 0o644)
		os.WriteFile(ref+"-wal", walBytes[:cut], 0o644)
		sqlite(t, bin, ref, "PRAGMA wal_checkpoint(TRUNCATE);")
		want, _ := os.ReadFile(ref)
		// Ours.
		ours := filepath.Join(dir, name+".db")
		os.WriteFile(ours, dbBytes, 0o644)
		os.WriteFile(ours+"-wal", walBytes[:cut], 0o644)
		st, err := Open(ours, &Options{AutoCheckpoint: -1, KeepWALOnClose: true})
		if err != nil {
			t.Fatal(err)
		}
		ps := st.PageSize()
		if inFile := uint32((cut - 32) / (ps + 24)); i == 0 && st.Stats().Frames >= inFile {
			t.Fatalf("recovered all %d frames of the uncut WAL; the spilled transaction's frames must be dropped", inFile)
		}
		r, _ := st.Snapshot()
		if int(r.PageCount())*ps != len(want) {
			t.Fatalf("WAL cut at %d of %d: %d pages, SQLite recovered %d", cut, len(walBytes), r.PageCount(), len(want)/ps)
		}
		buf := make([]byte, ps)
		for pg := uint32(1); pg <= r.PageCount(); pg++ {
			r.ReadPage(pg, buf)
			if !bytes.Equal(buf, want[int(pg-1)*ps:int(pg)*ps]) {
				t.Fatalf("WAL cut at %d of %d: page %d differs from SQLite's recovery", cut, len(walBytes), pg)
			}
		}
		r.Close()
		st.Close()
	}
}
