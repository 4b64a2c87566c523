package wal

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/edgekit/edgekit/wal/vfs"
)

// CheckpointMode selects how hard Checkpoint tries, with SQLite's meanings
// (sqlite3_wal_checkpoint_v2). It is a plain value.
type CheckpointMode int

const (
	// Passive copies as many frames as it can without waiting for the
	// writer or for snapshots; it never copies a frame newer than the oldest
	// live snapshot. If another checkpoint is running it returns ErrBusy at
	// once. Auto-checkpoints are passive.
	Passive CheckpointMode = iota
	// Full blocks new write transactions, waits (until ctx ends) for the
	// open one and for every snapshot to be on the latest commit, then
	// copies every frame and syncs the db file.
	Full
	// Restart is Full, and then also waits until no snapshot reads the WAL,
	// so that the next commit starts a new WAL generation from the
	// beginning of the file (new salts, checkpoint sequence + 1).
	Restart
	// Truncate is Restart, and then truncates the WAL file to 0 bytes.
	Truncate
)

// String returns the mode's SQLite name.
func (m CheckpointMode) String() string {
	switch m {
	case Passive:
		return "PASSIVE"
	case Full:
		return "FULL"
	case Restart:
		return "RESTART"
	case Truncate:
		return "TRUNCATE"
	}
	return fmt.Sprintf("CheckpointMode(%d)", int(m))
}

// CheckpointResult is what PRAGMA wal_checkpoint reports as log|checkpointed;
// a plain value.
type CheckpointResult struct {
	LogFrames    uint32 // frames in the WAL after the checkpoint
	Checkpointed uint32 // of those, frames copied into the db file
}

// Checkpoint copies committed pages from the WAL into the db file, as mode
// says. When it cannot do all that its mode asks — another checkpoint holds
// the checkpoint lock (Passive), or ctx ended while it waited for the writer
// or for snapshots — it still does what it safely can, like a passive
// checkpoint, and returns an error wrapping ErrBusy together with the
// result. A failed write or fsync of the db file leaves the checkpoint
// position where it was, so the next checkpoint rewrites every page instead
// of trusting a retried fsync.
func (s *Store) Checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	if mode < Passive || mode > Truncate {
		return CheckpointResult{}, fmt.Errorf("edgekit/wal: unknown checkpoint mode %d", int(mode))
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return CheckpointResult{}, ErrClosed
	}
	if mode == Passive {
		if !tryAcquire(s.ckpt) {
			return s.result(), ErrBusy
		}
	} else if err := acquire(ctx, s.ckpt); err != nil {
		return s.result(), errors.Join(ErrBusy, err)
	}
	defer release(s.ckpt)
	haveWriter := false
	var waitErr error
	if mode >= Full {
		if waitErr = acquire(ctx, s.writer); waitErr == nil {
			haveWriter = true
			defer release(s.writer)
		}
	}
	res, err := s.checkpointHeld(ctx, mode, haveWriter)
	if waitErr != nil && err == nil {
		err = errors.Join(ErrBusy, waitErr)
	}
	return res, err
}

func (s *Store) result() CheckpointResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return CheckpointResult{LogFrames: s.published, Checkpointed: s.nBackfill}
}

// checkpointHeld runs a checkpoint; the caller holds s.ckpt, and s.writer
// if haveWriter (without it, a non-passive mode degrades to passive and
// reports ErrBusy).
func (s *Store) checkpointHeld(ctx context.Context, mode CheckpointMode, haveWriter bool) (CheckpointResult, error) {
	busy := mode >= Full && !haveWriter
	var waitErr error
	if mode >= Full && haveWriter {
		// Holding the writer, wait for in-flight group commits to become
		// durable (bounded by one fsync, so regardless of ctx), then, as
		// long as ctx allows, for every snapshot to reach the latest commit.
		s.mu.Lock()
		for s.failed == nil && (s.syncing || s.published != s.written) {
			_ = s.waitChangeLocked(context.Background())
		}
		for s.failed == nil && s.minMarkLocked(s.published) < s.published {
			if waitErr = s.waitChangeLocked(ctx); waitErr != nil {
				busy = true
				break
			}
		}
		s.mu.Unlock()
	}
	if err := s.backfill(); err != nil {
		return s.result(), err
	}
	if mode >= Restart && !busy {
		s.mu.Lock()
		for s.nBackfill == s.published && s.walReadersLocked() > 0 {
			if waitErr = s.waitChangeLocked(ctx); waitErr != nil {
				break
			}
		}
		idle := s.failed == nil && !s.syncing && s.published == s.written &&
			s.nBackfill == s.published && s.walReadersLocked() == 0
		busy = !idle
		// A generation whose header is not yet written has nothing to
		// restart; its file holds only frames already in the db file.
		if idle && s.w.hdrWritten {
			s.restartLocked()
		}
		s.mu.Unlock()
		if idle && mode == Truncate {
			// Every frame is in the synced db file and nobody reads the WAL;
			// if this truncate is lost in a crash, replaying the old frames
			// rewrites the same page images.
			if err := s.wal.Truncate(0); err != nil {
				return s.result(), fmt.Errorf("edgekit/wal: truncating WAL: %w", err)
			}
		}
	}
	res := s.result()
	if busy {
		return res, errors.Join(ErrBusy, waitErr)
	}
	return res, nil
}

