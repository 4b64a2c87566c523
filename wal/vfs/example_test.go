package vfs_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/edgekit/edgekit/wal/vfs"
)

// An in-memory file system: what a test hands to wal.Options.FS instead
// of vfs.OS().
func ExampleNewMem() {
	fs := vfs.NewMem()
	f, err := fs.OpenFile("/db/test.db-wal", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	_, _ = f.WriteAt([]byte("frame"), 32)
	_ = f.Sync()
	size, _ := f.Size()
	buf := make([]byte, 5)
	_, _ = f.ReadAt(buf, 32)
	fmt.Println(size, string(buf), fs.Names())

	lock, _ := fs.Lock("/db/test.db")
	_, err = fs.Lock("/db/test.db")
	fmt.Println(errors.Is(err, vfs.ErrLocked))
	lock.Close()
	// Output:
	// 37 frame [/db/test.db-wal]
	// true
}

// ReadvAt fills several buffers from consecutive bytes of a file with one
// vectored read where the file supports it, or one ReadAt per buffer.
func ExampleReadvAt() {
	fs := vfs.NewMem()
	f, _ := fs.OpenFile("f", os.O_RDWR|os.O_CREATE, 0o644)
	defer f.Close()
	_, _ = f.WriteAt([]byte("headerpage-one"), 0)
	head, body := make([]byte, 6), make([]byte, 8)
	n, err := vfs.ReadvAt(f, [][]byte{head, body}, 0)
	fmt.Println(n, err, string(head), string(body))
	// Output: 14 <nil> header page-one
}
