// Package coalesce_test measures edgekit/coalesce against
// golang.org/x/sync/singleflight, the package a Go user would otherwise
// pick, in the same run. Results of record: docs/bench/coalesce.md.
package coalesce_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/edgekit/edgekit/coalesce"
)

// BenchmarkDoUncontended: one caller, a new flight per call (no linger),
// fn returns at once. This is the fixed cost of coalescing a miss.
func BenchmarkDoUncontended(b *testing.B) {
	fn := func(context.Context) (int, error) { return 1, nil }
	b.Run("impl=singleflight", func(b *testing.B) {
		b.ReportAllocs()
		var g singleflight.Group
		defer cpuPerOp(b)()
		for b.Loop() {
			_, _, _ = g.Do("seg", func() (any, error) { return 1, nil })
		}
	})
	b.Run("impl=edgekit,ctx=background", func(b *testing.B) {
		b.ReportAllocs()
		var g coalesce.Group[string, int]
		ctx := context.Background()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, _, _ = g.Do(ctx, "seg", fn)
		}
	})
	b.Run("impl=edgekit,ctx=cancellable", func(b *testing.B) {
		// A request context: fn runs on its own goroutine so the caller
		// could leave early. singleflight has no equivalent.
		b.ReportAllocs()
		var g coalesce.Group[string, int]
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, _, _ = g.Do(ctx, "seg", fn)
		}
	})
}

// spin is fn's work in the contended benchmark: about a microsecond of CPU,
// long enough for other callers to join.
func spin() int {
	x := 1
	for i := range 2000 {
		x = x*31 + i
	}
	return x
}

// BenchmarkDoContended: 1,000 goroutines call Do for one key in a loop;
// ns/op is per call. calls/op is how many of those calls ran fn.
func BenchmarkDoContended(b *testing.B) {
	const goroutines = 1000
	run := func(b *testing.B, do func(calls *atomic.Int64)) {
		b.ReportAllocs()
		var calls atomic.Int64
		b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				do(&calls)
			}
		})
		b.ReportMetric(float64(calls.Load())/float64(b.N), "calls/op")
	}
	impls(b, func(b *testing.B, do func(key string, calls *atomic.Int64)) {
		run(b, func(calls *atomic.Int64) { do("seg", calls) })
	})
}

// BenchmarkDoBurst: 1,000 goroutines call Do for the same fresh key at the
// same moment (a live segment published, every player asking at once). One
// op is one whole burst; calls/op is how many times fn ran for it.
func BenchmarkDoBurst(b *testing.B) {
	const callers = 1000
	burst := func(b *testing.B, do func(key int, calls *atomic.Int64)) {
		b.ReportAllocs()
		var calls atomic.Int64
		var wg sync.WaitGroup
		rounds := make([]chan int, callers)
		for w := range callers {
			rounds[w] = make(chan int)
			go func() {
				for key := range rounds[w] {
					do(key, &calls)
					wg.Done()
				}
			}()
		}
		defer func() {
			for _, r := range rounds {
				close(r)
			}
		}()
		key := 0
		defer cpuPerOp(b)()
		for b.Loop() {
			wg.Add(callers)
			for _, r := range rounds {
				r <- key
			}
			wg.Wait()
			key++
		}
		b.ReportMetric(float64(calls.Load())/float64(key), "calls/op")
	}
	impls(b, func(b *testing.B, do func(key string, calls *atomic.Int64)) {
		burst(b, func(key int, calls *atomic.Int64) { do(strconv.Itoa(key), calls) })
	})
}

