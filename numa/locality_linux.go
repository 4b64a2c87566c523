//go:build linux

package numa

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NodeOfFile returns the node of the block device holding the file (from
// its st_dev). Files on tmpfs, overlayfs and other device-less filesystems
// have no affinity (except on a one-node machine).
func (t *Topology) NodeOfFile(f *os.File) (int, error) {
	maj, min, err := fileDevice(f)
	if err != nil {
		return -1, err
	}
	return t.NodeOfBlockDevice(maj, min)
}

// fileDevice returns the major:minor of the device under f.
func fileDevice(f *os.File) (uint32, uint32, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%w: no device for %s", ErrNotFound, f.Name())
	}
	dev := uint64(sys.Dev)
	return unix.Major(dev), unix.Minor(dev), nil
}

// NodeOfConn returns the node of the CPU that last processed the
// connection's incoming packets (SO_INCOMING_CPU): with RSS and IRQ
// affinity set up per node, that is the node of the NIC queue it arrived on.
// A socket that has received nothing yet reports no affinity.
func (t *Topology) NodeOfConn(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	cpu := -1
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cpu, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_INCOMING_CPU)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, os.NewSyscallError("getsockopt SO_INCOMING_CPU", serr)
	}
	if cpu < 0 {
		return t.orSingle(-1, fmt.Errorf("%w: socket has no incoming CPU yet", ErrNoAffinity))
	}
	n, ok := t.NodeOfCPU(cpu)
	if !ok {
		return -1, fmt.Errorf("%w: cpu %d", ErrNotFound, cpu)
	}
	return n, nil
}

// CurrentCPU returns the CPU the calling thread runs on and the node the
// topology puts it on (getcpu(2)). Unless the goroutine is locked to a
// pinned thread, it may be elsewhere by the time the caller looks.
func (t *Topology) CurrentCPU() (cpu, node int, err error) {
	var c, n uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&c)), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return -1, -1, os.NewSyscallError("getcpu", e)
	}
	node, ok := t.NodeOfCPU(int(c))
	if !ok {
		return int(c), -1, fmt.Errorf("%w: cpu %d", ErrNotFound, c)
	}
	return int(c), node, nil
}

// threadAffinity returns the calling thread's allowed CPUs.
func threadAffinity() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, os.NewSyscallError("sched_getaffinity", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// setThreadAffinity restricts the calling thread to cpus.
func setThreadAffinity(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return os.NewSyscallError("sched_setaffinity", err)
	}
	return nil
}
