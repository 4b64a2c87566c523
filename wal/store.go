package wal

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/wal/vfs"
)

// Store is a page file plus its SQLite-format WAL, opened together. It is safe
// for concurrent use: one write transaction at a time (Begin), any number of
// snapshots (Snapshot) and checkpoints, from any goroutines.
type Store struct {
	fs       vfs.FS
	path     string
	pageSize int
	sync     SyncMode
	autoCkpt uint32 // 0 = disabled
	keepWAL  bool
	bigEnd   bool // checksum order of new generations
	log      *slog.Logger
	rng      *rand.Rand // salts; used only by the holder of writer

	lock    io.Closer
	db, wal vfs.File
	closedF atomic.Bool // set first thing in Close; lets reads fail fast

	// writer is a one-slot semaphore held by the open write transaction, and
	// by FULL/RESTART/TRUNCATE checkpoints and Close while they need writes
	// to stop. ckpt is held by the running checkpoint (and by a writer that
	// restarts the WAL, so no checkpoint straddles two generations).
	// Lock order: ckpt, then writer, then mu; the writer only try-acquires
	// ckpt.
	writer chan struct{}
	ckpt   chan struct{}

	w writerState // owned by whoever holds writer

	// flushMu is held while frames queued by SyncGroup committers are
	// written (group.go), so that writes happen one at a time, each taking
	// everything queued before it. Lock order: writer, flushMu, mu.
	flushMu sync.Mutex
	onFile  atomic.Uint32 // last frame of the generation known to be in the WAL file (SyncGroup)

	iovs    sync.Pool // *[][]byte iovec lists of readPages, empty while pooled
	ckptBuf []byte    // guarded by ckpt: the running checkpoint's copy buffer

	mu sync.Mutex // guards the fields below
	// gen is the wal-index of the current WAL generation.
	gen *index
	// written/writtenSeq/writtenPages describe the last commit appended to
	// the WAL; published/pubSeq/pubPages the last one readers may see (in
	// SyncGroup it is the last durable one). pubPages is the db size in
	// pages, also when the WAL is empty.
	written, published     uint32
	writtenSeq, pubSeq     uint64
	writtenPages, pubPages uint32
	nBackfill              uint32        // frames of gen already copied into the db file and synced
	syncing                bool          // a group-commit leader is in fsync
	appended               chan struct{} // non-nil while that leader gathers; closed by the append that reaches gatherTo
	gatherTo               uint64        // writtenSeq at which the gathering leader's batch is complete
	lastBatch              uint64        // commits the last group fsync made durable
	syncAvg                time.Duration // moving average of a WAL fsync's duration (SyncGroup)
	// SyncGroup's write queue: frames encoded by committers, from frame
	// queueFrom on, not yet written; spareQueue is the buffer the last
	// flush wrote, for reuse. fileSeq is the last commit whose frames (and
	// all before them) are in the file, ending at frame fileFrame with
	// filePages pages.
	queue, spareQueue []byte
	queueFrom         uint32
	fileSeq           uint64
	fileFrame         uint32
	filePages         uint32
	failed            error // sticky: wraps ErrFailed after a failed WAL fsync
	closed            bool
	readers           map[*Snapshot]struct{}
	changed           chan struct{} // closed and replaced on every state change waiters care about
	stopAuto          chan struct{} // closed by Close to stop the auto-checkpointer
	autoKick          chan struct{} // 1-buffered nudge for the auto-checkpointer
	autoDone          sync.WaitGroup
	stats             statCounters
}

// writerState is the WAL tail as the writer sees it, including commits that
// are written but not yet durable.
type writerState struct {
	hdr        walHeader         // header of the current generation
	hdrWritten bool              // hdr is on disk (and synced)
	mxFrame    uint32            // last commit frame written
	nPage      uint32            // db size at mxFrame
	cksum      cksum             // running checksum at mxFrame
	buf        []byte            // frame assembly buffer
	spare      [][]byte          // page buffers of finished transactions, for reuse
	dirty      map[uint32][]byte // empty map of the last small transaction, for reuse
	pages      []uint32          // page-list buffer of Commit, for reuse
}

// maxSparePages bounds the page buffers kept between transactions: enough
// for the few pages a small commit writes, so that commits stop allocating
// them; a large transaction's pages beyond it are left to the GC.
const maxSparePages = 64

// page returns a page buffer with arbitrary contents. Writer only.
func (w *writerState) page(size int) []byte {
	if n := len(w.spare); n > 0 {
		p := w.spare[n-1]
		w.spare[n-1] = nil
		w.spare = w.spare[:n-1]
		return p
	}
	return make([]byte, size)
}

// recycle keeps p for a later page. Writer only.
func (w *writerState) recycle(p []byte) {
	if len(w.spare) < maxSparePages {
		w.spare = append(w.spare, p)
	}
}