// impls runs body once per implementation under comparison, handing it
// that implementation's Do (fn: spin, counted in calls): singleflight, and
// edgekit with a context that cannot end, a cancellable one, and a
// cancellable one with a 1 ms linger.
func impls(b *testing.B, body func(b *testing.B, do func(key string, calls *atomic.Int64))) {
	b.Run("impl=singleflight", func(b *testing.B) {
		var g singleflight.Group
		body(b, func(key string, calls *atomic.Int64) {
			_, _, _ = g.Do(key, func() (any, error) { calls.Add(1); return spin(), nil })
		})
	})
	b.Run("impl=edgekit,ctx=background,fn=static", func(b *testing.B) {
		// The same fn, but one that captures nothing, so the caller's
		// func value needs no allocation; fn runs are counted from Stats.
		// It isolates what the escaping closure costs (see the doc).
		g := new(coalesce.Group[string, int])
		defer g.Close()
		before := g.Stats().Flights
		body(b, func(key string, calls *atomic.Int64) {
			_, _, _ = g.Do(context.Background(), key, staticSpin)
		})
		// Replaces body's calls/op, which this fn cannot count.
		b.ReportMetric(float64(g.Stats().Flights-before)/float64(b.N), "calls/op")
	})
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		linger time.Duration
	}{
		{"impl=edgekit,ctx=background", context.Background(), 0},
		{"impl=edgekit,ctx=cancellable", cancellable(b), 0},
		{"impl=edgekit,ctx=cancellable,linger=1ms", cancellable(b), time.Millisecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g := coalesce.New[string, int](&coalesce.Options{Linger: tc.linger})
			defer g.Close()
			body(b, func(key string, calls *atomic.Int64) {
				_, _, _ = g.Do(tc.ctx, key, func(context.Context) (int, error) { calls.Add(1); return spin(), nil })
			})
		})
	}
}

// BenchmarkSpin is the cost of fn's work alone in DoContended and DoBurst,
// to read calls/op against: extra calls of fn cost calls/op × this.
func BenchmarkSpin(b *testing.B) {
	defer cpuPerOp(b)()
	x := 0
	for b.Loop() {
		x += spin()
	}
	_ = x
}

// staticSpin is spin as a fn that captures nothing.
func staticSpin(context.Context) (int, error) { return spin(), nil }

func cancellable(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkStream: a 2 MiB body, written in 32 KiB pieces, delivered to N
// readers. One op is one whole flight. GB/s counts bytes delivered to all
// readers; B/reader is B/op divided by N (it includes the body's share).
//
// The peer is singleflight returning the assembled []byte (the usual way
// to share a body with it): readers get nothing until the body is
// complete, then read the one shared slice.
//
// sink=discard hands bytes to io.Discard (edgekit: straight from the
// shared chunks via WriteTo, no copy); sink=copy copies every byte into a
// 32 KiB buffer per reader, as a socket write would.
func BenchmarkStream(b *testing.B) {
	const size = 2 << 20
	const piece = 32 << 10
	src := bytes.Repeat([]byte("0123456789abcdef"), piece/16)
	for _, readers := range []int{1, 100, 1000} {
		for _, sink := range []string{"discard", "copy"} {
			drain := func(r io.Reader, buf []byte) (int64, error) {
				if sink == "discard" {
					return io.Copy(io.Discard, r)
				}
				// Both wrappers hide the fast paths (WriterTo, ReaderFrom),
				// so every byte really goes through buf.
				return io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf)
			}
			name := fmt.Sprintf("readers=%d/sink=%s", readers, sink)
			b.Run(name+"/impl=singleflight", func(b *testing.B) {
				var g singleflight.Group
				bufs := makeBufs(readers)
				measure(b, readers, size, func(i int) {
					release := make(chan struct{})
					chans := make([]<-chan singleflight.Result, readers)
					key := strconv.Itoa(i)
					for r := range readers {
						chans[r] = g.DoChan(key, func() (any, error) {
							<-release
							// Sized up front, as with a Content-Length, like SizeHint below.
							body := bytes.NewBuffer(make([]byte, 0, size))
							for range size / piece {
								body.Write(src)
							}
							return body.Bytes(), nil
						})
					}
					close(release)
					var wg sync.WaitGroup
					for r := range readers {
						wg.Go(func() {
							res := <-chans[r]
							if n, _ := drain(bytes.NewReader(res.Val.([]byte)), bufs[r]); n != size {
								b.Errorf("read %d bytes", n)
							}
						})
					}
					wg.Wait()
				})
			})
			b.Run(name+"/impl=edgekit", func(b *testing.B) {
				var s coalesce.Stream[int, struct{}]
				bufs := makeBufs(readers)
				ctx := context.Background()
				measure(b, readers, size, func(i int) {
					release := make(chan struct{})
					fill := func(ctx context.Context, w *coalesce.Writer[struct{}]) error {
						<-release
						w.SizeHint(size)
						for range size / piece {
							if _, err := w.Write(src); err != nil {
								return err
							}
						}
						return nil
					}
					var wg sync.WaitGroup
					for r := range readers {
						rd, err := s.Open(ctx, i, fill)
						if err != nil {
							b.Fatal(err)
						}
						wg.Go(func() {
							defer rd.Close()
							if n, err := drain(rd, bufs[r]); n != size || err != nil {
								b.Errorf("read %d bytes, %v", n, err)
							}
						})
					}
					close(release)
					wg.Wait()
				})
			})
		}
	}
}

