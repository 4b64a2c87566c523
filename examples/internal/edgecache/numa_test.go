package edgecache_test

import (
	"bytes"
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestNUMAHitClientLeavesWhileQueued: a disk hit queued behind a busy
// worker whose client gives up must not be sent twice — inline when the
// client leaves and again by the worker after the handler returned, onto a
// finished ResponseWriter (a data race under -race, and net/http's
// "superfluous WriteHeader"). The handler waits for queued work instead.
func TestNUMAHitClientLeavesWhileQueued(t *testing.T) {
	topo, err := numa.Load("")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := numa.NewPool(topo, &numa.PoolOptions{NodeWorkers: onlyNode(topo)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	o := newFakeOrigin(t, slowSegment)
	e, err := edgecache.New(edgecache.Config{Origin: o.srv.URL, Self: "http://127.0.0.1:1", CacheDir: t.TempDir(),
		Pool: pool, Policy: numa.None()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srvLog := &syncBuf{}
	srv := httptest.NewUnstartedServer(e)
	srv.Config.ErrorLog = log.New(srvLog, "", 0)
	srv.Start()
	defer srv.Close()
	p := "/live/ch1/0/10.m4s"
	if code, b, _ := get(t, srv.URL+p); code != 200 || !bytes.Equal(b, segmentBody(p)) {
		t.Fatalf("miss: got %d", code)
	}

	// Occupy the pool's only worker.
	started, unblock := make(chan struct{}), make(chan struct{})
	go pool.Run(context.Background(), numa.AnyNode, func() { close(started); <-unblock })
	<-started
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := client.Get(srv.URL + p); err == nil {
		resp.Body.Close()
		t.Fatalf("hit answered (%d) while the only worker was busy", resp.StatusCode)
	}
	// Give the old code time to notice the client left and return.
	deadline := time.Now().Add(time.Second)
	for e.Stats().Hits == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(unblock)
	for e.Stats().Hits == 0 || pool.Stats().Tasks < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	// A plain hit still works afterwards.
	if code, b, _ := get(t, srv.URL+p); code != 200 || !bytes.Equal(b, segmentBody(p)) {
		t.Fatalf("hit after the worker freed: got %d", code)
	}
	if got := srvLog.String(); strings.Contains(got, "superfluous") {
		t.Errorf("server log: %s", got)
	}
}

// onlyNode gives one worker to the first node with CPUs and none to the
// others, so the pool has exactly one worker.
func onlyNode(topo *numa.Topology) map[int]int {
	m := make(map[int]int)
	one := false
	for _, n := range topo.Nodes() {
		if !one && len(n.CPUs) > 0 {
			m[n.ID], one = 1, true
		} else {
			m[n.ID] = 0
		}
	}
	return m
}
