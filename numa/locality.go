package numa

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// NodeOfInterface returns the node of a network interface's device
// (sys/class/net/NAME/device), walking up from virtio or other child
// devices to the PCI function that carries numa_node. A numa_node of -1 is
// resolved through local_cpulist when those CPUs lie on one node. On a
// one-node machine any interface with no affinity is on that node.
func (t *Topology) NodeOfInterface(name string) (int, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return -1, fmt.Errorf("%w: interface %q", ErrNotFound, name)
	}
	link := filepath.Join(t.root, "sys/class/net", name)
	if _, err := os.Lstat(link); err != nil {
		return -1, fmt.Errorf("%w: interface %q", ErrNotFound, name)
	}
	dev, err := filepath.EvalSymlinks(filepath.Join(link, "device"))
	if err != nil {
		// Virtual interfaces (lo, bridges, veth) have no device.
		return t.orSingle(-1, fmt.Errorf("%w: interface %q has no device", ErrNoAffinity, name))
	}
	return t.orSingle(t.nodeOfDevice(dev))
}

// NodeOfBlockDevice returns the node of the block device major:minor
// (sys/dev/block/MAJ:MIN). Partitions use their disk's device; device-mapper
// and md devices use their underlying devices when those agree on a node.
func (t *Topology) NodeOfBlockDevice(major, minor uint32) (int, error) {
	return t.orSingle(t.nodeOfBlock(filepath.Join(t.root, "sys/dev/block", fmt.Sprintf("%d:%d", major, minor)), 0))
}

// maxStack bounds dm-on-md-on-... recursion.
const maxStack = 4

func (t *Topology) nodeOfBlock(link string, depth int) (int, error) {
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return -1, fmt.Errorf("%w: block device %s", ErrNotFound, filepath.Base(link))
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir) // a partition's device is its disk's
	}
	if dev, err := filepath.EvalSymlinks(filepath.Join(dir, "device")); err == nil {
		return t.nodeOfDevice(dev)
	}
	// Stacked devices (dm, md): agree with every slave or know nothing.
	slaves, _ := filepath.Glob(filepath.Join(dir, "slaves", "*"))
	if depth >= maxStack || len(slaves) == 0 {
		return -1, fmt.Errorf("%w: block device %s is virtual", ErrNoAffinity, filepath.Base(dir))
	}
	node := -1
	for _, s := range slaves {
		n, err := t.nodeOfBlock(s, depth+1)
		if err != nil {
			return -1, err
		}
		if node >= 0 && n != node {
			return -1, fmt.Errorf("%w: %s spans nodes %d and %d", ErrNoAffinity, filepath.Base(dir), node, n)
		}
		node = n
	}
	return node, nil
}

// nodeOfDevice walks from a resolved device directory towards the root
// until a numa_node file is found: the PCI function owning the device.
func (t *Topology) nodeOfDevice(dev string) (int, error) {
	stop := filepath.Join(t.root, "sys/devices")
	for dir := dev; strings.HasPrefix(dir, stop+string(filepath.Separator)); dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "numa_node"))
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return -1, fmt.Errorf("%w: %s/numa_node: %v", ErrParse, dir, err)
		}
		if n >= 0 {
			if _, ok := t.Node(n); !ok {
				return -1, fmt.Errorf("%w: %s says node %d", ErrNotFound, dir, n)
			}
			return n, nil
		}
		// -1: the firmware gave no affinity; local_cpulist may still tell.
		if cpus, err := readCPUList(filepath.Join(dir, "local_cpulist")); err == nil {
			if n, ok := t.nodeOfCPUs(cpus); ok {
				return n, nil
			}
		}
		return -1, fmt.Errorf("%w: %s has numa_node -1", ErrNoAffinity, rel(t.root, dir))
	}
	return -1, fmt.Errorf("%w: no numa_node above %s", ErrNoAffinity, rel(t.root, dev))
}

// nodeOfCPUs returns the node when every CPU in cpus is on it.
func (t *Topology) nodeOfCPUs(cpus []int) (int, bool) {
	node := -1
	for _, c := range cpus {
		n, ok := t.NodeOfCPU(c)
		if !ok || (node >= 0 && n != node) {
			return -1, false
		}
		node = n
	}
	return node, node >= 0
}

// orSingle turns "no affinity" into the only node on a one-node machine.
func (t *Topology) orSingle(n int, err error) (int, error) {
	if err != nil && errors.Is(err, ErrNoAffinity) {
		if id, ok := t.single(); ok {
			return id, nil
		}
	}
	return n, err
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
