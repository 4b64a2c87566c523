//go:build linux

package vfs

import (
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// ReadvAt is preadv(2): one system call (per maxIovecs buffers) for a
// range the caller scatters over many buffers, where ReadAt per buffer
// would take one call each. Short reads are continued; a read that ends at
// the end of the file returns io.EOF.
func (f osFile) ReadvAt(bufs [][]byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	total := 0
	for len(bufs) > 0 {
		// Drop buffers already filled, and empty ones.
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			break
		}
		batch := bufs[:min(len(bufs), maxIovecs)]
		var n int
		var rerr error
		// RawConn.Read holds a reference on the descriptor, so a
		// concurrent Close cannot hand its number to another file
		// while the call runs.
		cerr := rc.Read(func(fd uintptr) bool {
			for {
				n, rerr = unix.Preadv(int(fd), batch, off)
				if rerr != unix.EINTR {
					return true
				}
			}
		})
		if cerr != nil {
			return total, cerr
		}
		if rerr != nil {
			return total, &fs.PathError{Op: "preadv", Path: f.Name(), Err: rerr}
		}
		if n == 0 {
			return total, io.EOF
		}
		total += n
		off += int64(n)
		// Advance past what was read; a buffer read in part is sliced,
		// never written through, so the caller's slices stay intact.
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
				continue
			}
			rest := append([][]byte{bufs[0][n:]}, bufs[1:]...)
			bufs, n = rest, 0
		}
	}
	return total, nil
}
