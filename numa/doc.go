// Package numa keeps a server's work on the NUMA node where its data lives:
// it reads the machine's topology from sysfs, tells which node a network
// interface, a file's block device, a connection or the current thread
// belongs to, runs tasks on worker threads pinned to one node's CPUs, and
// implements Netflix Open Connect's two placement policies.
//
// # Model
//
// Load reads a Topology from sysfs under an injectable root ("/" for the
// running machine; tests use fake trees in testdata): the nodes
// (sys/devices/system/node/online), each node's CPUs (nodeN/cpulist, in the
// kernel's "0-15,32-47" format, see ParseCPUList), its memory (nodeN/meminfo)
// and its SLIT distance row (nodeN/distance). A kernel without NUMA yields
// one node 0 holding every online CPU. A Topology is a snapshot: CPU or
// memory hotplug afterwards is not seen.
//
// Locality follows sysfs links to the PCI function that carries numa_node:
// sys/class/net/IFACE/device for a NIC, sys/dev/block/MAJ:MIN (from the
// file's st_dev) for a file, walking up from child devices such as virtio
// (whose directory has no numa_node) to their PCI parent. A numa_node of -1
// (firmware without affinity, most VMs) is resolved through the device's
// local_cpulist when it lies on one node. Partitions use their disk;
// device-mapper and md devices use their slaves when those agree. A
// connection's node is that of the CPU that processed its last incoming
// packet (SO_INCOMING_CPU), which with per-node RSS/IRQ affinity is the node
// of the NIC queue it arrived on. Where nothing is known, the answer is
// ErrNoAffinity — except on a one-node machine, where everything is on the
// only node.
//
// # Worker pools
//
// NewPool starts, for every node, workers that lock themselves to an OS
// thread (runtime.LockOSThread) and narrow that thread's affinity to the
// node's CPUs (sched_setaffinity), so their tasks run there and the memory
// they touch first is allocated there. Sizes are per node (PoolOptions).
// Submit queues a task for a node, Run waits for it, Dispatch asks a Policy
// for the node first. Workers never unlock their thread: when they exit,
// the Go runtime ends the thread, so the narrowed affinity never leaks to
// other goroutines. The Go scheduler and heap are otherwise not NUMA-aware;
// to confine the whole process, start it under numactl or taskset.
//
// # Policies
//
// Netflix's 400-800 Gb/s servers keep each connection's work on one node
// ("siloing"). DiskSilo runs a request on the node of the disk holding its
// content; NetworkSilo on the node of its connection (or NIC); None
// anywhere. Policies are one-method interfaces, so a server can combine
// them with PolicyFunc.
//
// # Concurrency
//
// Topology, the policies and Pool are safe for concurrent use.
//
// # Caveats
//
// CPU sets are limited to CPUs 0-1023 (unix.CPUSet). By default a node
// gets one worker per CPU the process may use, so memory-only nodes and
// nodes outside the process's CPU set (taskset, cgroup cpusets) get no
// workers; asking for workers there fails with ErrNoCPUs. No mbind is
// done: memory is placed by first touch from the pinned workers.
package numa
