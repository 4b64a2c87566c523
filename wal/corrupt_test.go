package wal_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

const corruptPS = 512
const frameSize = 24 + corruptPS

// buildWAL commits the workload with everything left in the WAL and returns
// the WAL bytes, the db bytes and the last frame of each commit.
func buildWAL(t *testing.T, w *workload) (walBytes, db []byte, ends []int) {
	t.Helper()
	fs := vfs.NewMem()
	st := mustOpen(t, fs, &wal.Options{PageSize: corruptPS, AutoCheckpoint: -1, KeepWALOnClose: true})
	end := 0
	for i := 1; i <= len(w.commits); i++ {
		if err := w.apply(context.Background(), st, i); err != nil {
			t.Fatal(err)
		}
		end += len(w.commits[i-1].writes)
		ends = append(ends, end)
	}
	st.Close()
	walBytes, _ = fs.ReadFile("/db/test.db-wal")
	db, _ = fs.ReadFile("/db/test.db")
	if len(walBytes) != 32+end*frameSize {
		t.Fatalf("WAL is %d bytes, want %d", len(walBytes), 32+end*frameSize)
	}
	return walBytes, db, ends
}

// commitsBefore returns how many commits end at or before frame n.
func commitsBefore(ends []int, n int) int {
	k := 0
	for k < len(ends) && ends[k] <= n {
		k++
	}
	return k
}

// recoverFrom opens db + damaged WAL and returns the commit the store is at,
// failing the test if any page differs from that commit's state.
func recoverFrom(t *testing.T, w *workload, db, walBytes []byte) int {
	t.Helper()
	fs := vfs.NewMem()
	fs.WriteFile("/db/test.db", db)
	fs.WriteFile("/db/test.db-wal", walBytes)
	st, err := wal.Open("/db/test.db", &wal.Options{PageSize: corruptPS, FS: fs, AutoCheckpoint: -1, KeepWALOnClose: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	k, err := w.check(st)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTornWALEveryOffset(t *testing.T) {
	w := newWorkload(11, corruptPS, 12, 20)
	walBytes, db, ends := buildWAL(t, w)
	total := ends[len(ends)-1]
	from := 32 + (total-4)*frameSize // the last four frames, byte by byte
	if !*flagLong {
		from = 32 + (total-3)*frameSize
	}
	for _, cut := range append([]int{0, 1, 31, 32, 33}, rangeInts(from, len(walBytes)+1)...) {
		want := 0
		if cut >= 32 {
			want = commitsBefore(ends, (cut-32)/frameSize)
		}
		if got := recoverFrom(t, w, db, walBytes[:cut]); got != want {
			t.Fatalf("WAL cut at byte %d: recovered commit %d, want %d", cut, got, want)
		}
	}
}

func rangeInts(a, b int) []int {
	out := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		out = append(out, i)
	}
	return out
}

func TestBitFlips(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	w := newWorkload(seed, corruptPS, 12, 25)
	walBytes, db, ends := buildWAL(t, w)
	trials := 300
	if *flagLong {
		trials = 5000
	}
	for range trials {
		pos := rng.IntN(len(walBytes))
		bit := byte(1) << rng.IntN(8)
		bad := append([]byte(nil), walBytes...)
		bad[pos] ^= bit
		want := 0
		if pos >= 32 {
			want = commitsBefore(ends, (pos-32)/frameSize) // frame (pos-32)/frameSize+1 is broken
		}
		if got := recoverFrom(t, w, db, bad); got != want {
			t.Fatalf("bit %#x flipped at byte %d (frame %d): recovered commit %d, want %d", bit, pos, (pos-32)/frameSize+1, got, want)
		}
	}
}

func TestZeroedSectors(t *testing.T) {
	seed := seedFor(t)
	w := newWorkload(seed, corruptPS, 12, 25)
	walBytes, db, ends := buildWAL(t, w)
	for s := 0; s*512 < len(walBytes); s++ {
		bad := append([]byte(nil), walBytes...)
		clear(bad[s*512 : min(len(bad), (s+1)*512)])
		want := 0
		if s > 0 {
			first := max(0, s*512-32) / frameSize // first broken frame, 0-based
			want = commitsBefore(ends, first)
		}
		if got := recoverFrom(t, w, db, bad); got != want {
			t.Fatalf("sector %d zeroed: recovered commit %d, want %d", s, got, want)
		}
	}
}

// After a restart the file still holds old-generation frames past the new
// tail; they must fail the salt check, not be replayed.
func TestStaleGenerationFramesIgnored(t *testing.T) {
	fs := vfs.NewMem()
	o := &wal.Options{PageSize: corruptPS, AutoCheckpoint: -1, KeepWALOnClose: true}
	st := mustOpen(t, fs, o)
	w := newWorkload(5, corruptPS, 10, 30)
	ctx := context.Background()
	for i := 1; i <= 25; i++ {
		w.apply(ctx, st, i)
	}
	st.Checkpoint(ctx, wal.Passive)
	for i := 26; i <= 27; i++ {
		w.apply(ctx, st, i) // restarts the WAL: 2 short commits over a long old tail
	}
	st.Close()
	st = mustOpen(t, fs, o)
	defer st.Close()
	if k, err := w.check(st); err != nil || k != 27 {
		t.Fatalf("recovered commit %d, %v; want 27", k, err)
	}
	if s := st.Stats(); s.Frames != uint32(len(w.commits[25].writes)+len(w.commits[26].writes)) {
		t.Errorf("recovered %d frames, want only the new generation's", s.Frames)
	}
}
