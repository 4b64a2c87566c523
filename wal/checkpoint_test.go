package wal_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

type walHdr struct{ seq, salt1, salt2 uint32 }

func readWALHeader(t *testing.T, fs *vfs.Mem) walHdr {
	t.Helper()
	b, _ := fs.ReadFile("/db/test.db-wal")
	if len(b) < 32 {
		t.Fatalf("WAL is %d bytes", len(b))
	}
	u := func(o int) uint32 { return binary.BigEndian.Uint32(b[o:]) }
	return walHdr{u(12), u(16), u(20)}
}

func noAuto() *wal.Options { return &wal.Options{PageSize: 512, AutoCheckpoint: -1} }

func TestCheckpointPassiveStopsAtOldestSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, noAuto())
	defer st.Close()
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: 'a'})         // frame 1
	writeTx(t, st, map[uint32]byte{1: 'b', 2: 'x'}) // frames 2-3
	old, _ := st.Snapshot()                         // mark 3
	writeTx(t, st, map[uint32]byte{1: 'c'})         // frame 4
	res, err := st.Checkpoint(ctx, wal.Passive)
	if err != nil || res != (wal.CheckpointResult{LogFrames: 4, Checkpointed: 3}) {
		t.Fatalf("passive: got %+v, %v want {4 3}, nil", res, err)
	}
	db, _ := fs.ReadFile("/db/test.db")
	if db[0] != 'b' {
		t.Errorf("db page 1 after passive got %q want 'b' (frame 4 is newer than the snapshot)", db[0])
	}
	buf := make([]byte, 512)
	old.ReadPage(1, buf)
	if buf[0] != 'b' {
		t.Errorf("old snapshot page 1 got %q want 'b'", buf[0])
	}
	// FULL cannot finish while the old snapshot lives: it gives up with ctx.
	tctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	res, err = st.Checkpoint(tctx, wal.Full)
	cancel()
	if !errors.Is(err, wal.ErrBusy) || res.Checkpointed != 3 {
		t.Fatalf("full with old reader: got %+v, %v want busy, 3 checkpointed", res, err)
	}
	// Once the reader leaves, FULL (waiting) completes.
	go func() { time.Sleep(20 * time.Millisecond); old.Close() }()
	res, err = st.Checkpoint(ctx, wal.Full)
	if err != nil || res != (wal.CheckpointResult{LogFrames: 4, Checkpointed: 4}) {
		t.Fatalf("full: got %+v, %v want {4 4}", res, err)
	}
	db, _ = fs.ReadFile("/db/test.db")
	if db[0] != 'c' || len(db) != 1024 {
		t.Errorf("db after full: page 1 %q, %d bytes; want 'c', 1024", db[0], len(db))
	}
}

func TestCheckpointRestartNewGeneration(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, noAuto())
	defer st.Close()
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: 'a', 2: 'b'})
	h0 := readWALHeader(t, fs)
	res, err := st.Checkpoint(ctx, wal.Restart)
	if err != nil || res.LogFrames != 0 {
		t.Fatalf("restart: got %+v, %v", res, err)
	}
	if h := readWALHeader(t, fs); h != h0 {
		t.Errorf("RESTART must not rewrite the header itself: got %+v want %+v", h, h0)
	}
	writeTx(t, st, map[uint32]byte{1: 'c'})
	h1 := readWALHeader(t, fs)
	if h1.seq != h0.seq+1 || h1.salt1 != h0.salt1+1 || h1.salt2 == h0.salt2 {
		t.Errorf("new generation header got %+v, want seq %d salt1 %#x and a new salt2 (old %+v)", h1, h0.seq+1, h0.salt1+1, h0)
	}
	if got := readByte(t, st, 1); got != 'c' {
		t.Errorf("page 1 got %q want 'c'", got)
	}
	if got := readByte(t, st, 2); got != 'b' {
		t.Errorf("page 2 got %q want 'b'", got)
	}
}

