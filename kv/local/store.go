package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local/internal/btree"
	"github.com/edgekit/edgekit/wal"
)

// Store is the embedded kv.Store. It is safe for concurrent use by any
// number of goroutines; see the package documentation for the consistency
// and durability it gives.
type Store struct {
	wal   *wal.Store
	cache *btree.Cache
	ps    int
	opts  Options
	path  string

	mu     sync.Mutex     // guards closed
	closed bool           // set by Close; later calls fail with kv.ErrClosed
	calls  sync.WaitGroup // calls in progress, waited for by Close

	// The newest commit's meta page, and a sequence counter that is odd
	// while a commit is between its WAL commit and its publication here
	// (a seqlock): a reader that sees the same even value before and
	// after taking a WAL snapshot knows the snapshot shows exactly meta.
	meta    atomic.Pointer[btree.Meta]
	metaSeq atomic.Uint64

	applies atomic.Uint64 // successful Apply calls, for Stats
	purged  atomic.Uint64 // tombstones purged after their grace, for Stats
	// drops counts DropNamespace calls: a sweep walk that sees it change
	// starts over, as its namespace may now be another tree of that name.
	drops atomic.Uint64

	qmu       sync.Mutex    // guards queue, leading, queued, lastBatch, commitAvg
	queue     []*request    // Apply calls waiting for the next group commit
	leading   bool          // a goroutine is running group commits
	queued    chan struct{} // non-nil while a new leader gathers; closed by the next enqueue
	lastBatch int           // requests in the last group commit
	commitAvg time.Duration // moving average of a group commit's duration

	sweep *sweeper
}

var (
	_ kv.Store  = (*Store)(nil)
	_ kv.Atomic = (*Store)(nil)
)

// Errors of this package. Errors from the WAL layer (package wal) pass
// through wrapped; test them with errors.Is against wal's sentinels.
var (
	// ErrPageSize is returned by Open for an unsupported Options.PageSize.
	ErrPageSize = errors.New("edgekit/kv/local: page size must be a power of two from 4096 to 65536")
	// ErrCorrupt is wrapped by every error about a page or entry that does
	// not decode (the message names the page). The file needs repair from
	// a backup; Verify reports the first problem it finds.
	ErrCorrupt = btree.ErrCorrupt
)

// Open opens the store at path, creating it if needed. path names the page
// file, or an existing directory in which the file is FileName. The WAL is
// path+"-wal". Only one Store may have a file open at a time.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if o.PageSize != 0 && !btree.ValidPageSize(o.PageSize) {
		return nil, fmt.Errorf("%w (got %d)", ErrPageSize, o.PageSize)
	}
	if o.FS == nil {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			path = filepath.Join(path, FileName)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		o.FS = defaultFS()
	}
	wo := &wal.Options{PageSize: o.PageSize, FS: o.FS, Sync: o.Sync, AutoCheckpoint: o.AutoCheckpoint, Logger: o.Logger}
	// PageSize 0 lets an existing file decide; a new one gets wal's
	// default, which is DefaultPageSize.
	w, err := wal.Open(path, wo)
	if err != nil {
		return nil, err
	}
	ps := w.PageSize()
	if !btree.ValidPageSize(ps) {
		w.Close()
		return nil, fmt.Errorf("%w (file has %d)", ErrPageSize, ps)
	}
	s := &Store{wal: w, ps: ps, opts: o, path: path}
	if err := s.init(); err != nil {
		w.Close()
		return nil, err
	}
	s.sweep = newSweeper(s)
	return s, nil
}

// init creates the meta page and catalog of a new file, then reads the
// meta page to seed the cache with the newest commit number.
func (s *Store) init() error {
	if s.wal.PageCount() == 0 {
		s.cache = btree.NewCache(s.opts.CacheSize, 0)
		wtx, err := s.wal.Begin(context.Background())
		if err != nil {
			return err
		}
		tx, err := btree.Begin(nil, wtx, s.cache, s.ps)
		if err != nil {
			wtx.Rollback()
			return err
		}
		if _, err := tx.Commit(); err != nil {
			wtx.Rollback()
			return err
		}
		if err := wtx.Commit(context.Background()); err != nil {
			return err
		}
		tx.Publish()
		s.meta.Store(tx.Meta())
		return nil
	}
	snap, err := s.wal.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	tx, err := btree.Begin(snap, nil, btree.NewCache(0, 0), s.ps)
	if err != nil {
		return err
	}
	// Commits are numbered from 0 at every Open; the cache starts empty.
	s.cache = btree.NewCache(s.opts.CacheSize, 0)
	s.meta.Store(tx.MetaAs(0))
	return nil
}

// enter admits a call unless the Store is closed; exit must follow.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return kv.ErrClosed
	}
	s.calls.Add(1)
	return nil
}

func (s *Store) exit() { s.calls.Done() }

// Close waits for calls in progress, stops the background sweeper, and
// closes the files (the WAL layer checkpoints on close). Later calls fail
// with kv.ErrClosed; a second Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.sweep.stop()
	s.calls.Wait()
	return s.wal.Close()
}

