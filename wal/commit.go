package wal

import (
	"context"
	"fmt"
	"time"
)

// maxWriteChunk bounds one WriteAt of frames, so a huge transaction does not
// need one huge buffer.
const maxWriteChunk = 4 << 20

// appendLocked writes the frames of one transaction after the last commit
// frame (in SyncGroup: queues them for the leader to write) and records them
// in the wal-index, returning the commit's sequence number. Caller holds
// s.writer. On error nothing is recorded: the partial frames on disk lie
// past the last commit frame, where recovery ignores them and the next
// commit overwrites them. (In SyncGroup an error writing frames is
// ErrFailed and the store takes no more commits.)
func (s *Store) appendLocked(pages []uint32, dirty map[uint32][]byte, nPage uint32) (uint64, error) {
	s.mu.Lock()
	err := s.failed
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	s.maybeRestartLocked()
	if !s.w.hdrWritten {
		if err := s.writeHeaderLocked(); err != nil {
			return 0, err
		}
	}
	fsz := frameHeaderSize + s.pageSize
	perChunk := max(1, maxWriteChunk/fsz)
	if cap(s.w.buf) < min(len(pages), perChunk)*fsz {
		s.w.buf = make([]byte, min(len(pages), perChunk)*fsz)
	}
	c := s.w.cksum
	for start := 0; start < len(pages); start += perChunk {
		chunk := pages[start:min(len(pages), start+perChunk)]
		b := s.w.buf[:len(chunk)*fsz]
		for i, pg := range chunk {
			var commit uint32
			if start+i == len(pages)-1 {
				commit = nPage
			}
			fr := b[i*fsz : (i+1)*fsz]
			copy(fr[frameHeaderSize:], dirty[pg])
			c = encodeFrame(fr[:frameHeaderSize], &s.w.hdr, c, pg, commit, fr[frameHeaderSize:])
		}
		first := s.w.mxFrame + 1 + uint32(start)
		if s.sync == SyncGroup {
			// The group-commit leader writes them (group.go).
			if err := s.queueFramesLocked(b, first); err != nil {
				return 0, err
			}
			continue
		}
		if _, err := s.wal.WriteAt(b, frameOffset(first, s.pageSize)); err != nil {
			return 0, fmt.Errorf("edgekit/wal: writing frames: %w", err)
		}
	}
	// All frames are written: publish them to the writer's view.
	for i, pg := range pages {
		var commit uint32
		if i == len(pages)-1 {
			commit = nPage
		}
		s.gen.append(pg, commit)
	}
	s.w.mxFrame += uint32(len(pages))
	s.w.nPage, s.w.cksum = nPage, c
	s.mu.Lock()
	s.writtenSeq++
	seq := s.writtenSeq
	s.written, s.writtenPages = s.w.mxFrame, nPage
	if s.sync == SyncNormal {
		s.publishLocked(seq, s.written, nPage)
	} else if s.appended != nil && s.writtenSeq >= s.gatherTo {
		// Wake the gathering group-commit leader once its batch is in,
		// not at every append: each wake-up is a switch on the path that
		// every committer of the batch waits behind.
		close(s.appended)
		s.appended = nil
	}
	s.mu.Unlock()
	return seq, nil
}

// writeHeaderLocked writes the header of a new generation and syncs it
// before any of its frames, as SQLite does: if the new salts were not on
// disk first, a crash could leave an old-generation prefix looking valid
// after frames of the old generation were partly overwritten. A failed sync
// is fatal (ErrFailed). Caller holds s.writer.
func (s *Store) writeHeaderLocked() error {
	var b [walHeaderSize]byte
	h := encodeHeader(b[:], s.w.hdr)
	if _, err := s.wal.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("edgekit/wal: writing WAL header: %w", err)
	}
	if err := s.syncWAL(); err != nil {
		return err
	}
	s.w.hdr, s.w.hdrWritten = h, true
	s.w.cksum = h.cksum
	return nil
}

