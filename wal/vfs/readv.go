package vfs

import (
	"io"
	"io/fs"
)

// ReaderAtv is implemented by Files that can read one range of the file
// into several buffers with one call, as preadv(2) does. It is optional:
// ReadvAt uses it when a File has it and falls back to ReadAt otherwise, so
// wrappers (fault injection, crash simulation) need not implement it.
//
// ReadvAt fills bufs in order with the bytes starting at off. Buffers may
// alias each other (a scratch buffer for bytes the caller skips may appear
// many times); they are filled strictly in order. It returns the bytes
// read and, if that is fewer than the buffers hold, an error, io.EOF at
// the end of the file, as ReaderAt does. It must be safe to call
// concurrently with every other File method.
type ReaderAtv interface {
	ReadvAt(bufs [][]byte, off int64) (int, error)
}

// ReadvAt reads the file range starting at off into bufs in order, with
// one vectored read where f implements ReaderAtv and one ReadAt per buffer
// otherwise. Its result is as ReaderAtv.ReadvAt's.
func ReadvAt(f File, bufs [][]byte, off int64) (int, error) {
	if v, ok := f.(ReaderAtv); ok {
		return v.ReadvAt(bufs, off)
	}
	return readvByReadAt(f, bufs, off)
}

// readvByReadAt is ReadvAt made of one ReadAt per buffer.
func readvByReadAt(f io.ReaderAt, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := f.ReadAt(b, off)
		total += n
		off += int64(n)
		if n < len(b) {
			if err == nil {
				err = io.ErrUnexpectedEOF // ReaderAt promises an error on a short read
			}
			return total, err
		}
	}
	return total, nil
}

// maxIovecs bounds the buffers handed to one preadv(2); Linux refuses more
// than 1024 (IOV_MAX).
const maxIovecs = 1024

// ReadvAt reads into bufs with ReadAt under the data's read lock, so the
// whole range is one consistent view of the file, as a preadv would be.
func (f *memFile) ReadvAt(bufs [][]byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, errMemClosed
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	total := 0
	f.d.mu.RLock()
	defer f.d.mu.RUnlock()
	for _, b := range bufs {
		if off >= int64(len(f.d.b)) {
			if len(b) == 0 {
				continue
			}
			return total, io.EOF
		}
		n := copy(b, f.d.b[off:])
		total += n
		off += int64(n)
		if n < len(b) {
			return total, io.EOF
		}
	}
	return total, nil
}
