package edgecache_test

import (
	"bytes"
	"testing"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/numa"
)

// TestHitsOnNUMAWorkers: with a pool and a policy, disk hits run on the
// pool's node-pinned workers. The topology is this machine's (one node on
// most test machines; the fake multi-node trees of the numa package name
// CPUs a pool cannot pin to here).
func TestHitsOnNUMAWorkers(t *testing.T) {
	topo, err := numa.Load("")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := numa.NewPool(topo, &numa.PoolOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, func(c *edgecache.Config) {
		c.Pool, c.Policy = pool, numa.DiskSilo(topo)
	})
	p := "/live/ch1/0/9.m4s"
	for i := 0; i < 3; i++ {
		if code, b, _ := get(t, tr.urls[0]+p); code != 200 || !bytes.Equal(b, segmentBody(p)) {
			t.Fatalf("request %d: got %d", i, code)
		}
	}
	if got := pool.Stats().Tasks; got != 2 {
		t.Fatalf("pool tasks: got %d want 2 (the two hits)", got)
	}
	t.Logf("nodes %d, pinned %v, tasks %d", topo.NumNodes(), pool.Pinned(), pool.Stats().Tasks)
}
