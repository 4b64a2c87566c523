package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/kv"
)

// intoGuard fills the bytes around ReadInto's buffers: a Store must write
// its buffers and nothing else, because the Client places neighbouring
// chunks of one value right next to each other.
const intoGuard = 0x5A

// intoLayout places buffers of the given lengths in one slice, each
// preceded and followed by guard bytes.
type intoLayout struct {
	all  []byte
	offs []int // where each buffer starts in all
	dsts [][]byte
}

func newIntoLayout(lens []int) *intoLayout {
	const gap = 64
	total := gap
	for _, n := range lens {
		total += n + gap
	}
	l := &intoLayout{all: bytes.Repeat([]byte{intoGuard}, total)}
	off := gap
	for _, n := range lens {
		l.offs = append(l.offs, off)
		l.dsts = append(l.dsts, l.all[off:off+n:off+n])
		off += n + gap
	}
	return l
}

// guardsIntact reports the first guard byte that was overwritten.
func (l *intoLayout) guardsIntact() error {
	in := make([]bool, len(l.all))
	for i, d := range l.dsts {
		for j := range d {
			in[l.offs[i]+j] = true
		}
	}
	for i, b := range l.all {
		if !in[i] && b != intoGuard {
			return fmt.Errorf("byte %d outside every buffer overwritten: %#x", i, b)
		}
	}
	return nil
}

