package kv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// A record is a sorted map of items; Get returns them in key order.
func Example() {
	ctx := context.Background()
	store := kvtest.NewMemStore() // kv/local or kv/cassandra in production
	defer store.Close()
	c, err := kv.NewClient(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.CreateNamespace(ctx, "profiles"); err != nil {
		log.Fatal(err)
	}
	_ = c.Put(ctx, "profiles", "user42", []byte("name"), []byte("Ada"))
	_ = c.Put(ctx, "profiles", "user42", []byte("lang"), []byte("en"))
	page, err := c.Get(ctx, "profiles", "user42", kv.Query{})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range page.Items {
		fmt.Printf("%s=%s\n", it.Key, it.Value)
	}
	// Output:
	// lang=en
	// name=Ada
}

// Retrying a write with its token applies it once: a newer write is not
// undone by the retry.
func ExampleWithToken() {
	ctx := context.Background()
	store := kvtest.NewMemStore()
	c, _ := kv.NewClient(store, nil)
	_ = c.CreateNamespace(ctx, "ns")

	tok, _ := c.NewToken()
	_ = c.Put(ctx, "ns", "id", []byte("k"), []byte("first"), kv.WithToken(tok))
	_ = c.Put(ctx, "ns", "id", []byte("k"), []byte("second")) // a later token
	// The first write's response was lost; the caller retries it.
	_ = c.Put(ctx, "ns", "id", []byte("k"), []byte("first"), kv.WithToken(tok))

	v, _ := c.GetValue(ctx, "ns", "id", []byte("k"))
	fmt.Println(string(v))
	// Output: second
}

// Values above Options.ChunkThreshold are stored as chunks in the
// companion namespace and read back whole.
func ExampleClient_Put_chunked() {
	ctx := context.Background()
	store := kvtest.NewMemStore()
	c, _ := kv.NewClient(store, nil)
	_ = c.CreateNamespace(ctx, "media")

	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	if err := c.Put(ctx, "media", "asset1", []byte("init.mp4"), big); err != nil {
		log.Fatal(err)
	}
	v, _ := c.GetValue(ctx, "media", "asset1", []byte("init.mp4"))
	names, _ := store.Namespaces(ctx)
	fmt.Println(len(v), bytes.Equal(v, big), names)
	// Output: 5242880 true [media media__chunks]
}

// OpenValue streams a chunked value a window at a time; the last Read
// returns io.EOF only when the whole value has passed its checksum.
func ExampleClient_OpenValue() {
	ctx := context.Background()
	c, _ := kv.NewClient(kvtest.NewMemStore(), nil)
	_ = c.CreateNamespace(ctx, "media")
	big := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16) // 9 MiB: 9 chunks
	if err := c.Put(ctx, "media", "asset1", []byte("seg1.m4s"), big); err != nil {
		log.Fatal(err)
	}
	r, err := c.OpenValue(ctx, "media", "asset1", []byte("seg1.m4s"))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r) // e.g. an http.ResponseWriter
	fmt.Println(r.Size(), n, err)
	// Output: 9437184 9437184 <nil>
}

// Pages are bounded in bytes; Page.Next resumes the same query.
func ExampleClient_Get_pagination() {
	ctx := context.Background()
	c, _ := kv.NewClient(kvtest.NewMemStore(), nil)
	_ = c.CreateNamespace(ctx, "events")
	var muts []kv.Mutation
	for i := range 10 {
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "e%02d", i), Value: make([]byte, 100)})
	}
	_ = c.Mutate(ctx, "events", "stream1", muts)

	q := kv.Query{MaxBytes: 250, Reverse: true} // newest first, ~250 bytes a page
	for {
		page, err := c.Get(ctx, "events", "stream1", q)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d items from %s\n", len(page.Items), page.Items[0].Key)
		if page.Next == nil {
			break
		}
		q.Cursor = page.Next
	}
	// Output:
	// 3 items from e09
	// 3 items from e06
	// 3 items from e03
	// 1 items from e00
}

// Sweep reclaims the chunks of overwritten and deleted values once they
// are older than the token window; run it periodically.
func ExampleClient_Sweep() {
	ctx := context.Background()
	store := kvtest.NewMemStore()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c, _ := kv.NewClient(store, &kv.Options{Now: func() time.Time { return now }})
	_ = c.CreateNamespace(ctx, "media")

	big := make([]byte, 3<<20)
	_ = c.Put(ctx, "media", "a", []byte("v"), big)
	_ = c.Put(ctx, "media", "a", []byte("v"), big[1:]) // the first write's chunks are now orphans
	_ = c.Put(ctx, "media", "b", []byte("v"), big)
	_ = c.DeleteRecord(ctx, "media", "b") // and so are these

	st, _ := c.Sweep(ctx, "media")
	fmt.Printf("now:   %+v\n", st)
	now = now.Add(time.Hour)
	st, _ = c.Sweep(ctx, "media")
	fmt.Printf("later: %+v\n", st)
	// Output:
	// now:   {Writes:3 Young:3 Live:0 Deleted:0}
	// later: {Writes:3 Young:0 Live:1 Deleted:2}
}

// A Store reads values into caller buffers when it implements IntoReader;
// here the record's two values land side by side in one buffer, and a
// buffer of the wrong length only learns the value's length.
func ExampleIntoReader() {
	ctx := context.Background()
	store := kvtest.NewMemStore() // kv/local implements IntoReader too
	defer store.Close()
	_ = store.CreateNamespace(ctx, "blobs")
	_ = store.Apply(ctx, "blobs", "r", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("a"), Value: []byte("hello "), Timestamp: 1},
		{Op: kv.OpPut, Key: []byte("b"), Value: []byte("world"), Timestamp: 1},
	})
	r, ok := kv.Store(store).(kv.IntoReader)
	if !ok {
		log.Fatal("no IntoReader: read with Store.Read instead")
	}
	buf := make([]byte, 11)
	lens, err := r.ReadInto(ctx, "blobs", "r",
		[][]byte{[]byte("a"), []byte("b"), []byte("nope")},
		[][]byte{buf[:6], buf[6:], make([]byte, 3)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q %v\n", buf, lens)
	// Output:
	// "hello world" [6 5 -1]
}
