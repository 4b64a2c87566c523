package numa_test

import (
	"context"
	"fmt"

	"github.com/edgekit/edgekit/numa"
)

// Read a topology (here a fake sysfs tree of a single-socket AMD EPYC in
// NPS4 mode) and ask where a NIC and an NVMe drive live.
func ExampleLoad() {
	topo, err := numa.Load("testdata/four-node")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range topo.Nodes() {
		fmt.Printf("node %d: cpus %s, %d GiB\n", n.ID, numa.FormatCPUList(n.CPUs), n.MemTotal>>30)
	}
	nic, _ := topo.NodeOfInterface("enp129s0f0np0")
	disk, _ := topo.NodeOfBlockDevice(259, 0)
	fmt.Println("nic on node", nic, "- nvme0n1 on node", disk, "- distance", topo.Distance(nic, disk))
	// Output:
	// node 0: cpus 0-7,32-39, 62 GiB
	// node 1: cpus 8-15,40-47, 62 GiB
	// node 2: cpus 16-23,48-55, 62 GiB
	// node 3: cpus 24-31,56-63, 62 GiB
	// nic on node 2 - nvme0n1 on node 3 - distance 12
}

// Run work on pinned node-local workers of the running machine, placed by
// network siloing (a request without connection information goes anywhere).
func ExampleNewPool() {
	topo, err := numa.Load("/")
	if err != nil {
		fmt.Println(err)
		return
	}
	pool, err := numa.NewPool(topo, &numa.PoolOptions{Workers: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	policy := numa.NetworkSilo(topo)
	var onNode int
	err = pool.Dispatch(context.Background(), policy, numa.Work{}, func() {
		_, onNode, _ = topo.CurrentCPU()
	})
	_, known := topo.Node(onNode)
	fmt.Println(err, known)
	// Output: <nil> true
}
