package kvtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// A backend proves it keeps the kv.Store contract by running the suite from
// its own test file; here the backend is MemStore itself.
func ExampleRun() {
	// In mybackend_test.go:
	testConformance := func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T) kv.Store {
			s := kvtest.NewMemStore()
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	}
	_ = testConformance
}

// MemStore reads time from a clock the test controls, so TTLs expire
// without sleeping.
func ExampleMemStore_SetClock() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := kvtest.NewMemStore()
	defer s.Close()
	s.SetClock(func() time.Time { return now })

	_ = s.CreateNamespace(ctx, "sessions")
	_ = s.Apply(ctx, "sessions", "user42", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("token"), Value: []byte("abc"), TTL: time.Minute, Timestamp: 1},
		{Op: kv.OpPut, Key: []byte("name"), Value: []byte("Ada"), Timestamp: 1},
	})
	for _, at := range []time.Duration{0, time.Minute} {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(at)
		res, _ := s.Read(ctx, "sessions", "user42", kv.Query{})
		fmt.Printf("after %v: %d items\n", at, len(res.Items))
	}
	// Output:
	// after 0s: 2 items
	// after 1m0s: 1 items
}

// FaultStore lets the first Apply calls through and fails the rest, like a
// writer that dies part-way through a chunked put: the old value stays whole.
func ExampleFaultStore() {
	ctx := context.Background()
	fs := kvtest.NewFaultStore(kvtest.NewMemStore())
	defer fs.Close()
	c, _ := kv.NewClient(fs, &kv.Options{ChunkThreshold: 1024, ChunkSize: 256})
	_ = c.CreateNamespace(ctx, "media")
	_ = c.Put(ctx, "media", "seg", []byte("v"), []byte("old"))

	fs.FailAfter(1) // the first chunk batch is staged, then the "process dies"
	err := c.Put(ctx, "media", "seg", []byte("v"), make([]byte, 4096))
	v, _ := c.GetValue(ctx, "media", "seg", []byte("v"))
	fmt.Println(errors.Is(err, kvtest.ErrInjected), string(v))
	// Output: true old
}
