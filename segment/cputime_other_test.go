//go:build !linux

package segment_test

// processCPU is unavailable off Linux; benchmarks then omit the CPU metric.
func processCPU() int64 { return 0 }
