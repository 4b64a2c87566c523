//go:build !linux

package vfs

// ReadvAt reads each buffer with its own ReadAt where preadv(2) is not
// used.
func (f osFile) ReadvAt(bufs [][]byte, off int64) (int, error) {
	return readvByReadAt(f, bufs, off)
}
