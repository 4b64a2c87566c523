//go:build !linux

package numa

import (
	"errors"
	"os"
	"syscall"
)

// NodeOfFile is Linux-only.
func (t *Topology) NodeOfFile(f *os.File) (int, error) { return -1, errors.ErrUnsupported }

// NodeOfConn is Linux-only.
func (t *Topology) NodeOfConn(c syscall.Conn) (int, error) { return -1, errors.ErrUnsupported }

// CurrentCPU is Linux-only.
func (t *Topology) CurrentCPU() (cpu, node int, err error) { return -1, -1, errors.ErrUnsupported }

func fileDevice(f *os.File) (uint32, uint32, error) { return 0, 0, errors.ErrUnsupported }

func threadAffinity() ([]int, error) { return nil, errors.ErrUnsupported }

func setThreadAffinity(cpus []int) error { return errors.ErrUnsupported }