// syncWAL fsyncs the WAL. A failure poisons the store for writes; it is
// never retried, because a later fsync could succeed without the lost data.
func (s *Store) syncWAL() error {
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed != nil {
		// Never again after a failure: a later fsync could succeed
		// without the lost pages, and a checkpoint would then copy
		// whatever those WAL offsets hold into the db file.
		return failed
	}
	s.stats.walSyncs.Add(1)
	if err := s.wal.Sync(); err != nil {
		s.mu.Lock()
		s.failLocked(fmt.Errorf("%w: %w", ErrFailed, err))
		err = s.failed
		s.mu.Unlock()
		return err
	}
	return nil
}

// publishLocked makes commit seq (ending at frame, with nPage pages) visible
// to new snapshots. s.mu held.
func (s *Store) publishLocked(seq uint64, frame, nPage uint32) {
	if seq <= s.pubSeq {
		return
	}
	s.pubSeq, s.published, s.pubPages = seq, frame, nPage
	s.broadcastLocked()
}

// minGather and maxGather bound how long a group-commit leader waits for
// commits to join its fsync; between them the wait is half the recent
// fsync time, so it never costs more than a fraction of what it saves.
const (
	minGather = 100 * time.Microsecond
	maxGather = 2 * time.Millisecond
)

// gatherLocked is the group-commit leader's wait before its fsync
// (PostgreSQL's commit_delay and MySQL's binlog_group_commit_sync_delay,
// but only when it pays). It waits while another transaction holds the
// writer lock, since that one is about to append a commit; and it waits for
// the committers the previous fsync just released, expecting them back:
// the last batch's size, less one for the leader, who may be one of them.
// Without the second wait, on a busy machine the committers released by one
// fsync return while the next one already runs, and the batches alternate
// between two halves of the committers instead of taking all of them. The
// expected batch decays by one per fsync, so a lone committer waits only
// for its first few commits after a burst of others. The wait ends at
// the target, or after half the recent fsync time (within minGather and
// maxGather), whichever comes first.
// s.mu held; s.syncing set.
func (s *Store) gatherLocked() {
	target := s.writtenSeq - s.pubSeq
	if s.lastBatch > 1 {
		target += s.lastBatch - 1
	}
	want := func() bool { return len(s.writer) > 0 || s.writtenSeq-s.pubSeq < target }
	if !want() {
		return
	}
	limit := min(max(s.syncAvg/2, minGather), maxGather)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for want() {
		// A channel of its own, so that appends wake only the leader and
		// not every committer waiting for its fsync; the append that
		// completes the batch closes it.
		ch := make(chan struct{})
		s.appended = ch
		s.gatherTo = s.pubSeq + target
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			s.appended = nil
			return
		}
	}
}

// waitDurable returns once commit seq is durable, taking a turn as the
// group-commit leader when no fsync is in flight: the leader writes and
// syncs everything queued so far, so every commit that arrived while the
// previous fsync ran shares this one. A commit is acknowledged only by an
// fsync that started after its frames were written, and after a failed
// write or fsync no commit not already durable is ever acknowledged.
func (s *Store) waitDurable(seq uint64) error {
	ctx := context.Background()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.pubSeq >= seq {
			return nil
		}
		if s.failed != nil {
			return s.failed
		}
		if s.syncing {
			_ = s.waitChangeLocked(ctx)
			continue
		}
		s.syncing = true
		var err error
		tseq, tframe, tpages := s.writtenSeq, s.written, s.writtenPages
		if s.sync == SyncGroup {
			s.gatherLocked()
			s.mu.Unlock()
			err = s.flushQueue()
			s.mu.Lock()
			// What the write covered, read after it returned and before
			// the fsync starts.
			tseq, tframe, tpages = s.fileSeq, s.fileFrame, s.filePages
		}
		s.mu.Unlock()
		start := time.Now()
		if err == nil {
			err = s.syncWAL()
		}
		took := time.Since(start)
		s.mu.Lock()
		s.syncing = false
		if err == nil {
			if s.sync == SyncGroup {
				// Decay one commit per fsync, so that one batch with a
				// straggler missing does not make the next leader stop waiting.
				s.lastBatch = max(tseq-s.pubSeq, s.lastBatch-min(s.lastBatch, 1))
				s.syncAvg += (took - s.syncAvg) / 8
			}
			s.publishLocked(tseq, tframe, tpages)
		}
		s.broadcastLocked()
	}
}