// Open opens (creating if needed) the page file at path and its WAL at
// path+"-wal", and recovers: the WAL keeps exactly the frames up to the last
// commit frame whose salts match the header and whose cumulative checksums
// verify. Nothing is checkpointed at open. Only one Store may have a path
// open at a time (ErrLocked otherwise).
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PageSize != 0 && !validPageSize(o.PageSize) {
		return nil, fmt.Errorf("%w: %d", ErrPageSize, o.PageSize)
	}
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.AutoCheckpoint == 0:
		o.AutoCheckpoint = DefaultAutoCheckpoint
	case o.AutoCheckpoint < 0:
		o.AutoCheckpoint = 0
	}
	var seed [32]byte
	cryptorand.Read(seed[:])
	s := &Store{
		fs: o.FS, path: path, sync: o.Sync, autoCkpt: uint32(o.AutoCheckpoint),
		keepWAL: o.KeepWALOnClose, bigEnd: nativeBigEndian || o.forceBigEndian,
		log: o.Logger, rng: rand.New(rand.NewChaCha8(seed)),
		writer: make(chan struct{}, 1), ckpt: make(chan struct{}, 1),
		readers: map[*Snapshot]struct{}{}, changed: make(chan struct{}),
		stopAuto: make(chan struct{}), autoKick: make(chan struct{}, 1),
	}
	lk, err := o.FS.Lock(path)
	switch {
	case errors.Is(err, vfs.ErrLocked):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, errors.ErrUnsupported):
		lk = nil // no inter-process exclusion on this platform
	case err != nil:
		return nil, err
	}
	s.lock = lk
	if err := s.openFiles(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if err := s.recover(o.PageSize); err != nil {
		s.closeFiles()
		return nil, err
	}
	if s.autoCkpt > 0 {
		s.autoDone.Add(1)
		go s.autoCheckpointer()
	}
	return s, nil
}

func (s *Store) openFiles() error {
	var err error
	if s.db, err = s.fs.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return err
	}
	if s.wal, err = s.fs.OpenFile(s.path+"-wal", os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return err
	}
	// Make the creation of either file durable before anything relies on it.
	return s.fs.SyncDir(filepath.Dir(s.path))
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, c := range []io.Closer{s.wal, s.db, s.lock} {
		if c != nil && !isNilFile(c) {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// isNilFile reports whether c is an interface holding a nil vfs.File.
func isNilFile(c io.Closer) bool {
	f, ok := c.(vfs.File)
	return ok && f == nil
}

// newSalts returns the header of a fresh generation following prev: as in
// SQLite's walRestartHdr, salt-1 is incremented, salt-2 is random and the
// checkpoint sequence is incremented. Caller holds writer.
func (s *Store) nextHeader(prev walHeader) walHeader {
	return walHeader{
		bigEndian: s.bigEnd,
		pageSize:  s.pageSize,
		ckptSeq:   prev.ckptSeq + 1,
		salt:      [2]uint32{prev.salt[0] + 1, s.rng.Uint32()},
	}
}

// PageSize returns the size of every page in bytes.
func (s *Store) PageSize() int { return s.pageSize }

// PageCount returns the database size in pages as of the latest commit
// visible to new snapshots.
func (s *Store) PageCount() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pubPages
}

// Path returns the path of the page file; the WAL is Path()+"-wal".
func (s *Store) Path() string { return s.path }

// broadcastLocked wakes everyone waiting for a state change. s.mu held.
func (s *Store) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitChangeLocked releases s.mu until the next broadcast or ctx ends, then
// reacquires it. s.mu held.
func (s *Store) waitChangeLocked(ctx context.Context) error {
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire takes a one-slot semaphore, waiting until ctx ends.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func tryAcquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func release(sem chan struct{}) { <-sem }

// Close stops the background checkpointer, waits for the open write
// transaction to finish and for in-flight commits to become durable, runs a
// checkpoint that empties the WAL when no snapshot needs it (unless
// Options.KeepWALOnClose), and closes the files. Snapshots still open keep
// their memory but their reads fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.stopAuto)
	s.broadcastLocked()
	s.mu.Unlock()
	s.autoDone.Wait()

	ctx := context.Background()
	// Same order as Checkpoint (ckpt, then writer), so they cannot deadlock.
	_ = acquire(ctx, s.ckpt)
	_ = acquire(ctx, s.writer)
	s.mu.Lock()
	// Group commits that released the writer lock may not have reached
	// their fsync yet; they will, so wait until every written commit is
	// durable (or the store has failed).
	for s.failed == nil && (s.syncing || s.published != s.written) {
		_ = s.waitChangeLocked(ctx)
	}
	failed := s.failed
	s.mu.Unlock()

	var err error
	if !s.keepWAL && failed == nil {
		// An already-cancelled context: checkpoint what is safe, never wait
		// for snapshots that may outlive the store.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.checkpointHeld(cctx, Truncate, true)
		if errors.Is(err, ErrBusy) {
			err = nil // a snapshot still needs the WAL; it stays for next time
		}
	}
	s.closedF.Store(true)
	err = errors.Join(err, s.closeFiles())
	release(s.ckpt)
	release(s.writer) // a Begin waiting on it now sees ErrClosed
	return err
}

// Stats are counters since Open, returned by value. Field meanings follow
// SQLite where they can.
type Stats struct {
	Commits     uint64 // transactions committed (durable per the sync mode)
	WALSyncs    uint64 // fsyncs of the WAL file (commits / WALSyncs is the group-commit factor)
	DBSyncs     uint64 // fsyncs of the db file
	Checkpoints uint64 // checkpoints that copied at least one frame
	Restarts    uint64 // WAL generations started (salt-1 incremented)
	Frames      uint32 // frames in the current WAL generation visible to readers
	Backfilled  uint32 // of those, frames already copied into the db file
	Readers     int    // live snapshots
}

type statCounters struct {
	commits, walSyncs, dbSyncs, checkpoints, restarts atomic.Uint64
}

// Stats returns a consistent copy of the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Commits: s.stats.commits.Load(), WALSyncs: s.stats.walSyncs.Load(),
		DBSyncs: s.stats.dbSyncs.Load(), Checkpoints: s.stats.checkpoints.Load(),
		Restarts: s.stats.restarts.Load(), Frames: s.published,
		Backfilled: s.nBackfill, Readers: len(s.readers),
	}
}
