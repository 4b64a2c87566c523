package timeseries_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/timeseries"
	"github.com/edgekit/edgekit/wal"
)

// Benchmarks of timeseries on kv/local, the numbers of record in
// docs/bench/timeseries.md. Run:
//
//	cd bench && go test ./timeseries -run '^$' -bench . -benchtime 2s -count 5
//
// Writes: batches of batchEvents events (two items, ~70 bytes) of one
// series — one Apply per event bucket — against the peers a user would
// otherwise pick: the same kv mutations applied to kv/local directly (the
// layer's own cost), and pebble with the same keys in one batch.
// Reads: p50/p99 latency of a first page (100 events) at a random point of
// a time bucket, for a normal series and for one whose partition is 100×
// wider, before and after the split.

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	batchEvents = 1000
	seriesCount = 64
)

func openLocal(b *testing.B, sync wal.SyncMode) *local.Store {
	s, err := local.Open(filepath.Join(b.TempDir(), "kv"), &local.Options{Sync: sync, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func openTS(b *testing.B, store kv.Store, o *timeseries.Options) *timeseries.Namespace {
	if o == nil {
		o = &timeseries.Options{}
	}
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	}
	if o.AcceptPast == 0 {
		o.AcceptPast = -1
	}
	o.AcceptFuture, o.NoBackground = -1, true
	ns, err := timeseries.Open(context.Background(), store, "bench", o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	return ns
}

// batch returns the i-th batch: events of series i%seriesCount spread over
// the hour before now.
func batch(i int) (string, []timeseries.Event) {
	evs := make([]timeseries.Event, batchEvents)
	for k := range evs {
		at := now.Add(-time.Duration((i*batchEvents+k)%3600000) * time.Millisecond)
		evs[k] = timeseries.Event{Time: at, ID: "e" + strconv.Itoa(i) + "-" + strconv.Itoa(k), Items: []timeseries.Item{
			{Key: "bytes", Value: []byte("183020")},
			{Key: "stream", Value: []byte("live/ch1/video/1080p")},
		}}
	}
	return "series-" + strconv.Itoa(i%seriesCount), evs
}

var syncModes = []struct {
	name string
	mode wal.SyncMode
}{{"full", wal.SyncFull}, {"normal", wal.SyncNormal}}

func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	b.Run("generator", func(b *testing.B) {
		// The cost of making the batches, included in every figure below.
		i, cpu0 := 0, cpuTime()
		for b.Loop() {
			_, evs := batch(i)
			_ = rawMutations(evs)
			i++
		}
		rate(b, i*batchEvents, cpu0)
	})
	for _, sm := range syncModes {
		b.Run("sync="+sm.name+"/timeseries", func(b *testing.B) {
			ns := openTS(b, openLocal(b, sm.mode), nil)
			i, cpu0 := 0, cpuTime()
			for b.Loop() {
				series, evs := batch(i)
				if err := ns.Write(ctx, series, evs...); err != nil {
					b.Fatal(err)
				}
				i++
			}
			rate(b, i*batchEvents, cpu0)
		})
		b.Run("sync="+sm.name+"/timeseries-coalesced", func(b *testing.B) {
			// The buffer: 16 batches of different series flushed at once.
			ns := openTS(b, openLocal(b, sm.mode), &timeseries.Options{Coalesce: time.Second, BufferBytes: 64 << 20})
			i, cpu0 := 0, cpuTime()
			for b.Loop() {
				series, evs := batch(i)
				if err := ns.Write(ctx, series, evs...); err != nil {
					b.Fatal(err)
				}
				if i++; i%16 == 0 {
					if err := ns.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := ns.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			rate(b, i*batchEvents, cpu0)
		})
		b.Run("sync="+sm.name+"/kv-local-direct", func(b *testing.B) {
			// The same keys and values, one Apply per 250 events (what the
			// timeseries layer sends for 4 event buckets), no layer.
			s := openLocal(b, sm.mode)
			if err := s.CreateNamespace(ctx, "direct"); err != nil {
				b.Fatal(err)
			}
			i, cpu0 := 0, cpuTime()
			for b.Loop() {
				series, evs := batch(i)
				for part := range 4 {
					muts := rawMutations(evs[part*250 : (part+1)*250])
					if err := s.Apply(ctx, "direct", series+"/"+strconv.Itoa(part), muts); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
			rate(b, i*batchEvents, cpu0)
		})
		// Four callers writing batches at once (b.SetParallelism(2) on 2
		// CPUs): kv/local's group commit then shares each fsync among the
		// Applies of several Writes.
		b.Run("sync="+sm.name+"/timeseries-4writers", func(b *testing.B) {
			ns := openTS(b, openLocal(b, sm.mode), nil)
			var next atomic.Int64
			cpu0 := cpuTime()
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					series, evs := batch(int(next.Add(1)))
					if err := ns.Write(ctx, series, evs...); err != nil {
						b.Error(err)
						return
					}
				}
			})
			rate(b, int(next.Load())*batchEvents, cpu0)
		})
		b.Run("sync="+sm.name+"/kv-local-direct-4writers", func(b *testing.B) {
			s := openLocal(b, sm.mode)
			if err := s.CreateNamespace(ctx, "direct"); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			cpu0 := cpuTime()
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					series, evs := batch(int(next.Add(1)))
					for part := range 4 {
						muts := rawMutations(evs[part*250 : (part+1)*250])
						if err := s.Apply(ctx, "direct", series+"/"+strconv.Itoa(part), muts); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			rate(b, int(next.Load())*batchEvents, cpu0)
		})
		b.Run("sync="+sm.name+"/pebble", func(b *testing.B) {
			db, err := pebble.Open(filepath.Join(b.TempDir(), "pebble"), &pebble.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			wo := pebble.Sync
			if sm.mode == wal.SyncNormal {
				wo = pebble.NoSync
			}
			i, cpu0 := 0, cpuTime()
			for b.Loop() {
				series, evs := batch(i)
				bt := db.NewBatch()
				for _, m := range rawMutations(evs) {
					k := append([]byte(series+"/"), m.Key...)
					if err := bt.Set(k, m.Value, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := bt.Commit(wo); err != nil {
					b.Fatal(err)
				}
				i++
			}
			rate(b, i*batchEvents, cpu0)
		})
	}
}

// rawMutations are the kv puts of evs with the timeseries item-key layout.
func rawMutations(evs []timeseries.Event) []kv.Mutation {
	var muts []kv.Mutation
	for _, e := range evs {
		us := e.Time.UnixMicro()
		p := binary.BigEndian.AppendUint64(nil, uint64(1<<63-1-us))
		p = append(append(p, byte(len(e.ID))), e.ID...)
		for _, it := range e.Items {
			muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: append(p[:len(p):len(p)], it.Key...), Value: it.Value, Timestamp: us})
		}
	}
	return muts
}

// BenchmarkReadLatency: one time bucket (an hour, 4 event buckets) per
// series; normal series hold normalPerPartition events per partition, the
// wide one has one partition 100× wider. Each op reads the first page of
// 100 events of [t-10 min, t) for a random t in the bucket.
func BenchmarkReadLatency(b *testing.B) {
	b.Run("store=local", func(b *testing.B) { readLatency(b, openLocal(b, wal.SyncNormal)) })
	b.Run("store=cassandra", func(b *testing.B) { readLatency(b, openCassandra(b)) })
}

// openCassandra connects to EDGEKIT_CASSANDRA (default 127.0.0.1:9042) or
// skips.
func openCassandra(b *testing.B) kv.Store {
	hosts := strings.Split(os.Getenv("EDGEKIT_CASSANDRA"), ",")
	if hosts[0] == "" {
		hosts = []string{"127.0.0.1:9042"}
	}
	if c, err := net.DialTimeout("tcp", hosts[0], 2*time.Second); err != nil {
		b.Skipf("no Cassandra at %v: %v", hosts, err)
	} else {
		c.Close()
	}
	ks := fmt.Sprintf("edgekit_tsbench_%d", os.Getpid())
	s, err := cassandra.New(context.Background(), hosts, &cassandra.Options{Keyspace: ks})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		names, _ := s.Namespaces(context.Background())
		for _, ns := range names {
			_ = s.DropNamespace(context.Background(), ns)
		}
		s.Close()
	})
	return s
}

func readLatency(b *testing.B, store kv.Store) {
	const normalPerPartition = 250
	ctx := context.Background()
	// The clock stands at now until the last sub-benchmark moves it past
	// the day slice's accept window, when the slice's layout set is final
	// and reads stop re-reading it (see the timeseries package doc).
	var clock atomic.Int64
	clock.Store(now.UnixMicro())
	o := &timeseries.Options{TimeBucket: time.Hour, EventBuckets: 4, MaxEventBuckets: 4, WideBytes: 1 << 20, MaxSplitBuckets: 16,
		AcceptPast: 2 * time.Hour, Now: func() time.Time { return time.UnixMicro(clock.Load()) }}
	ns := openTS(b, store, o)
	bucket := now.Add(-time.Hour).Truncate(time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(series string, count int, onlyBucket int) {
		var evs []timeseries.Event
		for k := 0; len(evs) < count; k++ {
			id := series + "-" + strconv.Itoa(k)
			if onlyBucket >= 0 && hashBucket(id) != onlyBucket {
				continue // aim every event at one event bucket
			}
			at := bucket.Add(time.Duration(rng.Int64N(int64(time.Hour))))
			evs = append(evs, timeseries.Event{Time: at, ID: id, Items: []timeseries.Item{
				{Key: "bytes", Value: []byte("183020")}, {Key: "stream", Value: []byte("live/ch1/video/1080p")}}})
		}
		for i := 0; i < len(evs); i += 1000 {
			if err := ns.Write(ctx, series, evs[i:min(i+1000, len(evs))]...); err != nil {
				b.Fatal(err)
			}
		}
	}
	for s := range 8 {
		write("normal-"+strconv.Itoa(s), 4*normalPerPartition, -1)
	}
	write("wide", 3*normalPerPartition, -1)  // three normal partitions...
	write("wide", 100*normalPerPartition, 0) // ...and one 100× wider (event bucket 0)

	measure := func(b *testing.B, series string) {
		var lat []time.Duration
		rng := rand.New(rand.NewPCG(3, 4))
		for b.Loop() {
			to := bucket.Add(10*time.Minute + time.Duration(rng.Int64N(int64(50*time.Minute))))
			start := time.Now()
			p, err := ns.Read(ctx, series, to.Add(-10*time.Minute), to, &timeseries.ReadOptions{Limit: 100})
			lat = append(lat, time.Since(start))
			if err != nil || len(p.Events) == 0 {
				b.Fatalf("read: %v, %d events", err, len(p.Events))
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("normal", func(b *testing.B) { measure(b, "normal-3") })
	b.Run("wide/before-split", func(b *testing.B) { measure(b, "wide") })
	// A full scan of the wide bucket detects the partition; split it.
	opts := &timeseries.ReadOptions{Limit: timeseries.MaxPageEvents}
	for {
		p, err := ns.Read(ctx, "wide", bucket, bucket.Add(time.Hour), opts)
		if err != nil {
			b.Fatal(err)
		}
		if opts.PageToken = p.Next; p.Next == nil {
			break
		}
	}
	if n, err := ns.RunSplits(ctx); err != nil || n != 1 {
		b.Fatalf("RunSplits = %d, %v; want 1", n, err)
	}
	b.Run("wide/after-split", func(b *testing.B) { measure(b, "wide") })
	b.Run("normal/after-split", func(b *testing.B) { measure(b, "normal-3") })
	clock.Store(now.Truncate(24 * time.Hour).Add(24*time.Hour + 2*time.Hour + 2*time.Minute).UnixMicro())
	b.Run("normal/settled-layout", func(b *testing.B) { measure(b, "normal-3") })
}

// hashBucket mirrors the frozen event-bucket rule (FNV-1a-64 low 32 bits
// mod 4) so the benchmark can aim events at one partition.
func hashBucket(id string) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return int(uint32(h) % 4)
}

// cpuTime is the process's user+system CPU time: on a machine shared with
// other jobs, events per CPU-second says more than events per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rate reports events per wall second and per CPU second.
func rate(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}
