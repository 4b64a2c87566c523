package hashring_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time (user + system) the calling OS thread has
// used. Descheduled time does not count, which is what makes it usable on
// a machine shared with other busy processes, where wall-clock ns/op from
// `go test -bench` swings by ±100%.
func threadCPU(t *testing.T) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLocateCPUTime prints Locate CPU-ns per lookup for every contender,
// 8/64/512 members and both key shapes: the minimum and median over
// interleaved repetitions of 1M lookups, measured as thread CPU time on a
// locked OS thread. Set EDGEKIT_HASHRING_CPU=1 to run it (it takes a
// minute or more and prints a table; it asserts nothing about speed).
func TestLocateCPUTime(t *testing.T) {
	if os.Getenv("EDGEKIT_HASHRING_CPU") != "1" {
		t.Skip("set EDGEKIT_HASHRING_CPU=1 to measure Locate CPU time")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const reps, lookups = 9, 1 << 20
	type cell struct {
		keys, lib string
		n         int
	}
	samples := map[cell][]float64{}
	var order []cell
	for _, short := range []bool{false, true} {
		ks := newKeys(short)
		kname := map[bool]string{false: "segment", true: "short"}[short]
		for _, n := range []int{8, 64, 512} {
			ids := memberIDs(n)
			var ls []locator
			var cs []cell
			for _, c := range benchContenders() {
				l, err := tryBuild(c, ids)
				if err != nil {
					continue
				}
				ls = append(ls, l)
				cs = append(cs, cell{kname, c.name, n})
			}
			order = append(order, cs...)
			// Interleave: rep r runs every contender once, so a burst of
			// load from elsewhere lands on all of them alike.
			for range reps {
				for i, l := range ls {
					var sink string
					for j := range 4096 { // warm caches
						sink = l.locate(ks.b[j], ks.s[j])
					}
					start := threadCPU(t)
					for j := range lookups {
						k := j & 4095
						sink = l.locate(ks.b[k], ks.s[k])
					}
					el := threadCPU(t) - start
					_ = sink
					samples[cs[i]] = append(samples[cs[i]], float64(el.Nanoseconds())/lookups)
				}
			}
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nLocate, CPU ns per lookup (thread CPU time), %d interleaved reps of %d lookups: min / median\n\n", reps, lookups)
	fmt.Fprintln(&out, "| keys | members | library | min | median |")
	fmt.Fprintln(&out, "|---|---|---|---|---|")
	for _, c := range order {
		s := slices.Sorted(slices.Values(samples[c]))
		fmt.Fprintf(&out, "| %s | %d | %s | %.1f | %.1f |\n", c.keys, c.n, c.lib, s[0], s[len(s)/2])
	}

	// Build time of a 1,000-member ring, same method, 3 interleaved reps.
	ids := memberIDs(1000)
	fmt.Fprintf(&out, "\nBuild of a 1,000-member ring, CPU ms (thread CPU time; GC work done on other threads is not counted), 3 reps: min / median\n\n")
	fmt.Fprintln(&out, "| library | min | median |")
	fmt.Fprintln(&out, "|---|---|---|")
	builds := map[string][]float64{}
	var names []string
	for rep := range 3 {
		for _, c := range benchContenders() {
			runtime.GC()
			start := threadCPU(t)
			_, err := tryBuild(c, ids)
			el := threadCPU(t) - start
			if err != nil {
				if rep == 0 {
					fmt.Fprintf(&out, "| %s | %v | |\n", c.name, err)
				}
				continue
			}
			if rep == 0 {
				names = append(names, c.name)
			}
			builds[c.name] = append(builds[c.name], float64(el.Microseconds())/1000)
		}
	}
	for _, name := range names {
		s := slices.Sorted(slices.Values(builds[name]))
		fmt.Fprintf(&out, "| %s | %.1f | %.1f |\n", name, s[0], s[len(s)/2])
	}
	t.Log(out.String())
}
