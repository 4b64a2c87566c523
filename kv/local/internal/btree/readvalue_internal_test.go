package btree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// guard is the byte pattern around a ReadValue destination: ReadValue
// must write its buffer and nothing else, since callers (the kv Client)
// place neighbouring chunks of one value right next to it.
const guard = 0xA5

// placeAt returns a Placer that skips skip bytes and hands out a window of
// exactly the rest, inside a larger buffer with guard bytes on both sides;
// it records the window in *win.
func placeAt(skip int, win *[]byte, outer *[]byte) Placer {
	return func(vlen int, head []byte) (int, []byte, error) {
		if skip > len(head) {
			return 0, nil, fmt.Errorf("skip %d past a head of %d", skip, len(head))
		}
		buf := bytes.Repeat([]byte{guard}, vlen-skip+2*ovfPS)
		*outer = buf
		*win = buf[ovfPS : ovfPS+vlen-skip : ovfPS+vlen-skip]
		return skip, *win, nil
	}
}

// TestReadValue: ReadValue lands every value (inline, one overflow page,
// exact page multiples, long and fragmented chains) in the caller's
// buffer byte for byte as Value returns it, whatever prefix the placer
// skips, through run reads and page reads alike, and writes nothing
// outside the buffer.
func TestReadValue(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 3))
	per := capacity(ovfPS)
	f := newOvfFixture(t)
	sizes := map[string]int{
		"inline": 100, "one page": per - 1, "exact page": per, "two pages": per + 1,
		"exact 5 pages": 5 * per, "300 pages": 300*per - 17,
	}
	vals := map[string][]byte{}
	// Fragment the free list first, so that "frag" is written into runs
	// of five pages with breaks between them.
	f.commit(func(tx *Tx) {
		for i := range 20 {
			if err := tx.Put(f.root, fmt.Appendf(nil, "s%02d", i), randBytes(r, 5*per)); err != nil {
				t.Fatal(err)
			}
		}
	})
	f.commit(func(tx *Tx) {
		for i := 0; i < 20; i += 2 {
			if _, err := tx.Delete(f.root, fmt.Appendf(nil, "s%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
	})
	vals["frag"] = randBytes(r, 80*per)
	f.commit(func(tx *Tx) {
		if err := tx.Put(f.root, []byte("frag"), vals["frag"]); err != nil {
			t.Fatal(err)
		}
	})
	f.commit(func(tx *Tx) {
		for k, n := range sizes {
			vals[k] = randBytes(r, n)
			if err := tx.Put(f.root, []byte(k), vals[k]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if runs := runsOf(f.chainOf(func() *Tx { tx, _ := f.reader(nil); return tx }(), "frag")); runs < 5 {
		t.Fatalf("frag chain has %d runs; the test wants a fragmented one", runs)
	}
	for _, rd := range []struct {
		name string
		fn   func(*memSnap) PageReader
	}{{"runs", nil}, {"pages", func(s *memSnap) PageReader { return pageOnly{s} }}} {
		for k, want := range vals {
			for _, skip := range []int{0, 1, 10, min(len(want), per)} {
				t.Run(fmt.Sprintf("%s/%s/skip=%d", rd.name, k, skip), func(t *testing.T) {
					rtx, _ := f.reader(rd.fn)
					c := rtx.Cursor(f.root)
					c.Seek([]byte(k))
					var win, outer []byte
					if err := c.ReadValue(placeAt(skip, &win, &outer)); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(win, want[skip:]) {
						t.Fatalf("got %d bytes, want %d (first difference at %d)", len(win), len(want)-skip, firstDiff(win, want[skip:]))
					}
					for i, b := range outer[:ovfPS] {
						if b != guard {
							t.Fatalf("byte %d before the buffer overwritten: %#x", ovfPS-i, b)
						}
					}
					for i, b := range outer[ovfPS+len(win):] {
						if b != guard {
							t.Fatalf("byte %d after the buffer overwritten: %#x", i, b)
						}
					}
				})
			}
		}
	}

	t.Run("nil dst reads no further", func(t *testing.T) {
		rtx, snap := f.reader(nil)
		c := rtx.Cursor(f.root)
		c.Seek([]byte("300 pages"))
		var gotLen, gotHead int
		err := c.ReadValue(func(vlen int, head []byte) (int, []byte, error) {
			gotLen, gotHead = vlen, len(head)
			return 0, nil, nil
		})
		if err != nil || gotLen != len(vals["300 pages"]) || gotHead != per {
			t.Fatalf("got vlen %d, head %d, %v; want %d, %d, nil", gotLen, gotHead, err, len(vals["300 pages"]), per)
		}
		if snap.runReads != 0 {
			t.Errorf("%d run reads after the placer declined, want 0", snap.runReads)
		}
	})
	t.Run("placer errors", func(t *testing.T) {
		for _, k := range []string{"inline", "300 pages"} {
			for name, place := range map[string]Placer{
				"short dst": func(vlen int, _ []byte) (int, []byte, error) { return 0, make([]byte, vlen-1), nil },
				"skip too far": func(vlen int, h []byte) (int, []byte, error) {
					return len(h) + 1, make([]byte, max(0, vlen-len(h)-1)), nil
				},
				"negative skip": func(vlen int, _ []byte) (int, []byte, error) { return -1, make([]byte, vlen+1), nil },
			} {
				rtx, _ := f.reader(nil)
				c := rtx.Cursor(f.root)
				c.Seek([]byte(k))
				if err := c.ReadValue(place); !errors.Is(err, errPlacement) {
					t.Errorf("%s, %s: got %v, want errPlacement", k, name, err)
				}
			}
			mine := errors.New("mine")
			rtx, _ := f.reader(nil)
			c := rtx.Cursor(f.root)
			c.Seek([]byte(k))
			if err := c.ReadValue(func(int, []byte) (int, []byte, error) { return 0, nil, mine }); err != mine {
				t.Errorf("%s: the placer's error: got %v, want it passed through", k, err)
			}
		}
	})
}

// TestReadValueCorrupt: ReadValue meets a damaged chain (first page,
// middle, last) with a CorruptError, as Value does, never wrong bytes.
func TestReadValueCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 4))
	per := capacity(ovfPS)
	val := randBytes(r, 20*per-7)
	for _, d := range []struct {
		name string
		page int
		fn   func(p []byte)
	}{
		{"first page not overflow", 0, func(p []byte) { p[0] = typeLeaf }},
		{"first page short", 0, func(p []byte) { binary.BigEndian.PutUint16(p[2:], 10) }},
		{"first page links past the file", 0, func(p []byte) { binary.BigEndian.PutUint32(p[4:], 1<<30) }},
		{"middle ends early", 9, func(p []byte) { binary.BigEndian.PutUint32(p[4:], 0) }},
		{"last too long", 19, func(p []byte) { binary.BigEndian.PutUint16(p[2:], uint16(per)) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			f := damagedChain(t, val, d.page, func(p []byte, _ []uint32) { d.fn(p) })
			for _, wrap := range bothReaders {
				rtx, _ := f.reader(wrap)
				c := rtx.Cursor(f.root)
				c.Seek([]byte("v"))
				var win, outer []byte
				err := c.ReadValue(placeAt(0, &win, &outer))
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("err %v; want a CorruptError", err)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
