package kv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// The benchmarks measure what the Client costs on top of a Store, using
// MemStore so that the Store's own cost is small and steady: "raw" rows
// call the Store directly, "client" rows do the same work through a
// Client.

func benchSetup(b *testing.B) (context.Context, *kvtest.MemStore, *kv.Client) {
	ctx := context.Background()
	s := kvtest.NewMemStore()
	c, err := kv.NewClient(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	return ctx, s, c
}

func BenchmarkPut(b *testing.B) {
	for _, size := range []int{100, 1024} {
		val := make([]byte, size)
		b.Run(fmt.Sprintf("raw/%dB", size), func(b *testing.B) {
			ctx, s, _ := benchSetup(b)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m := []kv.Mutation{{Op: kv.OpPut, Key: fmt.Appendf(nil, "k%08d", i%10000), Value: val, Timestamp: int64(i + 1)}}
				if err := s.Apply(ctx, "bench", "r", m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("client/%dB", size), func(b *testing.B) {
			ctx, _, c := benchSetup(b)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := c.Put(ctx, "bench", "r", fmt.Appendf(nil, "k%08d", i%10000), val); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetPage(b *testing.B) {
	const n = 1000
	ctx, s, c := benchSetup(b)
	var muts []kv.Mutation
	for i := range n {
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "k%08d", i), Value: make([]byte, 100)})
	}
	if err := c.Mutate(ctx, "bench", "r", muts); err != nil {
		b.Fatal(err)
	}
	b.Run("raw/1000x100B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := s.Read(ctx, "bench", "r", kv.Query{Limit: n})
			if err != nil || len(res.Items) != n {
				b.Fatal(err, len(res.Items))
			}
		}
	})
	b.Run("client/1000x100B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := c.Get(ctx, "bench", "r", kv.Query{Limit: n})
			if err != nil || len(p.Items) != n {
				b.Fatal(err, len(p.Items))
			}
		}
	})
	b.Run("client-paged-16KiB/1000x100B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q, got := kv.Query{MaxBytes: 16 << 10}, 0
			for {
				p, err := c.Get(ctx, "bench", "r", q)
				if err != nil {
					b.Fatal(err)
				}
				got += len(p.Items)
				if p.Next == nil {
					break
				}
				q.Cursor = p.Next
			}
			if got != n {
				b.Fatal(got)
			}
		}
	})
}

func BenchmarkChunked(b *testing.B) {
	const size = 16 << 20
	val := make([]byte, size)
	for i := range val {
		val[i] = byte(i * 31)
	}
	b.Run("put/16MiB", func(b *testing.B) {
		ctx, _, c := benchSetup(b)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Put(ctx, "bench", "r", []byte("k"), val); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/16MiB", func(b *testing.B) {
		ctx, _, c := benchSetup(b)
		if err := c.Put(ctx, "bench", "r", []byte("k"), val); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetValue(ctx, "bench", "r", []byte("k")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// latencyStore adds a fixed delay to every call, as a Store across a
// network would.
type latencyStore struct {
	kv.Store
	d time.Duration
}

func (l latencyStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	time.Sleep(l.d)
	return l.Store.Apply(ctx, ns, id, muts)
}

func (l latencyStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	time.Sleep(l.d)
	return l.Store.Read(ctx, ns, id, q)
}

// BenchmarkChunkedRemote shows what parallel staging and reading buy on a
// Store with a 2 ms round trip: a 16 MiB value is 4 staging calls and 4
// chunk reads.
func BenchmarkChunkedRemote(b *testing.B) {
	const size = 16 << 20
	val := make([]byte, size)
	for _, par := range []int{1, 4} {
		ctx := context.Background()
		c, err := kv.NewClient(latencyStore{kvtest.NewMemStore(), 2 * time.Millisecond}, &kv.Options{StageParallelism: par})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.CreateNamespace(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("put/parallel%d", par), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := c.Put(ctx, "bench", "r", []byte("k"), val); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("get/parallel%d", par), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := c.GetValue(ctx, "bench", "r", []byte("k")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
