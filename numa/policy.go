package numa

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
)

// Work describes a request for a Policy: the client connection, the content
// it will be served from, and optionally the interface it arrived on. Any
// field may be zero.
// A Work is a plain value; Policies only read it.
type Work struct {
	Conn      net.Conn // a socket, or a wrapper with NetConn (tls.Conn, ktls.Conn)
	File      *os.File // the content on disk
	Interface string   // NIC name, when the caller knows it (e.g. one listener per NIC)
}

// Policy chooses the node a request's work runs on, or AnyNode.
// Implementations must be safe for concurrent use.
type Policy interface {
	Place(w Work) int
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(Work) int

// Place calls f.
func (f PolicyFunc) Place(w Work) int { return f(w) }

// None places nothing: work goes to any node (round robin in a Pool).
func None() Policy { return PolicyFunc(func(Work) int { return AnyNode }) }

// DiskSilo is Netflix's disk-centric siloing: do the work on the node that
// holds the content, so the DMA from disk and the send both stay local.
// The node is that of the block device under Work.File (cached per device);
// work without a file, or on a device with no affinity, goes to AnyNode.
func DiskSilo(t *Topology) Policy { return &diskSilo{t: t, dev: fileDevice} }

type diskSilo struct {
	t     *Topology
	dev   func(*os.File) (uint32, uint32, error) // test seam: stat st_dev
	cache sync.Map                               // [2]uint32{major, minor} → node
}

func (d *diskSilo) Place(w Work) int {
	if w.File == nil {
		return AnyNode
	}
	maj, min, err := d.dev(w.File)
	if err != nil {
		return AnyNode
	}
	key := [2]uint32{maj, min}
	if n, ok := d.cache.Load(key); ok {
		return n.(int)
	}
	n, err := d.t.NodeOfBlockDevice(maj, min)
	if err != nil {
		n = AnyNode
	}
	d.cache.Store(key, n)
	return n
}

// NetworkSilo is Netflix's network-centric siloing: do the work on the node
// the connection is associated with — the node of the CPU that received its
// packets (SO_INCOMING_CPU), else the node of Work.Interface's NIC — so the
// send path and the crypto buffers stay local. Otherwise AnyNode.
func NetworkSilo(t *Topology) Policy {
	return PolicyFunc(func(w Work) int {
		if sc, ok := socketOf(w.Conn); ok {
			if n, err := t.NodeOfConn(sc); err == nil {
				return n
			}
		}
		if w.Interface != "" {
			if n, err := t.NodeOfInterface(w.Interface); err == nil {
				return n
			}
		}
		return AnyNode
	})
}

// socketOf finds the socket under c, unwrapping connections that expose
// the one beneath through NetConn (*tls.Conn, *ktls.Conn).
func socketOf(c net.Conn) (syscall.Conn, bool) {
	for range 4 {
		if c == nil {
			return nil, false
		}
		if sc, ok := c.(syscall.Conn); ok {
			return sc, true
		}
		nc, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		c = nc.NetConn()
	}
	return nil, false
}

// Dispatch runs fn on the node pol chooses for w and waits for it, as Run
// does: if ctx ends before fn starts, fn never runs.
// If the pool has no workers on that node (a node outside the process's
// CPU set, or one with memory only, which a disk or NIC can still be
// attached to), fn runs on any node instead: a policy says where work
// is best done, not where it must be.
func (p *Pool) Dispatch(ctx context.Context, pol Policy, w Work, fn func()) error {
	node := pol.Place(w)
	if node != AnyNode && p.Size(node) == 0 {
		node = AnyNode
	}
	return p.Run(ctx, node, fn)
}
