package wal

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/edgekit/edgekit/wal/vfs"
)

// The header of a fresh WAL written by sqlite3 3.40.1 on x86 (research note
// §1.1): its stored checksum must be what our checksum computes.
func TestHeaderChecksumMatchesSQLite(t *testing.T) {
	b, _ := hex.DecodeString("377f0682002de21800001000000000006" + "70d0ca600415e857af3107ab839291f")
	h, st := parseHeader(b)
	if st != headerOK {
		t.Fatalf("parseHeader: status %d", st)
	}
	want := walHeader{bigEndian: false, pageSize: 4096, ckptSeq: 0, salt: [2]uint32{0x670d0ca6, 0x00415e85}, cksum: cksum{0x7af3107a, 0xb839291f}}
	if h != want {
		t.Errorf("got %+v want %+v", h, want)
	}
	var enc [32]byte
	encodeHeader(enc[:], want)
	if !bytes.Equal(enc[:], b) {
		t.Errorf("encodeHeader got %x want %x", enc, b)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := func() []byte {
		var b [32]byte
		encodeHeader(b[:], walHeader{pageSize: 4096, salt: [2]uint32{1, 2}})
		return b[:]
	}
	for _, tc := range []struct {
		name   string
		mutate func(b []byte)
		want   headerStatus
	}{
		{"ok", func([]byte) {}, headerOK},
		{"short", nil, headerInvalid},
		{"magic", func(b []byte) { b[3] = 0x84 }, headerInvalid},
		{"magic low bit flips checksum order", func(b []byte) { b[3] ^= 1 }, headerInvalid},
		{"salt changed", func(b []byte) { b[17]++ }, headerInvalid},
		{"page size 1000", func(b []byte) { b[10], b[11] = 0x03, 0xe8; reseal(b) }, headerInvalid},
		{"page size 256", func(b []byte) { b[10], b[11] = 0x01, 0x00; reseal(b) }, headerInvalid},
		{"page size 131072", func(b []byte) { b[9], b[10] = 0x02, 0; reseal(b) }, headerInvalid},
		{"version", func(b []byte) { b[7]++; reseal(b) }, headerBadVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			if tc.mutate == nil {
				b = b[:31]
			} else {
				tc.mutate(b)
			}
			if _, got := parseHeader(b); got != tc.want {
				t.Errorf("got status %d want %d", got, tc.want)
			}
		})
	}
}

// reseal recomputes a header's checksum after a test edits it.
func reseal(b []byte) {
	c := (cksum{}).update(b[3]&1 == 1, b[:24])
	for i, v := range c {
		b[24+4*i], b[25+4*i], b[26+4*i], b[27+4*i] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
}

func TestOpenBadVersion(t *testing.T) {
	fs := vfs.NewMem()
	var b [32]byte
	encodeHeader(b[:], walHeader{pageSize: 512, salt: [2]uint32{1, 2}})
	b[7]++
	reseal(b[:])
	fs.WriteFile("/v.db-wal", b[:])
	if _, err := Open("/v.db", &Options{FS: fs}); !errors.Is(err, ErrVersion) {
		t.Errorf("got %v want ErrVersion", err)
	}
}

func TestFrameRoundTripBothOrders(t *testing.T) {
	for _, be := range []bool{false, true} {
		h := walHeader{bigEndian: be, pageSize: 512, salt: [2]uint32{7, 9}}
		var hb [32]byte
		h = encodeHeader(hb[:], h)
		page := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 64)
		fr := make([]byte, 24+512)
		copy(fr[24:], page)
		c := encodeFrame(fr[:24], &h, h.cksum, 3, 5, fr[24:])
		pg, commit, c2, ok := decodeFrame(fr, &h, h.cksum)
		if !ok || pg != 3 || commit != 5 || c2 != c {
			t.Errorf("be=%v: decode got %d %d %v %v", be, pg, commit, c2, ok)
		}
		other := h
		other.bigEndian = !be
		if _, _, _, ok := decodeFrame(fr, &other, h.cksum); ok {
			t.Errorf("be=%v: frame verified under the other byte order", be)
		}
	}
}

// The wal-index against a naive model, across block boundaries.
func TestIndexMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := newIndex()
	var frames []uint32
	const n = 3*indexBlockFrames + 100
	for range n {
		pg := 1 + rng.Uint32N(50)
		if rng.IntN(3) == 0 {
			pg = 1 + rng.Uint32N(100000)
		}
		frames = append(frames, pg)
		x.append(pg, 0)
	}
	for range 20000 {
		mark := uint32(rng.IntN(n + 1))
		pg := 1 + rng.Uint32N(60)
		if rng.IntN(4) == 0 {
			pg = frames[rng.IntN(n)]
		}
		var want uint32
		for f := mark; f > 0; f-- {
			if frames[f-1] == pg {
				want = f
				break
			}
		}
		if got := x.lookup(pg, mark); got != want {
			t.Fatalf("lookup(%d, %d) got %d want %d", pg, mark, got, want)
		}
	}
}

// FuzzParseHeader: any 32 bytes parse without panicking, and whatever parses
// as OK re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	b, _ := hex.DecodeString("377f0682002de21800001000000000006" + "70d0ca600415e857af3107ab839291f")
	f.Add(b)
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := parseHeader(b)
		if st != headerOK {
			return
		}
		var enc [32]byte
		encodeHeader(enc[:], h)
		if !bytes.Equal(enc[:], b[:32]) {
			t.Fatalf("round trip: got %x want %x", enc, b[:32])
		}
	})
}

