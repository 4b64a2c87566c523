package numa

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Node is one NUMA node. Nodes returned by a Topology share their slices
// with it: treat them as read-only.
type Node struct {
	ID       int
	CPUs     []int  // sorted CPU numbers (sysfs nodeN/cpulist)
	MemTotal uint64 // bytes (nodeN/meminfo); 0 if unknown
	MemFree  uint64 // bytes at Load time; 0 if unknown
	// Distances is the node's SLIT row (nodeN/distance): Distances[i] is the
	// relative cost of reaching Topology.Nodes()[i]; 10 means local.
	Distances []int
}

// Topology is the machine's NUMA layout as read from sysfs at Load time.
// It is immutable and safe for concurrent use.
type Topology struct {
	root    string
	nodes   []Node      // sorted by ID
	index   map[int]int // node ID → position in nodes
	cpuNode map[int]int // CPU → node ID
}

// sysNode is where the node directories live under a root.
const sysNode = "sys/devices/system/node"

// Load reads the topology under root, the directory that holds "sys"
// ("" or "/" for the running machine; tests pass a fake tree). A kernel
// without NUMA support (no sys/devices/system/node) yields one node 0
// holding every online CPU.
func Load(root string) (*Topology, error) {
	if root == "" {
		root = "/"
	}
	t := &Topology{root: root, index: map[int]int{}, cpuNode: map[int]int{}}
	ids, err := nodeIDs(root)
	if errors.Is(err, fs.ErrNotExist) {
		cpus, cerr := readCPUList(filepath.Join(root, "sys/devices/system/cpu/online"))
		if cerr != nil {
			return nil, cerr
		}
		t.add(Node{ID: 0, CPUs: cpus, Distances: []int{10}})
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		n, err := readNode(root, id)
		if err != nil {
			return nil, err
		}
		t.add(n)
	}
	for _, n := range t.nodes {
		if len(n.Distances) != len(t.nodes) {
			return nil, fmt.Errorf("%w: node%d/distance has %d entries for %d nodes", ErrParse, n.ID, len(n.Distances), len(t.nodes))
		}
	}
	return t, nil
}

func (t *Topology) add(n Node) {
	t.index[n.ID] = len(t.nodes)
	t.nodes = append(t.nodes, n)
	for _, c := range n.CPUs {
		t.cpuNode[c] = n.ID
	}
}

// nodeIDs lists node IDs from the "online" mask, else from nodeN directories.
func nodeIDs(root string) ([]int, error) {
	dir := filepath.Join(root, sysNode)
	if ids, err := readCPUList(filepath.Join(dir, "online")); err == nil {
		return ids, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), "node"); ok {
			if id, err := strconv.Atoi(s); err == nil {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, fs.ErrNotExist
	}
	slices.Sort(ids)
	return ids, nil
}

func readNode(root string, id int) (Node, error) {
	dir := filepath.Join(root, sysNode, "node"+strconv.Itoa(id))
	n := Node{ID: id}
	var err error
	if n.CPUs, err = readCPUList(filepath.Join(dir, "cpulist")); err != nil {
		return n, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "distance"))
	if err != nil {
		return n, err
	}
	for _, f := range strings.Fields(string(b)) {
		d, err := strconv.Atoi(f)
		if err != nil {
			return n, fmt.Errorf("%w: node%d/distance: %v", ErrParse, id, err)
		}
		n.Distances = append(n.Distances, d)
	}
	// meminfo is informative: a node without it is still a node.
	n.MemTotal, n.MemFree = readMeminfo(filepath.Join(dir, "meminfo"))
	return n, nil
}

func readCPUList(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cpus, err := ParseCPUList(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cpus, nil
}

// readMeminfo picks MemTotal and MemFree ("Node 0 MemTotal:  9136340 kB").
func readMeminfo(path string) (total, free uint64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 {
			continue
		}
		v, err := strconv.ParseUint(fs[3], 10, 64)
		if err != nil {
			continue
		}
		switch fs[2] {
		case "MemTotal:":
			total = v << 10
		case "MemFree:":
			free = v << 10
		}
	}
	return total, free
}

// Root is the directory the topology was read from.
func (t *Topology) Root() string { return t.root }

// Nodes returns the nodes sorted by ID (a copy).
func (t *Topology) Nodes() []Node { return slices.Clone(t.nodes) }

// NumNodes is the number of nodes (at least 1).
func (t *Topology) NumNodes() int { return len(t.nodes) }

// Node returns the node with the given ID.
func (t *Topology) Node(id int) (Node, bool) {
	i, ok := t.index[id]
	if !ok {
		return Node{}, false
	}
	return t.nodes[i], true
}

// NodeOfCPU returns the node holding cpu.
func (t *Topology) NodeOfCPU(cpu int) (int, bool) {
	n, ok := t.cpuNode[cpu]
	return n, ok
}

// Distance is the SLIT distance from node a to node b (10 = local), or -1
// if either node is unknown.
func (t *Topology) Distance(a, b int) int {
	i, ok1 := t.index[a]
	j, ok2 := t.index[b]
	if !ok1 || !ok2 {
		return -1
	}
	return t.nodes[i].Distances[j]
}

// single returns the only node's ID when there is exactly one node.
func (t *Topology) single() (int, bool) {
	if len(t.nodes) == 1 {
		return t.nodes[0].ID, true
	}
	return 0, false
}
