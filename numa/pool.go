package numa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// PoolOptions configures a Pool. nil means the defaults described per field.
// NewPool copies what it needs; the options may be reused.
type PoolOptions struct {
	// Workers is the number of workers on each node; 0 means one per CPU
	// of the node that the process may use, so memory-only nodes and nodes
	// outside the process's CPU set (taskset, numactl) get none.
	Workers int
	// NodeWorkers overrides Workers for individual nodes; a node mapped to
	// 0 gets no workers, and work for it fails with ErrNoWorkers.
	NodeWorkers map[int]int
	// Queue is the number of tasks a node buffers before Submit blocks;
	// 0 means 4 per worker.
	Queue int
	// Logger receives a line for each task that panicked; nil logs nothing
	// (the panic is still recovered and counted).
	Logger *slog.Logger

	// setAffinity and allowed are test seams; nil means sched_setaffinity
	// on the calling thread and the creating thread's sched_getaffinity.
	setAffinity func(cpus []int) error
	allowed     func() ([]int, error)
}

// PoolStats counts a pool's work (a snapshot value).
type PoolStats struct {
	Tasks  int64 // tasks run
	Panics int64 // tasks that panicked (recovered)
}

// Pool runs tasks on worker goroutines locked to OS threads whose CPU
// affinity is one node's CPUs, so a task submitted to node n runs on n's
// CPUs and (by first touch) allocates memory there.
//
// A Pool is safe for concurrent use. Close stops it.
type Pool struct {
	topo   *Topology
	queues map[int]chan func() // node → tasks; never closed (Submit may still hold one)
	ids    []int               // nodes with workers, sorted, for AnyNode round robin
	sizes  map[int]int
	pinned bool
	logger *slog.Logger
	next   atomic.Uint64

	mu     sync.RWMutex // guards closed; Submit holds it shared while enqueueing
	closed bool
	quit   chan struct{} // closed first by Close: releases Submits blocked on a full queue
	drain  chan struct{} // closed once nothing more can be enqueued: workers finish the queue and exit
	once   sync.Once
	wg     sync.WaitGroup

	tasks, panics atomic.Int64
}

// AnyNode asks Submit and Run to pick a node (round robin over nodes with workers).
const AnyNode = -1

// NewPool starts pinned workers on the nodes of t. It returns once every
// worker is running on its node's CPUs; if one cannot be pinned (a node
// explicitly given workers has no allowed CPU: ErrNoCPUs; or a
// sched_setaffinity error) it stops the others and fails. Where
// affinity is not supported (not Linux) workers run unpinned and Pinned
// reports false.
func NewPool(t *Topology, opts *PoolOptions) (*Pool, error) {
	var o PoolOptions
	if opts != nil {
		o = *opts
	}
	if o.setAffinity == nil {
		o.setAffinity = setThreadAffinity
	}
	if o.allowed == nil {
		o.allowed = threadAffinity
	}
	p := &Pool{
		topo: t, queues: map[int]chan func(){}, sizes: map[int]int{}, pinned: true, logger: o.Logger,
		quit: make(chan struct{}), drain: make(chan struct{}),
	}
	allowed, err := o.allowed()
	if errors.Is(err, errors.ErrUnsupported) {
		p.pinned, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	ready := make(chan error)
	started := 0
	for _, n := range t.nodes {
		cpus := n.CPUs
		if p.pinned {
			cpus = intersect(n.CPUs, allowed)
		}
		size, explicit := len(cpus), false
		if o.Workers > 0 {
			size, explicit = o.Workers, true
		}
		if v, ok := o.NodeWorkers[n.ID]; ok {
			size, explicit = v, v > 0
		}
		if !p.pinned && size == 0 && !explicit {
			size = 1
		}
		if size <= 0 {
			continue // memory-only node, or none of its CPUs allowed: no workers
		}
		if p.pinned && len(cpus) == 0 {
			if explicit {
				p.stop(ready, started)
				return nil, fmt.Errorf("%w: node %d (cpus %q)", ErrNoCPUs, n.ID, FormatCPUList(n.CPUs))
			}
			continue
		}
		q := o.Queue
		if q <= 0 {
			q = 4 * size
		}
		p.queues[n.ID] = make(chan func(), q)
		p.sizes[n.ID] = size
		p.ids = append(p.ids, n.ID)
		for range size {
			p.wg.Add(1)
			go p.worker(p.queues[n.ID], cpus, o.setAffinity, ready)
			started++
		}
	}
	if started == 0 {
		p.Close()
		return nil, fmt.Errorf("%w: no node has CPUs this process may use", ErrNoCPUs)
	}
	var firstErr error
	for range started {
		if err := <-ready; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		p.Close()
		return nil, firstErr
	}
	return p, nil
}

// stop is NewPool's early exit: collect the workers already started, then close.
func (p *Pool) stop(ready chan error, started int) {
	for range started {
		<-ready
	}
	p.Close()
}

func intersect(a, b []int) []int {
	var out []int
	for _, c := range a {
		if _, ok := slices.BinarySearch(b, c); ok {
			out = append(out, c)
		}
	}
	return out
}

// worker runs tasks of one node on a thread pinned to cpus.
func (p *Pool) worker(q chan func(), cpus []int, pin func([]int) error, ready chan<- error) {
	defer p.wg.Done()
	// Never unlocked: when the worker returns, the runtime ends this
	// thread, so its narrowed affinity cannot leak to other goroutines.
	runtime.LockOSThread()
	if p.pinned {
		if err := pin(cpus); err != nil {
			ready <- err
			<-p.drain
			return
		}
	}
	ready <- nil
	for {
		select {
		case fn := <-q:
			p.run(fn)
		case <-p.drain:
			for {
				select {
				case fn := <-q:
					p.run(fn)
				default:
					return
				}
			}
		}
	}
}

// run executes one task; a panic is recovered so the worker survives.
func (p *Pool) run(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			p.panics.Add(1)
			if p.logger != nil {
				p.logger.Error("numa: task panicked", "panic", r)
			}
		}
	}()
	p.tasks.Add(1)
	fn()
}

