package cassandra

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal"
)

// Puts and gets per second on one Cassandra node, four ways, plus kv/local:
//
//	raw     the driver alone: the same INSERT / point SELECT, prepared,
//	        token-aware, LOCAL_QUORUM, idempotent — what a user would write
//	store   kv/cassandra.Store.Apply / Read (one key)
//	client  kv.Client.Put / GetValue on that Store (idempotency token,
//	        chunking check, page token)
//	local-* kv/local.Store on a temp dir, SyncNormal (no fsync per commit,
//	        like Cassandra's periodic commitlog) and SyncFull (fsync)
//
// Run with a node up (scripts/cassandra.sh start):
//
//	cd bench && go test -c -o /tmp/cb.test ./cassandra
//	for i in 1 2 3 4 5; do /tmp/cb.test -test.run '^$' -test.bench . -test.benchtime 2s; done | tee /tmp/c.txt
//	benchstat -col /impl /tmp/c.txt
//
// (Five separate runs rather than -count 5, so the variants interleave and
// drifting load on a shared machine hits them alike.)
//
// Every variant runs with the same parallelism (parallelism × GOMAXPROCS
// goroutines), because a remote store's throughput is bounded by round
// trips in flight, not by one caller.
const (
	records     = 1000
	keysPerRec  = 10
	valueSize   = 100
	parallelism = 8
)

var value = bytes.Repeat([]byte("v"), valueSize)

func hosts(b *testing.B) []string {
	first := peertest.TCP(b, "EDGEKIT_CASSANDRA", "127.0.0.1:9042", "scripts/cassandra.sh start")
	if v := os.Getenv("EDGEKIT_CASSANDRA"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{first}
}

// fixture holds every variant's handle on the same data.
type fixture struct {
	store  *cassandra.Store
	client *kv.Client
	raw    *gocql.Session
	insert string
	get    string
}

const (
	keyspace = "edgekit_bench"
	ns       = "bench"
)

func setup(b *testing.B) *fixture {
	b.Helper()
	hs := hosts(b)
	ctx := context.Background()
	s, err := cassandra.New(ctx, hs, &cassandra.Options{Keyspace: keyspace})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateNamespace(ctx, ns); err != nil {
		b.Fatal(err)
	}
	c, err := kv.NewClient(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, ns); err != nil {
		b.Fatal(err)
	}
	// The raw session is configured as the Store configures its own.
	cfg := gocql.NewCluster(hs...)
	cfg.Consistency = gocql.LocalQuorum
	cfg.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy(), gocql.ShuffleReplicas())
	raw, err := cfg.CreateSession()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(raw.Close)
	warm.Do(func() { warmUp(b, raw, hs) })
	f := &fixture{
		store:  s,
		client: c,
		raw:    raw,
		insert: fmt.Sprintf(`INSERT INTO %q.%q (id, key, value, value_metadata) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`, keyspace, ns),
		get:    fmt.Sprintf(`SELECT value, value_metadata, WRITETIME(value) FROM %q.%q WHERE id = ? AND key = ?`, keyspace, ns),
	}
	return f
}

var warm sync.Once

// warmUp runs 10 s of puts and gets before the first measurement: a fresh
// Cassandra JVM runs interpreted code until the JIT has compiled its hot
// paths, which made whichever variant ran first look 2-4x slower.
func warmUp(b *testing.B, raw *gocql.Session, hs []string) {
	insert := fmt.Sprintf(`INSERT INTO %q.%q (id, key, value, value_metadata) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`, keyspace, ns)
	get := fmt.Sprintf(`SELECT value FROM %q.%q WHERE id = ? AND key = ?`, keyspace, ns)
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; time.Now().Before(deadline); i += 16 {
				_ = raw.Query(insert, recID(i), readKey(i), value, []byte{}, int64(1), 0).Exec()
				var v []byte
				_ = raw.Query(get, recID(i), readKey(i)).Scan(&v)
			}
		})
	}
	wg.Wait()
	b.Logf("warmed up %s for 10 s", hs)
}

func recID(i int) string   { return fmt.Sprintf("rec%04d", i%records) }
func key(i int) []byte     { return fmt.Appendf(nil, "k%06d", i) }
func readKey(i int) []byte { return key(i % keysPerRec) }

