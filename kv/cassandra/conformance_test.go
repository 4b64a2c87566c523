package cassandra_test

import (
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// TestConformance runs the kv conformance suite on the real cluster, with
// keys stored in ascending clustering order.
func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return open(t, nil) })
}

// TestConformanceDescending runs the suite again with every table created
// in descending clustering order: reads in both directions must not care.
func TestConformanceDescending(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	opts := func() *cassandra.Options {
		return &cassandra.Options{Keyspace: testKeyspace + "_desc", Default: cassandra.Namespace{Order: cassandra.Descending}}
	}
	kvtest.Run(t, func(t *testing.T) kv.Store { return open(t, opts()) })
}
