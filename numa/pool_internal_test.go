package numa

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeTopology builds a topology whose node i holds cpus[i].
func fakeTopology(cpus ...[]int) *Topology {
	t := &Topology{root: "fake", index: map[int]int{}, cpuNode: map[int]int{}}
	for i, c := range cpus {
		d := make([]int, len(cpus))
		for j := range d {
			d[j] = 20
		}
		d[i] = 10
		t.add(Node{ID: i, CPUs: c, Distances: d})
	}
	return t
}

// recordingPin records which CPU sets workers pinned to, instead of pinning.
type recordingPin struct {
	mu   sync.Mutex // guards sets
	sets []string
}

func (r *recordingPin) pin(cpus []int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, FormatCPUList(cpus))
	return nil
}

func allCPUs() ([]int, error) {
	c := make([]int, 64)
	for i := range c {
		c[i] = i
	}
	return c, nil
}

// TestPoolPinsToNode runs tasks on every node of a topology mapped onto the
// CPUs this process may use, and checks with sched_getaffinity inside each
// task that its thread is pinned to exactly its node's CPUs.
func TestPoolPinsToNode(t *testing.T) {
	defer goleak.VerifyNone(t)
	allowed, err := threadAffinity()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no thread affinity on this OS")
	}
	if err != nil {
		t.Fatal(err)
	}
	// Two fake nodes over the real CPUs when there are two or more, so the
	// test shows different nodes get different affinity; else one node.
	topo := fakeTopology(allowed)
	if len(allowed) >= 2 {
		half := len(allowed) / 2
		topo = fakeTopology(allowed[:half], allowed[half:])
	}
	real, err := Load("/")
	if err != nil {
		t.Fatal(err)
	}
	for name, tp := range map[string]*Topology{"fake-split": topo, "this-machine": real} {
		t.Run(name, func(t *testing.T) {
			p, err := NewPool(tp, &PoolOptions{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for _, n := range tp.Nodes() {
				want := FormatCPUList(intersect(n.CPUs, allowed))
				for i := range 2 * p.Size(n.ID) {
					var got string
					var gerr error
					if err := p.Run(context.Background(), n.ID, func() {
						cpus, err := threadAffinity()
						got, gerr = FormatCPUList(cpus), err
					}); err != nil {
						t.Fatal(err)
					}
					if gerr != nil || got != want {
						t.Fatalf("node %d task %d: thread affinity %s (%v), want %s", n.ID, i, got, gerr, want)
					}
				}
			}
		})
	}
}

func TestPoolSizes(t *testing.T) {
	defer goleak.VerifyNone(t)
	topo := fakeTopology([]int{0, 1, 2, 3}, []int{4, 5}, []int{6, 7}, []int{8})
	rec := &recordingPin{}
	p, err := NewPool(topo, &PoolOptions{NodeWorkers: map[int]int{1: 3, 2: 0}, setAffinity: rec.pin, allowed: allCPUs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for node, want := range map[int]int{0: 4, 1: 3, 2: 0, 3: 1} {
		if got := p.Size(node); got != want {
			t.Errorf("Size(%d) = %d, want %d", node, got, want)
		}
	}
	slices.Sort(rec.sets)
	if want := []string{"0-3", "0-3", "0-3", "0-3", "4-5", "4-5", "4-5", "8"}; !slices.Equal(rec.sets, want) {
		t.Errorf("pinned sets %v, want %v", rec.sets, want)
	}
	ctx := context.Background()
	if err := p.Submit(ctx, 2, func() {}); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("Submit to node without workers: %v, want ErrNoWorkers", err)
	}
	if err := p.Submit(ctx, 9, func() {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Submit to unknown node: %v, want ErrNotFound", err)
	}
	// AnyNode goes to nodes that have workers (never node 2).
	for range 30 {
		if err := p.Run(ctx, AnyNode, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Tasks != 30 {
		t.Errorf("tasks %d, want 30", st.Tasks)
	}
}

func TestPoolNoCPUs(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Node 1's CPUs are outside the allowed set, node 2 is memory-only.
	topo := fakeTopology([]int{0, 1}, []int{8, 9}, nil)
	only01 := func() ([]int, error) { return []int{0, 1}, nil }
	rec := &recordingPin{}
	p, err := NewPool(topo, &PoolOptions{setAffinity: rec.pin, allowed: only01})
	if err != nil {
		t.Fatalf("default sizes: %v", err)
	}
	if p.Size(0) != 2 || p.Size(1) != 0 || p.Size(2) != 0 {
		t.Errorf("sizes %d %d %d, want 2 0 0", p.Size(0), p.Size(1), p.Size(2))
	}
	if err := p.Submit(context.Background(), 1, func() {}); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("Submit to node 1: %v, want ErrNoWorkers", err)
	}
	p.Close()
	_, err = NewPool(topo, &PoolOptions{Workers: 1, setAffinity: rec.pin, allowed: only01})
	if !errors.Is(err, ErrNoCPUs) {
		t.Fatalf("explicit workers on node 1: %v, want ErrNoCPUs", err)
	}
	_, err = NewPool(topo, &PoolOptions{setAffinity: rec.pin, allowed: func() ([]int, error) { return []int{40}, nil }})
	if !errors.Is(err, ErrNoCPUs) {
		t.Fatalf("no usable node: %v, want ErrNoCPUs", err)
	}
	pinErr := errors.New("EPERM")
	_, err = NewPool(topo, &PoolOptions{setAffinity: func([]int) error { return pinErr }, allowed: allCPUs})
	if !errors.Is(err, pinErr) {
		t.Fatalf("err %v, want the pin error", err)
	}
}

// TestPoolClose: queued work runs, blocked Submits are released, later
// Submits fail, and no goroutine outlives the pool.
func TestPoolClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	topo := fakeTopology([]int{0})
	p, err := NewPool(topo, &PoolOptions{Workers: 1, Queue: 2, setAffinity: (&recordingPin{}).pin, allowed: allCPUs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gate := make(chan struct{})
	var ran atomic.Int64
	if err := p.Submit(ctx, 0, func() { <-gate; ran.Add(1) }); err != nil {
		t.Fatal(err)
	}
	for range 2 { // fill the queue behind the blocked task
		if err := p.Submit(ctx, 0, func() { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- p.Submit(ctx, 0, func() { ran.Add(1) }) }()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if err := p.Submit(tctx, 0, func() {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit to a full queue: %v, want deadline exceeded", err)
	}
	cancel()
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	if err := <-blocked; !errors.Is(err, ErrClosed) && err != nil {
		t.Errorf("blocked Submit: %v, want ErrClosed or success", err)
	}
	close(gate)
	<-closed
	if got := ran.Load(); got < 3 {
		t.Errorf("%d tasks ran, want the 3 queued before Close", got)
	}
	if err := p.Submit(ctx, 0, func() {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPoolPanic(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := oneWorkerPool(t)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Run(ctx, 0, func() { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	ok := false
	if err := p.Run(ctx, 0, func() { ok = true }); err != nil || !ok {
		t.Fatalf("worker did not survive a panicking task: %v", err)
	}
	if st := p.Stats(); st.Panics != 1 || st.Tasks != 2 {
		t.Fatalf("stats %+v, want 2 tasks, 1 panic", st)
	}
}

func TestPolicies(t *testing.T) {
	topo, err := Load("testdata/four-node")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/mktrees.sh")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	disk := &diskSilo{t: topo, dev: func(*os.File) (uint32, uint32, error) { return 259, 0, nil }}
	striped := &diskSilo{t: topo, dev: func(*os.File) (uint32, uint32, error) { return 253, 1, nil }}
	net := NetworkSilo(topo)
	cases := []struct {
		name string
		pol  Policy
		w    Work
		want int
	}{
		{"none", None(), Work{File: f, Interface: "enp129s0f0np0"}, AnyNode},
		{"disk/nvme-node3", disk, Work{File: f}, 3},
		{"disk/cached", disk, Work{File: f}, 3},
		{"disk/no-file", disk, Work{}, AnyNode},
		{"disk/striped", striped, Work{File: f}, AnyNode},
		{"network/nic-node2", net, Work{Interface: "enp129s0f0np0"}, 2},
		{"network/unknown-nic", net, Work{Interface: "wlan0"}, AnyNode},
		{"network/nothing", net, Work{}, AnyNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pol.Place(tc.w); got != tc.want {
				t.Fatalf("Place = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestDispatch routes work through a policy: only node 3 has workers, so
// work the policy places on node 3 runs there, and work placed on node 2
// runs on any node (node 3) instead of failing; Run with node 2 itself still
// reports ErrNoWorkers.
func TestDispatch(t *testing.T) {
	defer goleak.VerifyNone(t)
	topo, err := Load("testdata/four-node")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(topo, &PoolOptions{Workers: 1, NodeWorkers: map[int]int{0: 0, 1: 0, 2: 0},
		setAffinity: (&recordingPin{}).pin, allowed: allCPUs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pol := NetworkSilo(topo)
	ran := false
	if err := p.Dispatch(context.Background(), pol, Work{Interface: "enp193s0f0np0"}, func() { ran = true }); err != nil || !ran {
		t.Fatalf("dispatch to node 3: ran=%v err=%v", ran, err)
	}
	if n := pol.Place(Work{Interface: "enp129s0f0np0"}); n != 2 {
		t.Fatalf("policy places enp129s0f0np0 on node %d, want 2", n)
	}
	ran = false
	if err := p.Dispatch(context.Background(), pol, Work{Interface: "enp129s0f0np0"}, func() { ran = true }); err != nil || !ran {
		t.Fatalf("dispatch placed on node 2 (no workers): ran=%v err=%v, want it run on another node", ran, err)
	}
	if err := p.Run(context.Background(), 2, func() {}); !errors.Is(err, ErrNoWorkers) {
		t.Fatalf("Run on node 2: %v, want ErrNoWorkers", err)
	}
}

// TestPoolRunCancel: a Run whose ctx ends while fn waits in the queue
// returns ctx.Err() and fn never runs; a Run whose ctx ends while fn runs
// waits for fn to return and reports success.
func TestPoolRunCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := oneWorkerPool(t)
	defer p.Close()
	bg := context.Background()

	// The one worker is busy, so the next fn waits in the queue.
	busy, release := make(chan struct{}), make(chan struct{})
	if err := p.Submit(bg, 0, func() { close(busy); <-release }); err != nil {
		t.Fatal(err)
	}
	<-busy
	ctx, cancel := context.WithCancel(bg)
	ran := make(chan struct{}, 1)
	res := make(chan error, 1)
	go func() { res <- p.Run(ctx, 0, func() { ran <- struct{}{} }) }()
	time.Sleep(10 * time.Millisecond) // let Run queue fn
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with fn still queued, ctx cancelled: %v, want context.Canceled", err)
	}
	close(release)
	if err := p.Run(bg, 0, func() {}); err != nil { // the queue has drained past fn
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Fatal("fn ran after Run returned ctx.Err()")
	default:
	}

	// fn has started when ctx ends: Run waits for it.
	ctx, cancel = context.WithCancel(bg)
	defer cancel()
	started, finish := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	go func() {
		res <- p.Run(ctx, 0, func() {
			close(started)
			<-finish
			finished.Store(true)
		})
	}()
	<-started
	cancel()
	select {
	case err := <-res:
		t.Fatalf("Run returned (%v) while fn was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	if err := <-res; err != nil || !finished.Load() {
		t.Fatalf("Run after fn finished: %v (finished %v), want nil", err, finished.Load())
	}
}

// oneWorkerPool is a pool of one worker on a one-node machine: its tasks
// run strictly one after another, in the order queued.
func oneWorkerPool(t *testing.T) *Pool {
	t.Helper()
	p, err := NewPool(fakeTopology([]int{0}), &PoolOptions{Workers: 1, setAffinity: (&recordingPin{}).pin, allowed: allCPUs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
