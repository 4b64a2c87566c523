package kv_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
)

// The kv/local benchmarks against bbolt, pebble and SQLite (WAL mode). Every
// engine commits durably (fsync of its log per commit), holds the same
// keys, and reads through a cache of the same size where it has one. Run:
//
//	cd bench && go test ./kv -run '^$' -bench . -count 3 -benchtime 1s
//
// and see docs/bench/kv.md for the numbers of record.

const (
	nIDs       = 10000    // record ids the random writes spread over
	warmCache  = 64 << 20 // cache that holds every benchmark data set
	coldCache  = 256 << 10
	getItems   = 100000 // items loaded for the get benchmarks
	scanItems  = 1000   // items per range scan
	largeValue = 16 << 20
)

func randItem(r *rand.Rand, size int) item {
	key := make([]byte, 16)
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	val := make([]byte, size)
	for i := range val {
		val[i] = byte(r.Uint32())
	}
	return item{id: fmt.Sprintf("user%05d", r.IntN(nIDs)), key: key, val: val}
}

// BenchmarkPut: random puts of 100 B and 1 KiB values, one or 100 per
// durable commit. One op is one commit.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, batch := range []int{1, 100} {
			for _, e := range engines {
				b.Run(fmt.Sprintf("value=%d/batch=%d/%s", size, batch, e.name), func(b *testing.B) {
					eng := e.open(b, b.TempDir(), engineOpts{cacheBytes: warmCache})
					defer eng.close()
					r := rand.New(rand.NewPCG(1, uint64(size*batch)))
					items := make([]item, batch)
					b.SetBytes(int64(size * batch))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						for j := range items {
							items[j] = randItem(r, size)
							items[j].id = items[0].id // one record per commit
						}
						b.StartTimer()
						if err := eng.put(items); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "items/s")
				})
			}
		}
	}
}

// BenchmarkPutParallel: 16 goroutines each writing one 100-byte value per
// durable commit. kv/local and pebble share fsyncs between concurrent
// commits (group commit); bbolt and SQLite serialize them.
func BenchmarkPutParallel(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			eng := e.open(b, b.TempDir(), engineOpts{cacheBytes: warmCache})
			defer eng.close()
			var seq atomic.Uint64
			b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 writers
			b.SetBytes(100)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seq.Add(1), 9))
				for pb.Next() {
					if err := eng.put([]item{randItem(r, 100)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// load fills an engine with n items of 100 B (1000 per commit) and returns
// their ids and keys.
func load(b *testing.B, eng engine, n int, seed uint64) []item {
	r := rand.New(rand.NewPCG(seed, 7))
	all := make([]item, 0, n)
	for len(all) < n {
		id := fmt.Sprintf("user%05d", r.IntN(nIDs))
		batch := make([]item, 0, 100)
		for range 100 {
			it := randItem(r, 100)
			it.id = id
			batch = append(batch, it)
		}
		if err := eng.put(batch); err != nil {
			b.Fatal(err)
		}
		all = append(all, batch...)
	}
	return all
}

// BenchmarkGet: random point reads of 100-byte values out of 100,000, with
// a cache that holds everything (warm, pre-read) or 256 KiB (cold: most
// reads go to the file; the OS page cache is not dropped, so "cold" means
// cold for the engine's own cache).
func BenchmarkGet(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		for _, e := range engines {
			b.Run(fmt.Sprintf("%s/%s", mode, e.name), func(b *testing.B) {
				dir := b.TempDir()
				eng := e.open(b, dir, engineOpts{cacheBytes: warmCache})
				all := load(b, eng, getItems, 3)
				eng.close()
				cache := int64(warmCache)
				if mode == "cold" {
					cache = coldCache
				}
				eng = e.open(b, dir, engineOpts{cacheBytes: cache})
				defer eng.close()
				if mode == "warm" {
					for _, it := range all {
						if _, err := eng.get(it.id, it.key); err != nil {
							b.Fatal(err)
						}
					}
				}
				r := rand.New(rand.NewPCG(4, 4))
				var before local.Stats
				if le, ok := eng.(*localEngine); ok {
					before, _ = le.s.Stats()
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					it := all[r.IntN(len(all))]
					if _, err := eng.get(it.id, it.key); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if le, ok := eng.(*localEngine); ok {
					st, _ := le.s.Stats()
					b.ReportMetric(float64(st.CacheBytes)/(1<<20), "cacheMiB")
					// Page lookups that missed the cache, per get: the
					// page reads and decodes a get pays.
					b.ReportMetric(float64(st.CacheMisses-before.CacheMisses)/float64(b.N), "misses/op")
					b.ReportMetric(float64(st.CacheHits-before.CacheHits)/float64(b.N), "hits/op")
				}
				// Go heap in use: kv/local's cache lives here; pebble's
				// block cache and bbolt's mmap do not, so compare with care.
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMiB")
			})
		}
	}
}

// BenchmarkScan: read 1,000 consecutive items (100 B values) of one record.
func BenchmarkScan(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			eng := e.open(b, b.TempDir(), engineOpts{cacheBytes: warmCache})
			defer eng.close()
			r := rand.New(rand.NewPCG(5, 5))
			for range 10 {
				batch := make([]item, 0, scanItems)
				for range scanItems {
					it := randItem(r, 100)
					it.id = "scan"
					batch = append(batch, it)
				}
				if err := eng.put(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n, err := eng.scan("scan", scanItems)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(n))
			}
		})
	}
}

// BenchmarkLarge writes and reads one 16 MiB value. kv/local goes through
// the kv Client, which stages 1 MiB chunks and commits a manifest; the
// peers store the value whole in one durable commit.
func BenchmarkLarge(b *testing.B) {
	val := make([]byte, largeValue)
	r := rand.New(rand.NewPCG(6, 6))
	for i := range val {
		val[i] = byte(r.Uint32())
	}
	for _, op := range []string{"write", "read"} {
		for _, e := range engines {
			b.Run(fmt.Sprintf("%s/%s", op, e.name), func(b *testing.B) {
				eng := e.open(b, b.TempDir(), engineOpts{cacheBytes: warmCache})
				defer eng.close()
				var c *kv.Client
				if le, ok := eng.(*localEngine); ok {
					var err error
					if c, err = kv.NewClient(le.s, nil); err != nil {
						b.Fatal(err)
					}
					if err := c.CreateNamespace(context.Background(), "bench"); err != nil {
						b.Fatal(err)
					}
				}
				write := func(i int) {
					key := []byte(fmt.Sprintf("blob%d", i%4))
					var err error
					if c != nil {
						err = c.Put(context.Background(), "bench", "large", key, val)
					} else {
						err = eng.put([]item{{id: "large", key: key, val: val}})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if op == "read" {
					write(0)
				}
				b.SetBytes(largeValue)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if op == "write" {
						write(i)
						continue
					}
					var got []byte
					var err error
					if c != nil {
						got, err = c.GetValue(context.Background(), "bench", "large", []byte("blob0"))
					} else {
						got, err = eng.get("large", []byte("blob0"))
					}
					if err != nil || len(got) != largeValue {
						b.Fatalf("read %d bytes: %v", len(got), err)
					}
				}
			})
		}
	}
}
