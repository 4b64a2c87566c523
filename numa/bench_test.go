package numa_test

import (
	"context"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/numa"
)

// BenchmarkDispatch measures the cost of handing one task to a node-pinned
// worker and waiting for it (Run), against the alternatives in one run:
// calling the function directly, and starting a goroutine and waiting.
func BenchmarkDispatch(b *testing.B) {
	topo, err := numa.Load("/")
	if err != nil {
		b.Fatal(err)
	}
	pool, err := numa.NewPool(topo, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	var sink int
	task := func() { sink++ }

	b.Run("how=direct-call", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			task()
		}
	})
	b.Run("how=go-and-wait", func(b *testing.B) {
		b.ReportAllocs()
		var wg sync.WaitGroup
		for range b.N {
			wg.Add(1)
			go func() { task(); wg.Done() }()
			wg.Wait()
		}
	})
	b.Run("how=pool-run", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := pool.Run(ctx, 0, task); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("how=pool-submit", func(b *testing.B) {
		// Throughput of fire-and-forget submission; the wait at the end
		// keeps queued work inside the measurement.
		b.ReportAllocs()
		var wg sync.WaitGroup
		wg.Add(b.N)
		done := func() { wg.Done() }
		for range b.N {
			if err := pool.Submit(ctx, numa.AnyNode, done); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
	})
}
