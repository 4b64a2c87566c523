package local_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
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