// backfill copies, in page order, the newest version of each page written in
// frames nBackfill+1 .. mxSafe into the db file, where mxSafe is the latest
// durable commit that no live snapshot is older than, then syncs the db file
// and advances nBackfill. Caller holds s.ckpt.
func (s *Store) backfill() error {
	s.mu.Lock()
	gen, start := s.gen, s.nBackfill
	mxSafe := s.minMarkLocked(s.published)
	complete := mxSafe == s.published
	nPage := s.pubPages
	if !complete && mxSafe > 0 {
		nPage = gen.commitOf(mxSafe)
	}
	s.mu.Unlock()
	if mxSafe <= start {
		return nil
	}
	if s.sync == SyncNormal {
		// Commits were not synced; the frames must be durable before the db
		// file depends on them.
		if err := s.syncWAL(); err != nil {
			return err
		}
	}
	latest := map[uint32]uint32{}
	for f := mxSafe; f > start; f-- {
		if pg := gen.pgnoOf(f); pg <= nPage {
			if _, ok := latest[pg]; !ok {
				latest[pg] = f
			}
		}
	}
	pages := make([]uint32, 0, len(latest))
	for pg := range latest {
		pages = append(pages, pg)
	}
	slices.Sort(pages)
	if err := s.copyPages(pages, latest); err != nil {
		return err
	}
	if complete {
		// Every snapshot is at the latest commit, so none reads past nPage:
		// shrink the file as SQLite does after a VACUUM.
		if err := s.db.Truncate(int64(nPage) * int64(s.pageSize)); err != nil {
			return fmt.Errorf("edgekit/wal: checkpoint truncating db: %w", err)
		}
	}
	s.stats.dbSyncs.Add(1)
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("edgekit/wal: checkpoint syncing db: %w", err)
	}
	s.stats.checkpoints.Add(1)
	s.mu.Lock()
	if s.gen == gen && s.nBackfill == start {
		s.nBackfill = mxSafe
		s.broadcastLocked()
	}
	s.mu.Unlock()
	return nil
}

// copyBatch bounds the bytes a checkpoint writes to the db file per call.
const copyBatch = 1 << 20

