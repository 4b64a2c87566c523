// Package vfs is the file system that package wal runs on, made injectable so
// that tests can run on memory, simulate crashes and inject faults (see the
// vfstest subpackage), in the manner of pebble's vfs.
//
// OS returns the operating system's file system. NewMem returns an in-memory
// one that is fast, hermetic and safe for concurrent use. Files may also
// implement ReaderAtv (vectored reads, preadv(2) on Linux); ReadvAt falls
// back to ReadAt for those that do not.
//
// # Concurrency
//
// Implementations must allow every File method to be called concurrently with
// every other on the same File (wal's readers call ReadAt while its writer
// calls WriteAt and Sync), and FS methods concurrently with each other.
package vfs

import (
	"errors"
	"io"
	"os"
)

// ErrLocked is returned by FS.Lock when another owner holds the lock.
var ErrLocked = errors.New("edgekit/wal/vfs: file is locked by another owner")

// File is an open file. All methods must be safe for concurrent use.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes every completed write to the file durable. Once Sync has
	// failed, a later successful Sync says nothing about the writes that
	// preceded the failure (Linux may have dropped them); callers must not
	// treat a retried Sync as covering them.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Size returns the current size of the file in bytes.
	Size() (int64, error)
}

// FS opens, removes and locks files. All methods must be safe for concurrent
// use.
type FS interface {
	// OpenFile opens name with os.O_* flags (wal uses os.O_RDWR|os.O_CREATE).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove deletes name; removing a missing file is an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	Remove(name string) error
	// SyncDir makes the creation and removal of files in dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on name (creating it if needed)
	// for the life of the returned Closer, or fails with ErrLocked.
	Lock(name string) (io.Closer, error)
}

// OS returns the operating system's file system. (A function, not a
// package variable, so that no caller can swap it for everyone.)
func OS() FS { return osFS{} }

type osFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) Lock(name string) (io.Closer, error) { return lockFile(name) }
