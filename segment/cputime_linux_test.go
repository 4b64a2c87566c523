package segment_test

import "syscall"

// processCPU returns the CPU time (user+system) the process has used, in
// nanoseconds. Benchmarks report it per operation because this machine is
// shared: wall-clock ns/op measures the contention, CPU ns/op the cost.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
