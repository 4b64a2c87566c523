package numa

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxCPU bounds parsed CPU numbers; the kernel's NR_CPUS tops out at 8192.
const maxCPU = 1 << 13

// ParseCPUList parses the kernel's cpulist format ("0-3,8,10-11", as in
// sysfs cpulist and local_cpulist files; an empty string is no CPUs) into
// sorted, de-duplicated CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrParse, s, err)
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrParse, s, err)
			}
			if b < a {
				return nil, fmt.Errorf("%w: %q: range %d-%d runs backwards", ErrParse, s, a, b)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

func parseCPU(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if n < 0 || n >= maxCPU {
		return 0, fmt.Errorf("cpu %d out of range", n)
	}
	return n, nil
}

// FormatCPUList is the inverse of ParseCPUList: sorted CPUs as ranges.
func FormatCPUList(cpus []int) string {
	cpus = slices.Compact(slices.Sorted(slices.Values(cpus)))
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
