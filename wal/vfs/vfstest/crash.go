package vfstest

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/edgekit/edgekit/wal/vfs"
)

// CrashFS is an in-memory FS that remembers, per file, what was durable at
// the last Sync and every write and truncate since. Crash returns the
// files as a power loss at that instant could leave them: the synced state,
// then each later operation in order either applied, dropped, or (writes
// only) torn — some of its sectors written, some not, one possibly filled
// with garbage — as SQLite's crash-test VFS (test6.c) does.
type CrashFS struct {
	mem *vfs.Mem

	mu       sync.Mutex // guards files, ops, hook, failSync
	files    map[string]*crashState
	ops      int
	hook     func(op int)
	failSync []string // suffixes whose next Sync fails and loses its writes
}

type crashState struct {
	durable []byte // contents at the last successful Sync
	pending []pendingOp
}

type pendingOp struct {
	trunc bool
	off   int64 // write offset, or truncate size
	data  []byte
}

// NewCrashFS returns an empty CrashFS.
func NewCrashFS() *CrashFS {
	return &CrashFS{mem: vfs.NewMem(), files: map[string]*crashState{}}
}

// OnOp sets a function called before every write, truncate and sync with
// the running count of such operations (starting at 1); tests use it to
// Crash at a chosen point. It runs with no lock held.
func (c *CrashFS) OnOp(hook func(op int)) {
	c.mu.Lock()
	c.hook = hook
	c.mu.Unlock()
}

// FailNextSync makes the next Sync of a file whose name ends with suffix
// fail with EIO after throwing away every write since that file's last
// successful Sync, as Linux does when writeback fails: the dirty pages are
// dropped (or marked clean) and a later Sync succeeds without them. Code
// that retries the Sync instead of rewriting the data loses it.
func (c *CrashFS) FailNextSync(suffix string) {
	c.mu.Lock()
	c.failSync = append(c.failSync, suffix)
	c.mu.Unlock()
}

// Ops returns the number of writes, truncates and syncs so far.
func (c *CrashFS) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

func (c *CrashFS) tick() {
	c.mu.Lock()
	c.ops++
	n, h := c.ops, c.hook
	c.mu.Unlock()
	if h != nil {
		h(n)
	}
}

// Crash returns a new in-memory FS holding what a power loss now could
// leave on disk, with the fates of unsynced operations drawn from seed.
// sector is the unit of tearing (512 if 0). The CrashFS itself is unchanged
// and may keep running.
func (c *CrashFS) Crash(seed uint64, sector int) *vfs.Mem {
	if sector <= 0 {
		sector = 512
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c.mu.Lock()
	defer c.mu.Unlock()
	out := vfs.NewMem()
	for name, st := range c.files {
		b := append([]byte(nil), st.durable...)
		for _, op := range st.pending {
			switch fate := rng.IntN(10); {
			case fate < 2: // dropped
			case op.trunc:
				b = resize(b, op.off)
			case fate < 4: // torn: a random subset of sectors, maybe garbage
				b = tornWrite(rng, b, op.off, op.data, sector)
			default:
				b = applyWrite(b, op.off, op.data)
			}
		}
		out.WriteFile(name, b)
	}
	return out
}

func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}

func applyWrite(b []byte, off int64, data []byte) []byte {
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], data)
	return b
}

// tornWrite applies each sector-aligned piece of a write with probability
// one half, and fills one piece with garbage with probability one quarter.
func tornWrite(rng *rand.Rand, b []byte, off int64, data []byte, sector int) []byte {
	garbage := -1
	if rng.IntN(4) == 0 {
		garbage = rng.IntN(len(data)/sector + 1)
	}
	piece := 0
	for start := int64(0); start < int64(len(data)); piece++ {
		end := min(int64(len(data)), (off+start)/int64(sector)*int64(sector)+int64(sector)-off)
		chunk := data[start:end]
		switch {
		case piece == garbage:
			g := make([]byte, len(chunk))
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			b = applyWrite(b, off+start, g)
		case rng.IntN(2) == 0:
			b = applyWrite(b, off+start, chunk)
		}
		start = end
	}
	return b
}

func (c *CrashFS) state(name string) *crashState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.files[name]
	if !ok {
		st = &crashState{}
		c.files[name] = st
	}
	return st
}

// OpenFile opens or creates name; its writes are tracked until synced.
func (c *CrashFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	name = filepath.Clean(name)
	f, err := c.mem.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	st := c.state(name)
	if flag&os.O_TRUNC != 0 {
		c.mu.Lock()
		st.pending = append(st.pending, pendingOp{trunc: true})
		c.mu.Unlock()
	}
	return &crashFile{File: f, c: c, st: st, name: name}, nil
}

// Remove deletes name (removal is treated as immediately durable).
func (c *CrashFS) Remove(name string) error {
	name = filepath.Clean(name)
	if err := c.mem.Remove(name); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.files, name)
	c.mu.Unlock()
	return nil
}

// SyncDir does nothing: file creation and removal are not crash-modelled.
func (c *CrashFS) SyncDir(string) error                { return nil }
func (c *CrashFS) Lock(name string) (io.Closer, error) { return c.mem.Lock(name) }

// ReadFile returns the current (not crashed) contents of name.
func (c *CrashFS) ReadFile(name string) ([]byte, error) { return c.mem.ReadFile(name) }

type crashFile struct {
	vfs.File
	c    *CrashFS
	st   *crashState
	name string
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.tick()
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	n, err := f.File.WriteAt(p, off)
	if n > 0 {
		f.st.pending = append(f.st.pending, pendingOp{off: off, data: append([]byte(nil), p[:n]...)})
	}
	return n, err
}

func (f *crashFile) Truncate(size int64) error {
	f.c.tick()
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	f.st.pending = append(f.st.pending, pendingOp{trunc: true, off: size})
	return nil
}

func (f *crashFile) Sync() error {
	f.c.tick()
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	for i, suf := range f.c.failSync {
		if strings.HasSuffix(f.name, suf) {
			f.c.failSync = slices.Delete(f.c.failSync, i, i+1)
			// Writeback failed: the unsynced writes are gone.
			if err := f.File.Truncate(0); err != nil {
				return err
			}
			if _, err := f.File.WriteAt(f.st.durable, 0); err != nil {
				return err
			}
			f.st.pending = nil
			return &os.PathError{Op: "fsync", Path: f.name, Err: syscall.EIO}
		}
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	for _, op := range f.st.pending {
		if op.trunc {
			f.st.durable = resize(f.st.durable, op.off)
		} else {
			f.st.durable = applyWrite(f.st.durable, op.off, op.data)
		}
	}
	f.st.pending = nil
	return nil
}
