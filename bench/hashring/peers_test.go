// Package hashring_test compares edgekit/hashring with the consistent-hash
// libraries a Go user would otherwise pick: buraksezer/consistent,
// stathat/consistent and groupcache's consistenthash. Run the benchmarks
// with `go test -bench . -benchmem` and the balance/movement table with
// `EDGEKIT_HASHRING_KEYS=1000000 go test -run TestCompare -v`.
package hashring_test

import (
	"fmt"
	"hash/crc32"
	"runtime"

	burak "github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
	"github.com/edgekit/edgekit/hashring"
	"github.com/golang/groupcache/consistenthash"
	stathat "github.com/stathat/consistent"
)

// locator is the common shape of every contender in this package: build
// from a member list, then locate keys given as bytes and as a string (each
// library gets the form it takes natively, so no conversion is timed).
type locator interface {
	locate(b []byte, s string) string
}

type contender struct {
	name  string
	build func(ids []string) locator
}

type edgeRing struct{ r *hashring.Ring }

func (e edgeRing) locate(b []byte, _ string) string { return e.r.Locate(b) }

type edgeMaglev struct{ g *hashring.Maglev }

func (e edgeMaglev) locate(b []byte, _ string) string { return e.g.Locate(b) }

type burakMember string

func (m burakMember) String() string { return string(m) }

type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

type burakRing struct{ c *burak.Consistent }

func (b burakRing) locate(k []byte, _ string) string { return b.c.LocateKey(k).String() }

type stathatRing struct{ c *stathat.Consistent }

func (s stathatRing) locate(_ []byte, k string) string {
	id, _ := s.c.Get(k)
	return id
}

type groupcacheRing struct{ m *consistenthash.Map }

func (g groupcacheRing) locate(_ []byte, k string) string { return g.m.Get(k) }

func edgekitRing(pointsPerWeight int) contender {
	name := "edgekit-ring"
	if pointsPerWeight != 0 {
		name = fmt.Sprintf("edgekit-ring(ppw=%d)", pointsPerWeight)
	}
	return contender{name, func(ids []string) locator {
		r, err := hashring.New(hashring.Uniform(ids...), &hashring.Options{PointsPerWeight: pointsPerWeight})
		if err != nil {
			panic(err)
		}
		return edgeRing{r}
	}}
}

func edgekitMaglev() contender {
	return contender{"edgekit-maglev", func(ids []string) locator {
		g, err := hashring.NewMaglev(hashring.Uniform(ids...), nil)
		if err != nil {
			panic(err)
		}
		return edgeMaglev{g}
	}}
}

// buraksezer with xxhash (its README's choice) and load 1.25 (default);
// partitions as given, replication factor 20 (default).
func buraksezer(partitions int) contender {
	return contender{fmt.Sprintf("buraksezer(P=%d)", partitions), func(ids []string) locator {
		ms := make([]burak.Member, len(ids))
		for i, id := range ids {
			ms[i] = burakMember(id)
		}
		return burakRing{burak.New(ms, burak.Config{Hasher: xxHasher{}, PartitionCount: partitions, ReplicationFactor: 20, Load: 1.25})}
	}}
}

func stathatConsistent(replicas int) contender {
	return contender{fmt.Sprintf("stathat(r=%d)", replicas), func(ids []string) locator {
		c := stathat.New()
		c.NumberOfReplicas = replicas
		c.Set(ids)
		return stathatRing{c}
	}}
}

func groupcache(replicas int) contender {
	return contender{fmt.Sprintf("groupcache(r=%d)", replicas), func(ids []string) locator {
		m := consistenthash.New(replicas, crc32.ChecksumIEEE) // nil means crc32 too; explicit for the table
		m.Add(ids...)
		return groupcacheRing{m}
	}}
}

// tryBuild builds c over ids, turning a panic in the library (buraksezer
// panics when partitions cannot be spread within its load factor) into an
// error, so the table can say so instead of dying.
func tryBuild(c contender, ids []string) (l locator, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panics: %v", c.name, p)
		}
	}()
	return c.build(ids), nil
}

// memberIDs are host:port ids as an edge tier would use.
func memberIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("edge-%03d.pop%d.example.net:443", i, i%7)
	}
	return ids
}

// heapBytes returns the live heap the value built by f holds, measured
// around a forced GC (approximate; good to a few percent at these sizes).
func heapBytes(f func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc < before.HeapAlloc {
		return 0, v
	}
	return after.HeapAlloc - before.HeapAlloc, v
}