// copyPages copies page latest[pg] of the WAL to the db file for each pg in
// pages (sorted), writing each run of consecutive page numbers with one
// WriteAt of up to copyBatch bytes. Pages in consecutive frames (a commit
// writes its frames in page order) are read with one vectored read, their
// frame headers skipped into scratch.
func (s *Store) copyPages(pages []uint32, latest map[uint32]uint32) error {
	ps := s.pageSize
	// The buffer is kept for the next checkpoint (they run one at a
	// time): a checkpoint every few hundred small commits would otherwise
	// allocate up to copyBatch each time.
	if want := min(len(pages), max(copyBatch/ps, 1)) * ps; cap(s.ckptBuf) < want { // no len(pages)*ps: it overflows a 32-bit int
		s.ckptBuf = make([]byte, 0, want)
	}
	buf := s.ckptBuf[:0]
	var (
		first  uint32 // page number of buf[0:ps]
		hdr    [frameHeaderSize]byte
		iov    [][]byte // pending read: frames rf .. rf+rn-1 into slots of buf
		rf, rn uint32
	)
	read := func() error {
		if rn == 0 {
			return nil
		}
		if _, err := vfs.ReadvAt(s.wal, iov, frameOffset(rf, ps)+frameHeaderSize); err != nil {
			return fmt.Errorf("edgekit/wal: checkpoint reading frames %d-%d: %w", rf, rf+rn-1, err)
		}
		iov, rn = iov[:0], 0
		return nil
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := read(); err != nil {
			return err
		}
		if _, err := s.db.WriteAt(buf, int64(first-1)*int64(ps)); err != nil {
			return fmt.Errorf("edgekit/wal: checkpoint writing pages %d-%d: %w", first, first+uint32(len(buf)/ps)-1, err)
		}
		buf = buf[:0]
		return nil
	}
	for _, pg := range pages {
		if len(buf) > 0 && (pg != first+uint32(len(buf)/ps) || len(buf)+ps > cap(buf)) {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(buf) == 0 {
			first = pg
		}
		// buf never grows past its capacity, so slots stay in place.
		buf = buf[:len(buf)+ps]
		slot := buf[len(buf)-ps:]
		if f := latest[pg]; rn > 0 && f == rf+rn {
			iov = append(iov, hdr[:], slot)
			rn++
		} else {
			if err := read(); err != nil {
				return err
			}
			rf, rn = f, 1
			iov = append(iov, slot)
		}
	}
	return flush()
}

// restartLocked starts a new WAL generation: the next commit writes a new
// header (salt-1 + 1, new salt-2, checkpoint sequence + 1) and frames from
// the start of the file. Caller holds s.writer, s.ckpt and s.mu, and has
// checked that every frame is in the db file and no snapshot reads the WAL.
func (s *Store) restartLocked() {
	s.w.hdr = s.nextHeader(s.w.hdr)
	s.w.hdrWritten = false
	s.w.mxFrame = 0
	s.gen = newIndex()
	s.written, s.published, s.nBackfill = 0, 0, 0
	s.fileFrame = 0 // the queue is empty: everything was published
	s.onFile.Store(0)
	for r := range s.readers {
		r.ckptMark = 0 // all read only the db file, which holds their state
	}
	s.stats.restarts.Add(1)
	s.broadcastLocked()
}

// maybeRestartLocked restarts the WAL before a commit if everything in it
// has been checkpointed and no snapshot reads it, as SQLite's writer does
// (walRestartLog). Caller holds s.writer.
func (s *Store) maybeRestartLocked() {
	if s.w.mxFrame == 0 || !tryAcquire(s.ckpt) {
		return
	}
	defer release(s.ckpt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil && !s.syncing && s.nBackfill == s.w.mxFrame && s.published == s.w.mxFrame && s.walReadersLocked() == 0 {
		s.restartLocked()
	}
}

// kickAutoCheckpoint wakes the background checkpointer when the WAL holds at
// least Options.AutoCheckpoint frames that are not yet in the db file.
func (s *Store) kickAutoCheckpoint() {
	if s.autoCkpt == 0 {
		return
	}
	s.mu.Lock()
	n := s.published - s.nBackfill
	s.mu.Unlock()
	if n >= s.autoCkpt {
		select {
		case s.autoKick <- struct{}{}:
		default:
		}
	}
}

// autoCheckpointer runs when kicked, until Close. It first copies what it
// can as a passive checkpoint, without the writer lock. Commits keep coming
// meanwhile, so on its own it would rarely find the WAL fully copied at the
// moment of a commit, and the WAL would never restart; so it then takes the
// writer lock for a moment, copies the few frames appended meanwhile and
// restarts the WAL — unless a snapshot still needs it, in which case it does
// not wait (SQLite runs the whole checkpoint inside the committing call).
func (s *Store) autoCheckpointer() {
	defer s.autoDone.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stopAuto
		cancel()
	}()
	noWait, cancelNoWait := context.WithCancel(context.Background())
	cancelNoWait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.autoKick:
		}
		_, err := s.Checkpoint(ctx, Passive)
		if err == nil && tryAcquire(s.ckpt) {
			if acquire(ctx, s.writer) == nil {
				_, err = s.checkpointHeld(noWait, Restart, true)
				release(s.writer)
			}
			release(s.ckpt)
		}
		if err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, ErrClosed) {
			s.log.Warn("edgekit/wal: auto-checkpoint failed", "path", s.path, "err", err)
		}
	}
}
