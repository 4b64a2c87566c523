package numa_test

import (
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
