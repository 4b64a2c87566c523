//go:build !linux

package vfs

// Sync is fsync(2) (or the platform's equivalent) where fdatasync is not
// available.
func (f osFile) Sync() error { return f.File.Sync() }
