package numa_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/edgekit/edgekit/numa"
)

func load(t *testing.T, tree string) *numa.Topology {
	t.Helper()
	topo, err := numa.Load("testdata/" + tree)
	if err != nil {
		t.Fatalf("Load(%s): %v", tree, err)
	}
	return topo
}

func TestLoad(t *testing.T) {
	cases := []struct {
		tree     string
		cpus     []string // per node, cpulist format
		memTotal uint64   // of node 0, bytes
		dist     [][]int
	}{
		{"one-node", []string{"0-1"}, 9136340 << 10, [][]int{{10}}},
		{"two-node", []string{"0-15,32-47", "16-31,48-63"}, 196608000 << 10, [][]int{{10, 21}, {21, 10}}},
		{"four-node", []string{"0-7,32-39", "8-15,40-47", "16-23,48-55", "24-31,56-63"}, 65536000 << 10,
			[][]int{{10, 12, 12, 12}, {12, 10, 12, 12}, {12, 12, 10, 12}, {12, 12, 12, 10}}},
		{"no-numa", []string{"0-3"}, 0, [][]int{{10}}},
	}
	for _, tc := range cases {
		t.Run(tc.tree, func(t *testing.T) {
			topo := load(t, tc.tree)
			if got := topo.NumNodes(); got != len(tc.cpus) {
				t.Fatalf("NumNodes = %d, want %d", got, len(tc.cpus))
			}
			for i, n := range topo.Nodes() {
				if n.ID != i {
					t.Errorf("node %d has ID %d", i, n.ID)
				}
				if got := numa.FormatCPUList(n.CPUs); got != tc.cpus[i] {
					t.Errorf("node %d cpus %s, want %s", i, got, tc.cpus[i])
				}
				for _, c := range n.CPUs {
					if got, ok := topo.NodeOfCPU(c); !ok || got != n.ID {
						t.Errorf("NodeOfCPU(%d) = %d %v, want %d", c, got, ok, n.ID)
					}
				}
				for j := range tc.dist[i] {
					if got := topo.Distance(i, j); got != tc.dist[i][j] {
						t.Errorf("Distance(%d,%d) = %d, want %d", i, j, got, tc.dist[i][j])
					}
				}
			}
			if n0, _ := topo.Node(0); n0.MemTotal != tc.memTotal {
				t.Errorf("node 0 MemTotal %d, want %d", n0.MemTotal, tc.memTotal)
			}
			if _, ok := topo.NodeOfCPU(999); ok {
				t.Errorf("NodeOfCPU(999) found a node")
			}
			if d := topo.Distance(0, 99); d != -1 {
				t.Errorf("Distance to unknown node = %d, want -1", d)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := numa.Load(t.TempDir()); err == nil {
		t.Fatal("Load of an empty root succeeded")
	}
}

func TestNodeOfInterface(t *testing.T) {
	cases := []struct {
		tree, iface string
		want        int
		wantErr     error
	}{
		{"one-node", "eth0", 0, nil}, // virtio: numa_node absent on virtio2, -1 on the PCI parent
		{"one-node", "lo", 0, nil},   // virtual, but there is only one node
		{"one-node", "eth7", -1, numa.ErrNotFound},
		{"two-node", "eth0", 0, nil},
		{"two-node", "ens1f0", 1, nil},               // behind a PCIe bridge
		{"two-node", "eth9", 1, nil},                 // numa_node -1, local_cpulist on node 1
		{"two-node", "eth8", -1, numa.ErrNoAffinity}, // virtio-mmio: no numa_node anywhere
		{"two-node", "lo", -1, numa.ErrNoAffinity},
		{"two-node", "../../../etc", -1, numa.ErrNotFound},
		{"four-node", "enp129s0f0np0", 2, nil},
		{"four-node", "enp193s0f0np0", 3, nil},
		{"no-numa", "eth0", -1, numa.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.tree+"/"+tc.iface, func(t *testing.T) {
			got, err := load(t, tc.tree).NodeOfInterface(tc.iface)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNodeOfBlockDevice(t *testing.T) {
	cases := []struct {
		tree         string
		major, minor uint32
		want         int
		wantErr      error
	}{
		{"one-node", 254, 0, 0, nil},
		{"one-node", 254, 1, 0, nil}, // partition → its disk
		{"two-node", 259, 0, 1, nil}, // nvme0n1 → nvme0 → PCI function on node 1
		{"two-node", 259, 1, 1, nil},
		{"two-node", 8, 0, 0, nil}, // SATA behind the AHCI controller
		{"two-node", 8, 1, 0, nil},
		{"two-node", 7, 0, -1, numa.ErrNotFound},
		{"four-node", 259, 0, 3, nil},
		{"four-node", 259, 2, 0, nil},
		{"four-node", 253, 0, 3, nil},                 // dm on one NVMe
		{"four-node", 253, 1, -1, numa.ErrNoAffinity}, // dm striped over two nodes
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d:%d", tc.tree, tc.major, tc.minor), func(t *testing.T) {
			got, err := load(t, tc.tree).NodeOfBlockDevice(tc.major, tc.minor)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCPUList(t *testing.T) {
	cases := []struct {
		in, out string
		err     bool
	}{
		{"0-1", "0-1", false},
		{"0-15,32-47\n", "0-15,32-47", false},
		{"3,1,2,2", "1-3", false},
		{"", "", false},
		{"7", "7", false},
		{"5-3", "", true},
		{"a", "", true},
		{"1,,2", "", true},
		{"-1", "", true},
		{"0-99999", "", true},
	}
	for _, tc := range cases {
		cpus, err := numa.ParseCPUList(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseCPUList(%q) err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil {
			if got := numa.FormatCPUList(cpus); got != tc.out {
				t.Errorf("ParseCPUList(%q) = %s, want %s", tc.in, got, tc.out)
			}
		} else if !errors.Is(err, numa.ErrParse) {
			t.Errorf("ParseCPUList(%q) err %v, want ErrParse", tc.in, err)
		}
	}
}

// FuzzParseCPUList: sysfs text is parsed without panics, and what parses
// round-trips through FormatCPUList.
func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0-1", "0-15,32-47", "1,3,5-7", "", "9-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := numa.ParseCPUList(s)
		if err != nil {
			return
		}
		again, err := numa.ParseCPUList(numa.FormatCPUList(cpus))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(cpus) {
			t.Fatalf("round trip of %q: %v → %v (%v)", s, cpus, again, err)
		}
	})
}
