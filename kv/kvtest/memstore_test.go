package kvtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

func TestMemStoreConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s := kvtest.NewMemStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestMemStoreClock(t *testing.T) {
	ctx := context.Background()
	s := kvtest.NewMemStore()
	now := time.Unix(1_700_000_000, 0)
	s.SetClock(func() time.Time { return now })
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, "ns", "r", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("a"), Value: []byte("1"), TTL: time.Minute, Timestamp: 10},
		{Op: kv.OpPut, Key: []byte("b"), Value: []byte("2"), Timestamp: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{0, 2}, {time.Minute - 1, 2}, {time.Minute, 1}, {time.Hour, 1}} {
		now = time.Unix(1_700_000_000, 0).Add(c.at)
		res, err := s.Read(ctx, "ns", "r", kv.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Items) != c.want {
			t.Errorf("at +%v: got %d items, want %d", c.at, len(res.Items), c.want)
		}
	}
	// The expired cell still shadows an older write, as in Cassandra.
	if err := s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("a"), Value: []byte("0"), Timestamp: 5}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Read(ctx, "ns", "r", kv.Query{Keys: [][]byte{[]byte("a")}})
	if err != nil || len(res.Items) != 0 {
		t.Errorf("older put over an expired cell: got %d items (err %v), want 0", len(res.Items), err)
	}
}

func TestFaultStore(t *testing.T) {
	ctx := context.Background()
	f := kvtest.NewFaultStore(kvtest.NewMemStore())
	if err := f.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	f.FailAfter(2)
	put := []kv.Mutation{{Op: kv.OpPut, Key: []byte("k"), Value: []byte("v"), Timestamp: 1}}
	for i, want := range []error{nil, nil, kvtest.ErrInjected, kvtest.ErrInjected} {
		if err := f.Apply(ctx, "ns", "r", put); !errors.Is(err, want) {
			t.Errorf("Apply %d: got %v, want %v", i, err, want)
		}
	}
	if got := f.Applies(); got != 2 {
		t.Errorf("Applies() = %d, want 2", got)
	}
	if !f.AtomicApply() {
		t.Error("AtomicApply() = false over a MemStore")
	}
}

func TestMemStoreCopies(t *testing.T) {
	ctx := context.Background()
	s := kvtest.NewMemStore()
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	key, val, meta := []byte("k"), []byte("value"), []byte("meta")
	if err := s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: key, Value: val, Metadata: meta, Timestamp: 1}}); err != nil {
		t.Fatal(err)
	}
	key[0], val[0], meta[0] = 'X', 'X', 'X' // the caller reuses its buffers
	res, err := s.Read(ctx, "ns", "r", kv.Query{})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("Read: %v, %d items", err, len(res.Items))
	}
	it := res.Items[0]
	if string(it.Key) != "k" || string(it.Value) != "value" || string(it.Metadata) != "meta" {
		t.Fatalf("stored item aliases the caller's buffers: %q=%q (%q)", it.Key, it.Value, it.Metadata)
	}
	it.Value[0] = 'Y' // and scribbles on what it read
	res, _ = s.Read(ctx, "ns", "r", kv.Query{})
	if string(res.Items[0].Value) != "value" {
		t.Errorf("Read returned the store's own buffer: now %q", res.Items[0].Value)
	}
}
