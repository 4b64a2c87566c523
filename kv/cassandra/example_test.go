package cassandra_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
)

// Example opens a Store on a cluster, creates a namespace whose keys are
// read newest-first, and writes and reads a record. It needs a running
// Cassandra (scripts/cassandra.sh start), so it has no checked output.
func Example() {
	ctx := context.Background()
	s, err := cassandra.New(ctx, []string{"127.0.0.1:9042"}, &cassandra.Options{
		Keyspace:    "example",
		Replication: map[string]string{"class": "SimpleStrategy", "replication_factor": "1"},
		Namespaces:  map[string]cassandra.Namespace{"events": {Order: cassandra.Descending}},
		HedgeDelay:  20 * time.Millisecond, // ask a second replica after 20 ms
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateNamespace(ctx, "events"); err != nil {
		log.Fatal(err)
	}
	now := time.Now().UnixMicro()
	err = s.Apply(ctx, "events", "channel-1", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("2026-11-23T10:00"), Value: []byte("start"), Timestamp: now},
		{Op: kv.OpPut, Key: []byte("2026-11-23T10:05"), Value: []byte("ad break"), Timestamp: now, TTL: time.Hour},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Read(ctx, "events", "channel-1", kv.Query{Reverse: true, Limit: 10})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range res.Items {
		fmt.Printf("%s %s\n", it.Key, it.Value)
	}
}
