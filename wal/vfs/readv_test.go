package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgekit/edgekit/wal/vfs"
)

// readAtOnly hides a File's ReadvAt, so vfs.ReadvAt takes its fallback.
type readAtOnly struct{ vfs.File }

// TestReadvAt checks vectored reads on the OS file system (preadv), on
// Mem, and through the ReadAt fallback: buffers filled in order, a shared
// scratch buffer, more buffers than one preadv takes, and EOF.
func TestReadvAt(t *testing.T) {
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	files := map[string]func(t *testing.T) vfs.File{
		"os": func(t *testing.T) vfs.File {
			f, err := vfs.OS().OpenFile(filepath.Join(t.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		},
		"mem": func(t *testing.T) vfs.File {
			f, err := vfs.NewMem().OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			return f
		},
	}
	for name, open := range files {
		for _, fallback := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "", true: "/readat"}[fallback], func(t *testing.T) {
				f := open(t)
				if _, err := f.WriteAt(data, 0); err != nil {
					t.Fatal(err)
				}
				if fallback {
					f = readAtOnly{f}
				}
				// 1500 buffers of 2 bytes, every other one the same scratch:
				// more than one preadv's 1024.
				scratch := make([]byte, 2)
				var bufs, mine [][]byte
				for i := range 1500 {
					if i%2 == 1 {
						bufs = append(bufs, scratch)
						continue
					}
					b := []byte{0xee, 0xee}
					bufs, mine = append(bufs, b), append(mine, b)
				}
				n, err := vfs.ReadvAt(f, bufs, 0)
				if n != 3000 || err != nil {
					t.Fatalf("got %d, %v want 3000, nil", n, err)
				}
				for i, b := range mine {
					if want := data[4*i : 4*i+2]; !bytes.Equal(b, want) {
						t.Fatalf("buffer %d: got %x want %x", 2*i, b, want)
					}
				}
				// Past the end: a short read and io.EOF, what was read in place.
				a, b := make([]byte, 100), make([]byte, 100)
				n, err = vfs.ReadvAt(f, [][]byte{a, b}, 2950)
				if n != 50 || !errors.Is(err, io.EOF) {
					t.Fatalf("at the end: got %d, %v want 50, EOF", n, err)
				}
				if !bytes.Equal(a[:50], data[2950:]) {
					t.Errorf("at the end: got %x want %x", a[:50], data[2950:])
				}
				if n, err := vfs.ReadvAt(f, [][]byte{a}, 5000); n != 0 || !errors.Is(err, io.EOF) {
					t.Errorf("past the end: got %d, %v want 0, EOF", n, err)
				}
				if n, err := vfs.ReadvAt(f, nil, 0); n != 0 || err != nil {
					t.Errorf("no buffers: got %d, %v want 0, nil", n, err)
				}
			})
		}
	}
}
