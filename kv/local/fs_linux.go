//go:build linux

package local

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/edgekit/edgekit/wal/vfs"
)

// dataSyncFS is the OS file system with File.Sync done by fdatasync(2)
// instead of fsync(2), as SQLite does on Linux. fdatasync flushes the data
// and whatever metadata is needed to read it back (the file size), and
// skips the timestamp updates that make every fsync of a just-written file
// also commit the file system journal; the durability of a commit is the
// same. It is the default file system of Open on Linux.
type dataSyncFS struct{ vfs.FS }

func defaultFS() vfs.FS { return dataSyncFS{vfs.OS()} }

func (d dataSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := d.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	fd, ok := f.(interface{ Fd() uintptr })
	if !ok {
		return f, nil // not an *os.File underneath: keep its own Sync
	}
	return dataSyncFile{File: f, fd: int(fd.Fd())}, nil
}

type dataSyncFile struct {
	vfs.File
	fd int
}

func (f dataSyncFile) Sync() error {
	for {
		err := unix.Fdatasync(f.fd)
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: "", Err: err}
			}
			return nil
		}
	}
}

// ReadvAt keeps the wrapped file's vectored reads (overflow chains are
// read in runs with one preadv each), which embedding alone would hide.
func (f dataSyncFile) ReadvAt(bufs [][]byte, off int64) (int, error) {
	return vfs.ReadvAt(f.File, bufs, off)
}
