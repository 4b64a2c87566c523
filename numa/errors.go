package numa

import "errors"

var (
	// ErrParse: a sysfs file did not have the expected format.
	ErrParse = errors.New("edgekit/numa: malformed sysfs data")
	// ErrNotFound: the named interface, device or CPU is not in the topology.
	ErrNotFound = errors.New("edgekit/numa: not found")
	// ErrNoAffinity: the device or connection exists but reports no NUMA
	// node (numa_node of -1 or absent, a virtual device, a socket that has
	// not received yet) and the machine has more than one node.
	ErrNoAffinity = errors.New("edgekit/numa: no NUMA affinity known")
	// ErrClosed: the Pool was closed.
	ErrClosed = errors.New("edgekit/numa: pool closed")
	// ErrNoWorkers: work was submitted to a node that has no workers.
	ErrNoWorkers = errors.New("edgekit/numa: node has no workers")
	// ErrNoCPUs: a node's CPUs are all outside this process's allowed set,
	// so its workers cannot be pinned there.
	ErrNoCPUs = errors.New("edgekit/numa: no allowed CPUs on node")
)
