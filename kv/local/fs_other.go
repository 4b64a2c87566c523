//go:build !linux

package local

import "github.com/edgekit/edgekit/wal/vfs"

// defaultFS is the OS file system; off Linux, Sync is the platform's fsync.
func defaultFS() vfs.FS { return vfs.OS() }
