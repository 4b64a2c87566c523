package cassandra

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgekit/edgekit/kv"
)

func testStore(key string) *Store { return &Store{key: []byte(key)} }

func TestReadCursorRoundTrip(t *testing.T) {
	s := testStore("0123456789abcdef")
	qid := readIdentity("ns", "id", kv.Query{Start: []byte("a")}, nil)
	for _, p := range []readPos{
		{},
		{state: []byte{1, 2, 3}},
		{hasLast: true, last: []byte{}},
		{hasLast: true, last: []byte("k\x00\xff"), state: bytes.Repeat([]byte{7}, 300)},
	} {
		c := s.sealRead(qid, p)
		got, err := s.openRead(qid, c)
		if err != nil {
			t.Fatalf("openRead(sealRead(%+v)): %v", p, err)
		}
		if got.hasLast != p.hasLast || !bytes.Equal(got.last, p.last) || !bytes.Equal(got.state, p.state) {
			t.Errorf("round trip: got %+v, want %+v", got, p)
		}
	}
}

func TestIDsCursorRoundTrip(t *testing.T) {
	s := testStore("0123456789abcdef")
	qid := idsIdentity("ns")
	for _, p := range []idsPos{{}, {token: -9223372036854775808, lastID: "x"}, {token: 42, lastID: "ütf-8 ✓"}} {
		got, err := s.openIDs(qid, s.sealIDs(qid, p))
		if err != nil || got != p {
			t.Errorf("round trip of %+v: got %+v, %v", p, got, err)
		}
	}
}

// TestCursorBinding checks that a cursor opens only for the query, kind and
// key it was issued for.
func TestCursorBinding(t *testing.T) {
	s := testStore("0123456789abcdef")
	base := kv.Query{Start: []byte("a"), End: []byte("z")}
	qid := readIdentity("ns", "id", base, nil)
	c := s.sealRead(qid, readPos{hasLast: true, last: []byte("m")})
	keysQ := kv.Query{Keys: [][]byte{[]byte("a")}}
	for _, tc := range []struct {
		name string
		s    *Store
		qid  []byte
	}{
		{"other-key", testStore("fedcba9876543210"), qid},
		{"other-ns", s, readIdentity("ns2", "id", base, nil)},
		{"other-id", s, readIdentity("ns", "id2", base, nil)},
		{"other-start", s, readIdentity("ns", "id", kv.Query{Start: []byte("b"), End: []byte("z")}, nil)},
		{"open-end", s, readIdentity("ns", "id", kv.Query{Start: []byte("a")}, nil)},
		{"reverse", s, readIdentity("ns", "id", kv.Query{Start: []byte("a"), End: []byte("z"), Reverse: true}, nil)},
		{"keys", s, readIdentity("ns", "id", keysQ, scanOrder(keysQ.Keys, false))},
		{"ids", s, idsIdentity("ns")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.openRead(tc.qid, c); !errors.Is(err, kv.ErrBadCursor) {
				t.Errorf("got %v, want ErrBadCursor", err)
			}
		})
	}
	// An IDs cursor never opens as a Read cursor, even for a matching mac.
	ids := s.sealIDs(qid, idsPos{token: 1, lastID: "x"})
	if _, err := s.openRead(qid, ids); !errors.Is(err, kv.ErrBadCursor) {
		t.Errorf("IDs cursor as Read cursor: got %v, want ErrBadCursor", err)
	}
	// Every single-bit flip is refused.
	for i := range len(c) * 8 {
		f := bytes.Clone(c)
		f[i/8] ^= 1 << (i % 8)
		if _, err := s.openRead(qid, f); !errors.Is(err, kv.ErrBadCursor) {
			t.Fatalf("bit %d flipped: got %v, want ErrBadCursor", i, err)
		}
	}
}

// FuzzOpenCursor feeds arbitrary bytes to both decoders: they must never
// panic, and must refuse everything that sealRead/sealIDs did not make.
func FuzzOpenCursor(f *testing.F) {
	s := testStore("0123456789abcdef")
	qid := readIdentity("ns", "id", kv.Query{}, nil)
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0})
	f.Add(s.sealRead(qid, readPos{hasLast: true, last: []byte("k"), state: []byte{9}}))
	f.Add(s.sealIDs(idsIdentity("ns"), idsPos{token: 5, lastID: "r"}))
	f.Fuzz(func(t *testing.T, c []byte) {
		if p, err := s.openRead(qid, c); err == nil {
			if !bytes.Equal(s.sealRead(qid, p), c) {
				t.Fatalf("openRead accepted %x, which sealRead does not produce", c)
			}
		} else if !errors.Is(err, kv.ErrBadCursor) {
			t.Fatalf("openRead error %v is not ErrBadCursor", err)
		}
		if _, err := s.openIDs(idsIdentity("ns"), c); err != nil && !errors.Is(err, kv.ErrBadCursor) {
			t.Fatalf("openIDs error %v is not ErrBadCursor", err)
		}
	})
}
