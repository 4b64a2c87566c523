package kv

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// fuzzClient has a fixed clock and page key so a seed token stays valid.
func fuzzClient(t testing.TB) *Client {
	now := time.Unix(1_800_000_000, 0)
	c, err := NewClient(nil, &Options{PageKey: bytes.Repeat([]byte{7}, 32), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzPageToken feeds arbitrary bytes to the page-token decoder: it must
// never panic, must reject anything it did not issue with ErrBadCursor,
// and must round-trip what it did issue.
func FuzzPageToken(f *testing.F) {
	c := fuzzClient(f)
	q := &Query{Start: []byte("a"), End: []byte("z")}
	good := c.encodePageToken("ns", "id", q, pagePos{issued: c.now().UnixMicro(), avg: 100, last: []byte("key")})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte{pageVersion})
	f.Add(append([]byte{pageVersion}, make([]byte, 40)...))
	long := append([]byte{pageVersion}, make([]byte, 12)...)
	f.Add(append(long, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, tok []byte) {
		p, err := c.decodePageToken("ns", "id", q, tok)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		// Accepted: it must be exactly what the encoder makes of it.
		if again := c.encodePageToken("ns", "id", q, p); !bytes.Equal(again, tok) {
			t.Fatalf("accepted token %x re-encodes as %x", tok, again)
		}
		// And it must not be accepted for another query.
		if _, err := c.decodePageToken("ns", "id2", q, tok); !errors.Is(err, ErrBadCursor) {
			t.Fatalf("token accepted for another record id: %v", err)
		}
	})
}

// FuzzValueMetadata feeds arbitrary value_metadata to the header decoder:
// never a panic; what decodes re-encodes to an equivalent header.
func FuzzValueMetadata(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeHeader(&header{user: []byte("u")}))
	f.Add(encodeHeader(&header{chunked: true, m: manifest{size: 10, chunkSize: 4, chunks: 3, checksum: 1}, user: []byte("meta")}))
	f.Add([]byte{metaVersion, metaFlagChunked, 0xff})
	f.Add([]byte{metaVersion, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		h2, err := decodeHeader(encodeHeader(&h))
		if err != nil || h2.chunked != h.chunked || h2.m != h.m || !bytes.Equal(h2.user, h.user) {
			t.Fatalf("header %+v does not round-trip: %+v, %v", h, h2, err)
		}
	})
}

// FuzzOwner checks the chunk owner record decoder on arbitrary bytes.
func FuzzOwner(f *testing.F) {
	f.Add(encodeOwner("id", []byte("key")))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, key, ok := decodeOwner(b)
		if ok && !bytes.Equal(encodeOwner(id, key), b) {
			// Uvarint accepts non-minimal encodings; only minimal ones
			// round-trip byte for byte, so compare decoded fields instead.
			id2, key2, ok2 := decodeOwner(encodeOwner(id, key))
			if !ok2 || id2 != id || !bytes.Equal(key2, key) {
				t.Fatalf("owner %q/%q does not round-trip", id, key)
			}
		}
	})
}

func TestSuccessor(t *testing.T) {
	long := func(fill, last byte) []byte {
		k := bytes.Repeat([]byte{fill}, MaxKeyLen)
		k[len(k)-1] = last
		return k
	}
	for _, c := range []struct {
		name string
		k    []byte
		ok   bool
	}{
		{"short", []byte("a"), true},
		{"empty", []byte{}, true},
		{"max-len", long('a', 'a'), true},
		{"max-len-trailing-ff", long('a', 0xff), true},
		{"max-len-fe", long('a', 0xfe), true},
		{"all-ff", long(0xff, 0xff), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, ok := successor(c.k)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if bytes.Compare(s, c.k) <= 0 || len(s) > MaxKeyLen {
				t.Errorf("successor %x of %x is not a greater valid key", s, c.k)
			}
			// Nothing valid lies strictly between: k+0x00 if it fits.
			if len(c.k) < MaxKeyLen && !bytes.Equal(s, append(append([]byte{}, c.k...), 0)) {
				t.Errorf("successor of %x = %x, want k+00", c.k, s)
			}
		})
	}
}

// FuzzParseToken: ParseToken never panics, rejects with ErrInvalid, and
// what it accepts prints back to an equivalent token.
func FuzzParseToken(f *testing.F) {
	f.Add("1795450000000000-000102030405060708090a0b0c0d0e0f")
	f.Add("1-ffffffffffffffffffffffffffffffff")
	f.Add("-1-00")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		back, err := ParseToken(tok.String())
		if err != nil || back != tok {
			t.Fatalf("%q parsed to %v, which prints as %q and parses to %v, %v", s, tok, tok.String(), back, err)
		}
	})
}
