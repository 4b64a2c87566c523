package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

func TestPageTokenStale(t *testing.T) {
	f := newFixture(t, nil, &kv.Options{PageTokenTTL: time.Minute})
	for i := range 5 {
		if err := f.c.Put(f.ctx, ns, "r", fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2})
	if err != nil || p.Next == nil {
		t.Fatalf("first page: %v, next %v", err, p.Next)
	}
	f.clk.Add(59 * time.Second)
	if _, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2, Cursor: p.Next}); err != nil {
		t.Errorf("token inside its TTL: %v", err)
	}
	f.clk.Add(2 * time.Second)
	if _, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 2, Cursor: p.Next}); !errors.Is(err, kv.ErrBadCursor) {
		t.Errorf("stale token: got %v, want ErrBadCursor", err)
	}
}

func TestSharedPageKey(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 32)
	f := newFixture(t, nil, &kv.Options{PageKey: key})
	other, err := kv.NewClient(f.store, &kv.Options{PageKey: key, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := f.c.Put(f.ctx, ns, "r", fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.c.Get(f.ctx, ns, "r", kv.Query{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := other.Get(f.ctx, ns, "r", kv.Query{Limit: 3, Cursor: p.Next})
	if err != nil || len(p2.Items) != 1 || string(p2.Items[0].Key) != "k3" {
		t.Errorf("resuming on a Client with the same key: %v, %d items", err, len(p2.Items))
	}
}

func TestLongKeyPagination(t *testing.T) {
	// Pages that end on a MaxKeyLen key resume at its prefix successor.
	f := newFixture(t, nil, nil)
	long := func(c byte, last byte) []byte {
		k := bytes.Repeat([]byte{c}, kv.MaxKeyLen)
		k[len(k)-1] = last
		return k
	}
	keys := [][]byte{long('a', 0xff), long('a', 0xfe), long('b', 0), []byte("b"), long(0xff, 0xff)}
	for _, k := range keys {
		if err := f.c.Put(f.ctx, ns, "r", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	q := kv.Query{Limit: 1}
	for {
		p, err := f.c.Get(f.ctx, ns, "r", q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Items)
		if p.Next == nil {
			break
		}
		q.Cursor = p.Next
	}
	if n != len(keys) {
		t.Errorf("paged %d items, want %d", n, len(keys))
	}
}