// op is one benchmark operation on item number i.
type op func(ctx context.Context, i int) error

// cpuTime returns the user+system CPU time this process has used: the
// client side of every variant (driver, Store, Client), without the
// Cassandra JVM, which is another process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run executes op b.N times across the goroutines and reports ops/s and
// the client CPU time per op (less disturbed by other load on a shared
// machine than wall-clock throughput).
func run(b *testing.B, unit string, fn op) {
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := fn(ctx, int(next.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func localStore(b *testing.B, mode wal.SyncMode) kv.Store {
	s, err := local.Open(filepath.Join(b.TempDir(), "db"), &local.Options{Sync: mode})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateNamespace(context.Background(), ns); err != nil {
		b.Fatal(err)
	}
	return s
}

func storePut(s kv.Store) op {
	return func(ctx context.Context, i int) error {
		m := []kv.Mutation{{Op: kv.OpPut, Key: key(i), Value: value, Timestamp: time.Now().UnixMicro()}}
		return s.Apply(ctx, ns, recID(i), m)
	}
}

func storeGet(s kv.Store) op {
	return func(ctx context.Context, i int) error {
		res, err := s.Read(ctx, ns, recID(i), kv.Query{Keys: [][]byte{readKey(i)}})
		if err == nil && len(res.Items) != 1 {
			err = fmt.Errorf("get %s/%s: %d items", recID(i), readKey(i), len(res.Items))
		}
		return err
	}
}

func BenchmarkPut(b *testing.B) {
	f := setup(b)
	b.Run("impl=raw", func(b *testing.B) {
		run(b, "puts/s", func(ctx context.Context, i int) error {
			return f.raw.Query(f.insert, recID(i), key(i), value, []byte{}, time.Now().UnixMicro(), 0).
				Consistency(gocql.LocalQuorum).Idempotent(true).ExecContext(ctx)
		})
	})
	b.Run("impl=store", func(b *testing.B) { run(b, "puts/s", storePut(f.store)) })
	b.Run("impl=client", func(b *testing.B) {
		run(b, "puts/s", func(ctx context.Context, i int) error {
			return f.client.Put(ctx, ns, recID(i), key(i), value)
		})
	})
	b.Run("impl=local-normal", func(b *testing.B) { run(b, "puts/s", storePut(localStore(b, wal.SyncNormal))) })
	b.Run("impl=local-full", func(b *testing.B) { run(b, "puts/s", storePut(localStore(b, wal.SyncFull))) })
}

// preload writes records × keysPerRec items through s.
func preload(b *testing.B, s kv.Store) {
	b.Helper()
	ctx := context.Background()
	ts := time.Now().UnixMicro()
	for r := range records {
		var muts []kv.Mutation
		for k := range keysPerRec {
			muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: key(k), Value: value, Timestamp: ts})
		}
		if err := s.Apply(ctx, ns, recID(r), muts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	f := setup(b)
	preload(b, f.store)
	b.Run("impl=raw", func(b *testing.B) {
		run(b, "gets/s", func(ctx context.Context, i int) error {
			var v, meta []byte
			var ts int64
			return f.raw.Query(f.get, recID(i), readKey(i)).Consistency(gocql.LocalQuorum).Idempotent(true).
				ScanContext(ctx, &v, &meta, &ts)
		})
	})
	b.Run("impl=store", func(b *testing.B) { run(b, "gets/s", storeGet(f.store)) })
	b.Run("impl=client", func(b *testing.B) {
		// The Client reads what it wrote itself (its values carry a
		// small header in value_metadata); preload through it.
		ctx := context.Background()
		for r := range records {
			for k := range keysPerRec {
				if err := f.client.Put(ctx, ns, recID(r), key(k), value); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ResetTimer()
		run(b, "gets/s", func(ctx context.Context, i int) error {
			_, err := f.client.GetValue(ctx, ns, recID(i), readKey(i))
			return err
		})
	})
	b.Run("impl=local-normal", func(b *testing.B) {
		s := localStore(b, wal.SyncNormal)
		preload(b, s)
		run(b, "gets/s", storeGet(s))
	})
}