// Submit queues fn on node (AnyNode: the next node in turn), blocking while
// the node's queue is full until ctx is done or the pool closes. It does not
// wait for fn to run.
func (p *Pool) Submit(ctx context.Context, node int, fn func()) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if node == AnyNode {
		if len(p.ids) == 0 {
			return ErrNoWorkers
		}
		node = p.ids[(p.next.Add(1)-1)%uint64(len(p.ids))]
	}
	q, ok := p.queues[node]
	if !ok {
		if _, known := p.topo.Node(node); known {
			return fmt.Errorf("%w: node %d", ErrNoWorkers, node)
		}
		return fmt.Errorf("%w: node %d", ErrNotFound, node)
	}
	select {
	case q <- fn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.quit:
		return ErrClosed
	}
}

// Run submits fn to node and waits until it has run. If ctx ends before a
// worker starts fn, fn is dropped (it never runs) and Run returns
// ctx.Err(); once fn has started, Run waits for it to return and returns
// nil. So when Run returns, fn has either run to completion or never will:
// it may use what the caller gives up afterwards (an http.ResponseWriter, a
// buffer it reuses). A panic in fn is recovered by the worker (Stats
// counts it) and Run returns nil.
func (p *Pool) Run(ctx context.Context, node int, fn func()) error {
	const (
		queued int32 = iota
		started
		dropped
	)
	var state atomic.Int32
	done := make(chan struct{})
	err := p.Submit(ctx, node, func() {
		if !state.CompareAndSwap(queued, started) {
			return // Run gave up on it first
		}
		defer close(done)
		fn()
	})
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if state.CompareAndSwap(queued, dropped) {
			return ctx.Err()
		}
		<-done // fn is running: wait, so that nothing it uses is given up under it
		return nil
	}
}

// Size returns the number of workers on node.
func (p *Pool) Size(node int) int { return p.sizes[node] }

// Pinned reports whether workers are pinned (false where the OS has no
// thread affinity).
func (p *Pool) Pinned() bool { return p.pinned }

// Stats reports the work done so far.
func (p *Pool) Stats() PoolStats { return PoolStats{Tasks: p.tasks.Load(), Panics: p.panics.Load()} }

// Close stops accepting work, runs what is already queued, and waits for
// every worker to exit. It is idempotent and always returns nil.
func (p *Pool) Close() error {
	p.once.Do(func() {
		close(p.quit) // blocked Submits give up ...
		p.mu.Lock()   // ... and in-flight ones finish enqueueing
		p.closed = true
		p.mu.Unlock()
		close(p.drain)
	})
	p.wg.Wait()
	return nil
}