// AtomicApply reports true: every Apply call is one WAL commit.
func (s *Store) AtomicApply() bool { return true }

// view runs fn in a read transaction on the newest snapshot.
func (s *Store) view(fn func(tx *btree.Tx) error) error {
	seq := s.metaSeq.Load()
	m := s.meta.Load()
	snap, err := s.wal.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	var tx *btree.Tx
	if seq%2 == 0 && s.metaSeq.Load() == seq && m != nil {
		tx = btree.BeginAt(snap, s.cache, s.ps, m)
	} else if tx, err = btree.Begin(snap, nil, s.cache, s.ps); err != nil {
		// A commit was being published: read the meta page instead.
		return err
	}
	return fn(tx)
}

// catalogUpdate validates ns and runs fn in a write transaction.
func (s *Store) catalogUpdate(ctx context.Context, ns string, fn func(tx *btree.Tx) error) error {
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	return s.update(ctx, fn)
}

// CreateNamespace creates ns if it does not exist.
func (s *Store) CreateNamespace(ctx context.Context, ns string) error {
	return s.catalogUpdate(ctx, ns, func(tx *btree.Tx) error {
		if _, ok, err := lookupNS(tx, ns); err != nil || ok {
			return err
		}
		root, err := tx.Create()
		if err != nil {
			return err
		}
		return tx.Put(tx.Catalog(), []byte(ns), encodeRoot(root))
	})
}

// DropNamespace removes ns and frees every page it used. Dropping a
// namespace that does not exist returns nil.
func (s *Store) DropNamespace(ctx context.Context, ns string) error {
	return s.catalogUpdate(ctx, ns, func(tx *btree.Tx) error {
		root, ok, err := lookupNS(tx, ns)
		if err != nil || !ok {
			return err
		}
		s.drops.Add(1)
		if _, err := tx.Delete(tx.Catalog(), []byte(ns)); err != nil {
			return err
		}
		return tx.Drop(root)
	})
}

// Namespaces lists the namespaces in lexical order.
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.view(func(tx *btree.Tx) error {
		c := tx.Cursor(tx.Catalog())
		for c.First(); c.Valid(); c.Next() {
			out = append(out, string(c.Key()))
		}
		return c.Err()
	})
	return out, err
}

// lookupNS returns the root page of namespace ns.
func lookupNS(tx *btree.Tx, ns string) (uint32, bool, error) {
	v, ok, err := tx.Get(tx.Catalog(), []byte(ns))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 4 {
		return 0, false, fmt.Errorf("%w: catalog entry for %q", btree.ErrCorrupt, ns)
	}
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]), true, nil
}

func encodeRoot(pg uint32) []byte {
	return []byte{byte(pg >> 24), byte(pg >> 16), byte(pg >> 8), byte(pg)}
}

func nsRoot(tx *btree.Tx, ns string) (uint32, error) {
	root, ok, err := lookupNS(tx, ns)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: %q", kv.ErrNoNamespace, ns)
	}
	return root, nil
}

// Checkpoint copies every committed page from the WAL into the page file
// and truncates the WAL, waiting (until ctx ends) for readers to move on.
// Background checkpoints make calling it optional.
func (s *Store) Checkpoint(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	_, err := s.wal.Checkpoint(ctx, wal.Truncate)
	return err
}

// Stats are counters of a Store.
type Stats struct {
	PageSize    int
	Pages       uint32 // file size in pages
	FreePages   uint32 // pages on the free list
	CachePages  int    // pages the cache holds now
	CacheBytes  int64  // memory those pages hold (page buffers and cell indexes)
	CacheLimit  int64  // the budget, Options.CacheSize
	CacheHits   uint64 // page lookups served from the cache
	CacheMisses uint64 // page lookups that went to the WAL or page file
	Applies     uint64 // successful Apply calls since Open
	Purged      uint64 // tombstones (and expired items) purged after their grace since Open
	Commits     uint64 // WAL commits since Open; Applies/Commits is the group-commit factor
	WALSyncs    uint64 // fsyncs of the WAL
	Checkpoints uint64 // checkpoints that copied pages into the page file
}

// Stats returns the store's counters.
func (s *Store) Stats() (Stats, error) {
	if err := s.enter(); err != nil {
		return Stats{}, err
	}
	defer s.exit()
	cs, ws := s.cache.Stats(), s.wal.Stats()
	st := Stats{PageSize: s.ps, CachePages: cs.Entries, CacheBytes: cs.Bytes, CacheLimit: cs.Limit, CacheHits: cs.Hits, CacheMisses: cs.Misses,
		Applies: s.applies.Load(), Purged: s.purged.Load(), Commits: ws.Commits, WALSyncs: ws.WALSyncs, Checkpoints: ws.Checkpoints}
	err := s.view(func(tx *btree.Tx) error {
		st.Pages, st.FreePages = tx.PageCount(), tx.FreeCount()
		return nil
	})
	return st, err
}

// now is the TTL clock.
func (s *Store) now() time.Time { return s.opts.Now() }