func TestCheckpointTruncate(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, noAuto())
	defer st.Close()
	ctx := context.Background()
	writeTx(t, st, map[uint32]byte{1: 'a', 2: 'b'})
	r, _ := st.Snapshot()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := st.Checkpoint(tctx, wal.Truncate)
	cancel()
	if !errors.Is(err, wal.ErrBusy) {
		t.Errorf("truncate with a WAL reader: got %v want ErrBusy", err)
	}
	r.Close()
	res, err := st.Checkpoint(ctx, wal.Truncate)
	if err != nil || res != (wal.CheckpointResult{}) {
		t.Fatalf("truncate: got %+v, %v want {0 0}", res, err)
	}
	if b, _ := fs.ReadFile("/db/test.db-wal"); len(b) != 0 {
		t.Errorf("WAL after TRUNCATE is %d bytes, want 0", len(b))
	}
	// A snapshot taken now reads only the db file and does not stop a restart.
	r2, _ := st.Snapshot()
	defer r2.Close()
	writeTx(t, st, map[uint32]byte{1: 'z'})
	buf := make([]byte, 512)
	r2.ReadPage(1, buf)
	if buf[0] != 'a' {
		t.Errorf("db-only snapshot page 1 got %q want 'a'", buf[0])
	}
	if got := readByte(t, st, 1); got != 'z' {
		t.Errorf("latest page 1 got %q want 'z'", got)
	}
	// The db-only snapshot holds the new frame back from the db file.
	res, _ = st.Checkpoint(ctx, wal.Passive)
	if res.Checkpointed != 0 {
		t.Errorf("passive with db-only snapshot checkpointed %d frames, want 0", res.Checkpointed)
	}
}

func TestWriterRestartsWALAfterFullCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, noAuto())
	defer st.Close()
	ctx := context.Background()
	for i := range 5 {
		writeTx(t, st, map[uint32]byte{1: byte('a' + i), 2: 'x'})
	}
	h0 := readWALHeader(t, fs)
	st.Checkpoint(ctx, wal.Passive)
	writeTx(t, st, map[uint32]byte{3: 'q'})
	if h := readWALHeader(t, fs); h.salt1 != h0.salt1+1 {
		t.Errorf("commit after a complete checkpoint should restart the WAL: header %+v, old %+v", h, h0)
	}
	if s := st.Stats(); s.Frames != 1 || s.Restarts != 1 {
		t.Errorf("stats got %+v want 1 frame, 1 restart", s)
	}
	b, _ := fs.ReadFile("/db/test.db-wal")
	if len(b) != 32+10*(24+512) {
		t.Errorf("WAL file %d bytes: the restart must reuse the file, not truncate it", len(b))
	}
}

func TestAutoCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	st := mustOpen(t, fs, &wal.Options{PageSize: 512, AutoCheckpoint: 10})
	defer st.Close()
	for i := range 200 {
		writeTx(t, st, map[uint32]byte{1: byte(i), uint32(2 + i%7): 1})
	}
	// The background checkpointer catches up to within one threshold
	// without anyone asking (it runs only when 10 or more frames wait).
	for s := st.Stats(); s.Checkpoints == 0 || s.Frames-s.Backfilled >= 10; s = st.Stats() {
		time.Sleep(time.Millisecond) // bounded by the test timeout
	}
	// A full checkpoint leaves nothing to copy; the next commit restarts.
	st.Checkpoint(context.Background(), wal.Full)
	writeTx(t, st, map[uint32]byte{9: 9})
	if s := st.Stats(); s.Restarts == 0 || s.Frames != 1 {
		t.Fatalf("after checkpoints and one commit: %+v; want a restart and 1 frame", s)
	}
	if got := readByte(t, st, 1); got != 199 {
		t.Errorf("page 1 got %d want 199", got)
	}
}

func TestCheckpointModeString(t *testing.T) {
	for m, want := range map[wal.CheckpointMode]string{wal.Passive: "PASSIVE", wal.Full: "FULL", wal.Restart: "RESTART", wal.Truncate: "TRUNCATE"} {
		if m.String() != want {
			t.Errorf("got %q want %q", m.String(), want)
		}
	}
	st := mustOpen(t, vfs.NewMem(), nil)
	defer st.Close()
	if _, err := st.Checkpoint(context.Background(), 9); err == nil {
		t.Error("mode 9 accepted")
	}
}