func makeBufs(n int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 32<<10)
	}
	return bufs
}

// measure runs op per iteration and reports delivered GB/s and bytes
// allocated per reader.
func measure(b *testing.B, readers, size int, op func(i int)) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	i := 0
	for b.Loop() {
		op(i)
		i++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(readers)*float64(size)*float64(i)/elapsed.Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(i)/float64(readers), "B/reader")
}

// BenchmarkStreamFirstByte: the upstream delivers a 2 MiB body in 64
// pieces with a pause between them, as a network would; 100 readers wait.
// first-byte-µs is the mean time from the first upstream byte to each
// reader's first byte: with singleflight a reader sees nothing until the
// whole body is there, with edgekit it sees the first piece.
func BenchmarkStreamFirstByte(b *testing.B) {
	const (
		size    = 2 << 20
		pieces  = 64
		readers = 100
		pause   = 50 * time.Microsecond
	)
	src := bytes.Repeat([]byte{'x'}, size/pieces)
	run := func(b *testing.B, op func(i int, start *time.Time, firstByte func())) {
		var total time.Duration
		var count int
		var mu sync.Mutex
		i := 0
		for b.Loop() {
			var start time.Time
			op(i, &start, func() {
				d := time.Since(start)
				mu.Lock()
				total += d
				count++
				mu.Unlock()
			})
			i++
		}
		b.ReportMetric(float64(total.Microseconds())/float64(count), "first-byte-µs")
	}
	b.Run("impl=singleflight", func(b *testing.B) {
		var g singleflight.Group
		run(b, func(i int, start *time.Time, firstByte func()) {
			release := make(chan struct{})
			chans := make([]<-chan singleflight.Result, readers)
			for r := range readers {
				chans[r] = g.DoChan(strconv.Itoa(i), func() (any, error) {
					<-release
					body := bytes.NewBuffer(make([]byte, 0, size))
					for range pieces {
						body.Write(src)
						time.Sleep(pause)
					}
					return body.Bytes(), nil
				})
			}
			var wg sync.WaitGroup
			for r := range readers {
				wg.Go(func() {
					res := <-chans[r]
					firstByte()
					_, _ = io.Copy(io.Discard, bytes.NewReader(res.Val.([]byte)))
				})
			}
			*start = time.Now()
			close(release)
			wg.Wait()
		})
	})
	b.Run("impl=edgekit", func(b *testing.B) {
		var s coalesce.Stream[int, struct{}]
		run(b, func(i int, start *time.Time, firstByte func()) {
			release := make(chan struct{})
			fill := func(ctx context.Context, w *coalesce.Writer[struct{}]) error {
				<-release
				w.SizeHint(size)
				for range pieces {
					if _, err := w.Write(src); err != nil {
						return err
					}
					time.Sleep(pause)
				}
				return nil
			}
			var wg sync.WaitGroup
			for range readers {
				rd, err := s.Open(context.Background(), i, fill)
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					defer rd.Close()
					var one [1]byte
					if _, err := io.ReadFull(rd, one[:]); err != nil {
						b.Error(err)
					}
					firstByte()
					_, _ = io.Copy(io.Discard, rd)
				})
			}
			*start = time.Now()
			close(release)
			wg.Wait()
		})
	})
}

// cpuPerOp starts counting the process's CPU time (user + system, all
// threads) and returns a function that reports it per op as cpu-ns/op.
// The machine these numbers come from is shared with other busy
// processes, so wall-clock ns/op mostly measures the neighbours: CPU time
// charged to this process is what the code itself costs (it still includes
// the runtime's work for it: scheduler, GC).
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