// testIntoReader checks kv.IntoReader, for Stores that implement it:
// ReadInto agrees with Read on every key (live, deleted, range-deleted,
// under a record tombstone, never written, empty), reads nothing into a
// buffer of the wrong length, writes no byte outside its buffers (also
// when goroutines read disjoint parts of one buffer at once), and
// rejects bad input as Read does.
func (s *suite) testIntoReader(t *testing.T, e *env) {
	r, ok := e.s.(kv.IntoReader)
	if !ok {
		t.Skipf("%T does not implement kv.IntoReader", e.s)
	}
	vals := map[string][]byte{
		"small": []byte("hello"),
		"empty": {},
		"big":   payload(300<<10, 1), // many pages of an overflow chain
		"mid":   payload(5000, 2),    // just over a page
		"meta":  payload(20<<10, 3),  // written with more metadata than a page
	}
	for k, v := range vals {
		m := put(k, "", e.next())
		m.Value = v
		if k == "meta" {
			m.Metadata = payload(10<<10, 4)
		}
		e.apply("r", m)
	}
	// Hidden values: deleted, range-deleted, older than a record tombstone.
	e.apply("r", put("gone", "x", e.next()), put("ranged", "y", e.next()))
	e.apply("r", del("gone", e.next()), delRange([]byte("ra"), []byte("rb"), e.next()))
	e.apply("dead", put("k", "z", e.next()))
	e.apply("dead", delRecord(e.next()))

	keys := []string{"small", "empty", "big", "mid", "meta", "gone", "ranged", "never"}
	want := func(k string) int {
		if v, ok := vals[k]; ok {
			return len(v)
		}
		return -1
	}

	t.Run("exact", func(t *testing.T) {
		lens := make([]int, len(keys))
		for i, k := range keys {
			lens[i] = max(0, want(k))
		}
		l := newIntoLayout(lens)
		got, err := r.ReadInto(e.ctx, e.ns, "r", bytesList(keys), l.dsts)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if got[i] != want(k) {
				t.Errorf("%s: length %d, want %d", k, got[i], want(k))
			} else if want(k) >= 0 && !bytes.Equal(l.dsts[i], vals[k]) {
				t.Errorf("%s: value differs from what was written", k)
			}
			// The same answer as Read.
			res, err := e.s.Read(e.ctx, e.ns, "r", kv.Query{Keys: [][]byte{[]byte(k)}})
			if err != nil {
				t.Fatal(err)
			}
			if (len(res.Items) == 1) != (got[i] >= 0) || len(res.Items) == 1 && !bytes.Equal(res.Items[0].Value, l.dsts[i]) {
				t.Errorf("%s: ReadInto says %d bytes, Read returns %d items", k, got[i], len(res.Items))
			}
		}
		if err := l.guardsIntact(); err != nil {
			t.Error(err)
		}
	})

	t.Run("wrong-length", func(t *testing.T) {
		ks := []string{"small", "big", "mid", "meta", "big", "gone"}
		lens := []int{4, 300<<10 + 1, 4999, 10, 0, 3}
		l := newIntoLayout(lens)
		got, err := r.ReadInto(e.ctx, e.ns, "r", bytesList(ks), l.dsts)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range ks {
			if got[i] != want(k) {
				t.Errorf("%s into %d bytes: length %d, want %d", k, lens[i], got[i], want(k))
			}
		}
		if err := l.guardsIntact(); err != nil {
			t.Error(err)
		}
	})

	t.Run("absent-records", func(t *testing.T) {
		for _, id := range []string{"dead", "no-such-record"} {
			l := newIntoLayout([]int{1})
			got, err := r.ReadInto(e.ctx, e.ns, id, [][]byte{[]byte("k")}, l.dsts)
			if err != nil || len(got) != 1 || got[0] != -1 {
				t.Errorf("record %s: got %v, %v; want [-1]", id, got, err)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		// Readers fill disjoint quarters of one buffer while a writer
		// keeps overwriting a neighbouring key.
		big := vals["big"]
		quarter := len(big) / 4
		for j := range 4 {
			e.apply("q", kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "q%d", j), Value: big[j*quarter : (j+1)*quarter], Timestamp: e.next()})
		}
		rounds := 5 * s.cfg.scale
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range rounds {
				if err := e.s.Apply(e.ctx, e.ns, "q", []kv.Mutation{put("other", strings.Repeat("o", 9000+i), e.next())}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		for range rounds {
			l := newIntoLayout([]int{quarter, quarter, quarter, quarter})
			var rg sync.WaitGroup
			for j := range 4 {
				rg.Go(func() {
					got, err := r.ReadInto(e.ctx, e.ns, "q", [][]byte{fmt.Appendf(nil, "q%d", j)}, l.dsts[j:j+1])
					if err != nil || got[0] != quarter {
						t.Errorf("quarter %d: got %v, %v; want [%d]", j, got, err, quarter)
					}
				})
			}
			rg.Wait()
			for j := range 4 {
				if !bytes.Equal(l.dsts[j], big[j*quarter:(j+1)*quarter]) {
					t.Fatalf("quarter %d differs", j)
				}
			}
			if err := l.guardsIntact(); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
	})

	t.Run("bad-input", func(t *testing.T) {
		one := [][]byte{make([]byte, 1)}
		for _, c := range []struct {
			name     string
			ns, id   string
			keys     [][]byte
			dsts     [][]byte
			sentinel error
		}{
			{"count-mismatch", e.ns, "r", [][]byte{[]byte("a"), []byte("b")}, one, kv.ErrInvalid},
			{"key-too-long", e.ns, "r", [][]byte{bytes.Repeat([]byte("k"), kv.MaxKeyLen+1)}, one, kv.ErrInvalid},
			{"id-empty", e.ns, "", [][]byte{[]byte("a")}, one, kv.ErrInvalid},
			{"ns-bad", "No Such", "r", [][]byte{[]byte("a")}, one, kv.ErrInvalid},
			{"ns-unknown", "kvt_no_such_namespace", "r", [][]byte{[]byte("a")}, one, kv.ErrNoNamespace},
		} {
			if _, err := r.ReadInto(e.ctx, c.ns, c.id, c.keys, c.dsts); !errors.Is(err, c.sentinel) {
				t.Errorf("%s: got %v, want %v", c.name, err, c.sentinel)
			}
		}
	})
}

func bytesList(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
