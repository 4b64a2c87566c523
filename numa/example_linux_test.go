//go:build linux

package numa_test

import (
	"context"
	"fmt"

	"github.com/edgekit/edgekit/numa"
)

// Run work on pinned node-local workers of the running machine, placed by
// network siloing (a request without connection information goes anywhere).
// Linux only: Load("/") reads the machine's own sysfs.
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