// FuzzRecover: Open on arbitrary WAL bytes never panics, recovers only
// frames that verify, and a second recovery agrees with the first.
func FuzzRecover(f *testing.F) {
	fs := vfs.NewMem()
	st, _ := Open("/s.db", &Options{PageSize: 512, FS: fs, KeepWALOnClose: true, AutoCheckpoint: -1})
	ctx := context.Background()
	for i := range 3 {
		tx, _ := st.Begin(ctx)
		tx.WritePage(uint32(1+i), bytes.Repeat([]byte{byte(i)}, 512))
		tx.WritePage(1, bytes.Repeat([]byte{byte(10 + i)}, 512))
		tx.Commit(ctx)
	}
	st.Close()
	seed, _ := fs.ReadFile("/s.db-wal")
	f.Add(seed)
	f.Add(seed[:len(seed)-100])
	f.Add(seed[:32])
	f.Fuzz(func(t *testing.T, walBytes []byte) {
		fs := vfs.NewMem()
		fs.WriteFile("/f.db-wal", walBytes)
		st, err := Open("/f.db", &Options{FS: fs, KeepWALOnClose: true, AutoCheckpoint: -1})
		if err != nil {
			if errors.Is(err, ErrVersion) {
				return
			}
			t.Fatalf("Open: %v", err)
		}
		frames, pages := st.Stats().Frames, st.PageCount()
		r, _ := st.Snapshot()
		buf := make([]byte, st.PageSize())
		for pg := uint32(1); pg <= min(pages, 64); pg++ {
			if err := r.ReadPage(pg, buf); err != nil {
				t.Fatalf("ReadPage(%d): %v", pg, err)
			}
		}
		r.Close()
		st.Close()
		if frames > 0 && int64(len(walBytes)) < frameOffset(frames+1, st.PageSize()) {
			t.Fatalf("recovered %d frames from a %d-byte WAL", frames, len(walBytes))
		}
		st2, err := Open("/f.db", &Options{FS: fs, KeepWALOnClose: true, AutoCheckpoint: -1})
		if err != nil {
			t.Fatal(err)
		}
		if f2 := st2.Stats().Frames; f2 != frames || st2.PageCount() != pages {
			t.Fatalf("second recovery: %d frames %d pages, first %d %d", f2, st2.PageCount(), frames, pages)
		}
		st2.Close()
	})
}

// FuzzDecodeFrame: header plus one frame; whatever verifies re-encodes to
// the same bytes, and no input panics.
func FuzzDecodeFrame(f *testing.F) {
	var hb [32]byte
	h := encodeHeader(hb[:], walHeader{pageSize: 512, salt: [2]uint32{3, 4}})
	fr := make([]byte, 24+512)
	fr[30] = 7
	encodeFrame(fr[:24], &h, h.cksum, 2, 2, fr[24:])
	f.Add(append(hb[:], fr...))
	f.Add(append(hb[:], fr[:100]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := parseHeader(b)
		if st != headerOK || len(b) < 32+24+h.pageSize {
			return
		}
		frame := b[32 : 32+24+h.pageSize]
		pgno, commit, c, ok := decodeFrame(frame, &h, h.cksum)
		if !ok {
			return
		}
		enc := make([]byte, 24)
		if c2 := encodeFrame(enc, &h, h.cksum, pgno, commit, frame[24:]); c2 != c || !bytes.Equal(enc, frame[:24]) {
			t.Fatalf("re-encoded frame header %x, want %x", enc, frame[:24])
		}
	})
}

// A WAL with big-endian checksums (magic 0x377f0683) is recovered, appended
// to in the same order, and a restart switches to the native order.
func TestBigEndianWALRecoverAppendRestart(t *testing.T) {
	fs := vfs.NewMem()
	ctx := context.Background()
	commit := func(st *Store, pg uint32, b byte) {
		tx, _ := st.Begin(ctx)
		tx.WritePage(pg, bytes.Repeat([]byte{b}, 512))
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	magic := func() uint32 {
		b, _ := fs.ReadFile("/be.db-wal")
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	o := &Options{PageSize: 512, FS: fs, AutoCheckpoint: -1, KeepWALOnClose: true, forceBigEndian: true}
	st, _ := Open("/be.db", o)
	commit(st, 1, 'a')
	commit(st, 2, 'b')
	st.Close()
	if magic() != magicBE {
		t.Fatalf("magic %#x want %#x", magic(), magicBE)
	}
	o.forceBigEndian = false
	st, _ = Open("/be.db", o)
	if f := st.Stats().Frames; f != 2 {
		t.Fatalf("recovered %d frames of a big-endian WAL, want 2", f)
	}
	commit(st, 3, 'c') // same generation: must keep the big-endian chain
	st.Close()
	st, _ = Open("/be.db", o)
	if f := st.Stats().Frames; f != 3 {
		t.Fatalf("after appending: recovered %d frames, want 3", f)
	}
	st.Checkpoint(ctx, Restart)
	commit(st, 1, 'd')
	st.Close()
	if want := map[bool]uint32{false: magicLE, true: magicBE}[nativeBigEndian]; magic() != want {
		t.Errorf("after restart magic %#x want native %#x", magic(), want)
	}
	st, _ = Open("/be.db", o)
	defer st.Close()
	r, _ := st.Snapshot()
	defer r.Close()
	buf := make([]byte, 512)
	for pg, want := range map[uint32]byte{1: 'd', 2: 'b', 3: 'c'} {
		r.ReadPage(pg, buf)
		if buf[0] != want {
			t.Errorf("page %d got %q want %q", pg, buf[0], want)
		}
	}
}
