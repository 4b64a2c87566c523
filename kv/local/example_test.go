package local_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
)

func Example() {
	dir, err := os.MkdirTemp("", "kvlocal")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := local.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.CreateNamespace(ctx, "profiles"); err != nil {
		log.Fatal(err)
	}
	// One Apply is one atomic commit.
	err = s.Apply(ctx, "profiles", "user-1", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("email"), Value: []byte("a@example.com"), Timestamp: 1},
		{Op: kv.OpPut, Key: []byte("name"), Value: []byte("Ada"), Timestamp: 1},
		{Op: kv.OpPut, Key: []byte("plan"), Value: []byte("free"), Timestamp: 1},
	})
	if err != nil {
		log.Fatal(err)
	}
	// An older write loses to the newer one (last writer wins).
	s.Apply(ctx, "profiles", "user-1", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("plan"), Value: []byte("pro"), Timestamp: 3},
		{Op: kv.OpPut, Key: []byte("plan"), Value: []byte("stale"), Timestamp: 2},
	})
	// Read two items at a time, following the cursor.
	q := kv.Query{Limit: 2}
	for {
		res, err := s.Read(ctx, "profiles", "user-1", q)
		if err != nil {
			log.Fatal(err)
		}
		for _, it := range res.Items {
			fmt.Printf("%s = %s\n", it.Key, it.Value)
		}
		if res.Cursor == nil {
			break
		}
		q.Cursor = res.Cursor
	}
	// Output:
	// email = a@example.com
	// name = Ada
	// plan = pro
}

// Large values go through the kv Client, which chunks them.
func Example_client() {
	dir, _ := os.MkdirTemp("", "kvlocal")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := local.Open(dir, &local.Options{CacheSize: 8 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	c, err := kv.NewClient(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, "segments"); err != nil {
		log.Fatal(err)
	}
	seg := make([]byte, 3<<20) // above the 1 MiB chunking threshold
	if err := c.Put(ctx, "segments", "channel-7", []byte("seg-00042.m4s"), seg); err != nil {
		log.Fatal(err)
	}
	got, err := c.GetValue(ctx, "segments", "channel-7", []byte("seg-00042.m4s"))
	fmt.Println(len(got), err)
	// Output: 3145728 <nil>
}

// A delete hides older writes that arrive late for Options.TombstoneGrace;
// after that the sweeper purges the tombstone and its space is reused.
// The clock here is injected so the example runs in an instant.
func Example_tombstoneGrace() {
	ctx := context.Background()
	var clock atomic.Int64 // read by the sweeper goroutine too
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := local.Open("kv.db", &local.Options{
		FS:             vfs.NewMem(),
		Now:            func() time.Time { return time.Unix(0, clock.Load()) },
		TombstoneGrace: time.Hour,
		SweepInterval:  -1, // the example sweeps by hand
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.CreateNamespace(ctx, "sessions")
	ts := clock.Load() / 1000 // microseconds, as kv.Mutation wants
	put := func(v string, ts int64) {
		s.Apply(ctx, "sessions", "user-1", []kv.Mutation{{Op: kv.OpPut, Key: []byte("token"), Value: []byte(v), Timestamp: ts}})
	}
	read := func() int {
		res, _ := s.Read(ctx, "sessions", "user-1", kv.Query{})
		return len(res.Items)
	}
	put("abc", ts)
	s.Apply(ctx, "sessions", "user-1", []kv.Mutation{{Op: kv.OpDeleteRecord, Timestamp: ts + 2}})
	put("late", ts+1) // older than the delete: hidden
	fmt.Println("within the grace:", read(), "items")

	clock.Add(int64(2 * time.Hour))
	s.SweepNow(ctx)
	st, _ := s.Stats()
	fmt.Println("purged:", st.Purged)
	put("late", ts+1) // nothing hides it any more
	fmt.Println("after the purge:", read(), "items")
	// Output:
	// within the grace: 0 items
	// purged: 1
	// after the purge: 1 items
}
