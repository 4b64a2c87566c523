package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
)

// Mem is an in-memory FS. Its zero value is not usable; call NewMem. It is
// safe for concurrent use. Data survives Close and reopen of a file (it lives
// as long as the Mem), which makes it a stand-in for a disk in tests; it does
// not model crashes by itself (see vfstest.CrashFS).
type Mem struct {
	mu    sync.Mutex // guards files, locks
	files map[string]*memData
	locks map[string]bool
}

// memData is the contents of one file, shared by every handle open on it.
type memData struct {
	mu sync.RWMutex // guards b
	b  []byte
}

// NewMem returns an empty in-memory file system.
func NewMem() *Mem {
	return &Mem{files: map[string]*memData{}, locks: map[string]bool{}}
}

// OpenFile opens name; os.O_CREATE creates it, os.O_TRUNC empties it and
// os.O_EXCL fails if it exists.
func (m *Mem) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		d = &memData{}
		m.files[name] = d
	}
	if flag&os.O_TRUNC != 0 {
		d.mu.Lock()
		d.b = nil
		d.mu.Unlock()
	}
	return &memFile{d: d, name: name}, nil
}

// Remove deletes name. Open handles keep working on the detached data, as on
// unix.
func (m *Mem) Remove(name string) error {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, name)
	return nil
}

// SyncDir does nothing: Mem has no crash model of its own.
func (m *Mem) SyncDir(string) error { return nil }

// Lock takes an exclusive lock on name within this Mem.
func (m *Mem) Lock(name string) (io.Closer, error) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[name] {
		return nil, ErrLocked
	}
	m.locks[name] = true
	return &memLock{m: m, name: name}, nil
}

// Names returns the names of all files, sorted (for tests and debugging).
func (m *Mem) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.files))
	for n := range m.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ReadFile returns a copy of the contents of name.
func (m *Mem) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	d, ok := m.files[filepath.Clean(name)]
	m.mu.Unlock()
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return append([]byte(nil), d.b...), nil
}

// WriteFile replaces the contents of name, creating it if needed.
func (m *Mem) WriteFile(name string, b []byte) {
	name = filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = &memData{b: append([]byte(nil), b...)}
}

type memLock struct {
	m    *Mem
	name string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.m.mu.Lock()
		delete(l.m.locks, l.name)
		l.m.mu.Unlock()
	})
	return nil
}

var errMemClosed = errors.New("edgekit/wal/vfs: file already closed")

// memFile is one handle on a memData.
type memFile struct {
	d      *memData
	name   string
	closed atomic.Bool
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, errMemClosed
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	f.d.mu.RLock()
	defer f.d.mu.RUnlock()
	if off >= int64(len(f.d.b)) {
		return 0, io.EOF
	}
	n := copy(p, f.d.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if f.closed.Load() {
		return 0, errMemClosed
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrInvalid}
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(f.d.b)) {
		f.d.b = growTo(f.d.b, end)
	}
	return copy(f.d.b[off:], p), nil
}

// growTo extends b to n bytes, zero-filled, amortizing reallocation.
func growTo(b []byte, n int64) []byte {
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, max(n, int64(cap(b))*2))
	copy(nb, b)
	return nb
}

func (f *memFile) Truncate(size int64) error {
	if f.closed.Load() {
		return errMemClosed
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if size <= int64(len(f.d.b)) {
		f.d.b = f.d.b[:size]
	} else {
		f.d.b = growTo(f.d.b, size)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	if f.closed.Load() {
		return 0, errMemClosed
	}
	f.d.mu.RLock()
	defer f.d.mu.RUnlock()
	return int64(len(f.d.b)), nil
}

func (f *memFile) Sync() error {
	if f.closed.Load() {
		return errMemClosed
	}
	return nil
}

func (f *memFile) Close() error {
	if f.closed.Swap(true) {
		return errMemClosed
	}
	return nil
}
