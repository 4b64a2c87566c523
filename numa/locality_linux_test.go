//go:build linux

package numa_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgekit/edgekit/numa"
)

// TestThisMachine exercises every locality query against the real sysfs.
// Where there is one node (as on the machines these were written on) every
// answer is that node.
func TestThisMachine(t *testing.T) {
	topo, err := numa.Load("/")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d node(s): %+v", topo.NumNodes(), topo.Nodes())
	valid := func(what string, n int, err error) {
		t.Helper()
		if err != nil {
			if topo.NumNodes() > 1 && errors.Is(err, numa.ErrNoAffinity) {
				t.Logf("%s: %v (allowed on a multi-node machine)", what, err)
				return
			}
			t.Fatalf("%s: %v", what, err)
		}
		if _, ok := topo.Node(n); !ok {
			t.Fatalf("%s: node %d not in the topology", what, n)
		}
	}

	cpu, node, err := topo.CurrentCPU()
	valid("CurrentCPU", node, err)
	if want, _ := topo.NodeOfCPU(cpu); want != node {
		t.Fatalf("CurrentCPU: cpu %d node %d, topology says %d", cpu, node, want)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := topo.NodeOfFile(f)
	valid("NodeOfFile", n, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	n, err = topo.NodeOfConn(c.(*net.TCPConn))
	valid("NodeOfConn", n, err)

	// NetworkSilo finds the socket under wrappers that expose NetConn.
	if got := numa.NetworkSilo(topo).Place(numa.Work{Conn: wrapped{c}}); got == numa.AnyNode && topo.NumNodes() == 1 {
		t.Fatalf("NetworkSilo did not reach the socket under a NetConn wrapper")
	}

	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		n, err := topo.NodeOfInterface(ifc.Name)
		valid("NodeOfInterface("+ifc.Name+")", n, err)
	}
}

// wrapped hides a connection the way *tls.Conn does, exposing it via NetConn.
type wrapped struct{ c net.Conn }

func (w wrapped) NetConn() net.Conn                  { return w.c }
func (w wrapped) Read(b []byte) (int, error)         { return w.c.Read(b) }
func (w wrapped) Write(b []byte) (int, error)        { return w.c.Write(b) }
func (w wrapped) Close() error                       { return w.c.Close() }
func (w wrapped) LocalAddr() net.Addr                { return w.c.LocalAddr() }
func (w wrapped) RemoteAddr() net.Addr               { return w.c.RemoteAddr() }
func (w wrapped) SetDeadline(t time.Time) error      { return w.c.SetDeadline(t) }
func (w wrapped) SetReadDeadline(t time.Time) error  { return w.c.SetReadDeadline(t) }
func (w wrapped) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }
