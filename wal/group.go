package wal

import "fmt"

// Group commit (SyncGroup) in two parts:
//
//   - Committers do not write their frames. Under the writer lock each one
//     encodes its frames (the checksum chain stays in commit order) and
//     appends them to s.queue, then releases the writer and waits in
//     waitDurable. The writer lock is held for a memory copy, not a pwrite,
//     so the next committer gets it sooner.
//   - One waiting committer is the leader: it gathers (gatherLocked), writes
//     the whole queue with one pwrite (flushQueue), fsyncs, and publishes
//     every commit the write covered.
//
// What must stay true: a commit is acknowledged only by an fsync that
// started after all of its frames, and all frames before them, were in the
// file (the leader reads fileSeq after its write returned and before its
// fsync starts); a failed write of queued frames is as fatal as a failed
// fsync (ErrFailed), because later commits are already chained onto the
// frames that did not reach the file.

// maxQueue bounds the queued frames in bytes: a committer that grows the
// queue past it writes the queue itself, so a large transaction is not
// copied whole into memory a second time.
const maxQueue = maxWriteChunk

// queueFramesLocked appends encoded frames, the first of which is frame
// number first, to the queue. Caller holds s.writer.
func (s *Store) queueFramesLocked(b []byte, first uint32) error {
	s.mu.Lock()
	if len(s.queue) == 0 {
		s.queueFrom = first
	}
	s.queue = append(s.queue, b...)
	full := len(s.queue) >= maxQueue
	s.mu.Unlock()
	if full {
		return s.flushQueue()
	}
	return nil
}

// flushQueue writes every queued frame to the WAL file and records which
// commits are then entirely in the file (fileSeq). Writes are serialized
// by flushMu, so each flush takes everything queued before it, in order.
// A failed write poisons the store (ErrFailed). Callers hold no s.mu; the
// writer lock may be held.
func (s *Store) flushQueue() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.failed != nil {
		err := s.failed
		s.mu.Unlock()
		return err
	}
	// Commits up to writtenSeq have all their frames queued or written;
	// frames beyond them belong to a transaction still being queued and
	// are written now without counting as a commit.
	seq, frame, pages := s.writtenSeq, s.written, s.writtenPages
	buf, first := s.queue, s.queueFrom
	s.queue, s.spareQueue = s.spareQueue[:0], nil
	s.mu.Unlock()

	var err error
	if len(buf) > 0 {
		off := frameOffset(first, s.pageSize)
		for start := 0; start < len(buf) && err == nil; start += maxWriteChunk {
			chunk := buf[start:min(len(buf), start+maxWriteChunk)]
			_, err = s.wal.WriteAt(chunk, off+int64(start))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failLocked(fmt.Errorf("%w: writing frames: %w", ErrFailed, err))
		return s.failed
	}
	if len(buf) > 0 {
		s.onFile.Store(first + uint32(len(buf)/(frameHeaderSize+s.pageSize)) - 1)
	}
	s.fileSeq, s.fileFrame, s.filePages = seq, frame, pages
	if cap(buf) <= maxQueue {
		s.spareQueue = buf[:0]
	}
	return nil
}

// ensureOnFile makes sure frame f of the current generation is in the WAL
// file, writing the queue if it is not: the write transaction reads the
// frames of commits that are queued but not yet written. Caller holds
// s.writer.
func (s *Store) ensureOnFile(f uint32) error {
	if s.sync != SyncGroup || f <= s.onFile.Load() {
		return nil
	}
	return s.flushQueue()
}

// failLocked makes err (wrapping ErrFailed) the store's sticky failure and
// wakes everyone who waits for durability: none of them will get it.
// s.mu held.
func (s *Store) failLocked(err error) {
	if s.failed == nil {
		s.failed = err
		s.log.Error("edgekit/wal: WAL write or fsync failed; store is read-only until reopened", "path", s.path, "err", err)
	}
	s.broadcastLocked()
}
