// Package wal is SQLite's write-ahead log as a Go building block: a page file
// plus a WAL that is byte-compatible with SQLite's, with atomic multi-page
// commits, snapshot readers that never block the writer, checkpointing and
// crash recovery. It is the durability layer under kv/local.
//
// # Model
//
// A Store is a db file of fixed-size pages (page N, 1-based, at offset
// (N-1)*pageSize, exactly SQLite's page file) and the WAL next to it at
// path+"-wal". A write transaction (Store.Begin, one at a time) writes whole
// pages; Tx.Commit appends them to the WAL as frames, the last one marked as
// the commit frame carrying the database size, and syncs per Options.Sync.
// The db file is not touched by commits. A Snapshot pins the WAL position of
// the last commit at its start (its read mark) and reads every page from the
// newest frame at or below that mark, else from the db file. Checkpoints
// (Store.Checkpoint, and automatically after Options.AutoCheckpoint frames)
// copy pages back into the db file and, when no snapshot still needs the
// WAL, let the next commit restart it from the beginning.
//
// An in-memory wal-index, playing the part of SQLite's -shm file, maps a page
// number to its newest frame; it is rebuilt from the WAL by Open. There is no
// -shm file: one Store per database, in one process (on Unix, Open takes an
// exclusive flock on the db file; elsewhere there is no lock, and the caller
// must make sure no other Store or process writes the files while it is
// open). SQLite can open the files after Close, or a copy of them at any
// time, and will see every commit; wal can open files SQLite left behind.
//
// # File format
//
// The format is SQLite's (https://sqlite.org/fileformat2.html#walformat) and
// is frozen: every constant below is fixed by SQLite, and changing one breaks
// compatibility with SQLite and with existing files. All fields are
// big-endian u32.
//
//	WAL header, 32 bytes
//	+--------+---------+----------+----------+--------+--------+--------+--------+
//	| magic  | version | pageSize | ckptSeq  | salt-1 | salt-2 | cksum1 | cksum2 |
//	+--------+---------+----------+----------+--------+--------+--------+--------+
//	0        4         8          12         16       20       24       28      32
//	magic   0x377f0682: checksums over little-endian words (written on x86/arm)
//	        0x377f0683: checksums over big-endian words (both are read)
//	version 3007000
//	cksum   checksum of bytes 0..23, seeded with (0,0)
//
//	Frame i (1-based) at 32 + (i-1)*(24+pageSize)
//	+--------+--------+--------+--------+--------+--------+---------------------+
//	| pgno   | commit | salt-1 | salt-2 | cksum1 | cksum2 | page image          |
//	+--------+--------+--------+--------+--------+--------+---------------------+
//	0        4        8        12       16       20       24          24+pageSize
//	commit  database size in pages after the commit, on the last frame of a
//	        transaction; 0 on the others
//	salts   copied from the header; frames of older generations do not match
//	cksum   cumulative: seeded with the header checksum (or the previous
//	        frame's), fed frame bytes 0..7 and then the page image
//
// The checksum reads the input as u32 words in the order the magic names,
// two at a time: s0 += w[i] + s1; s1 += w[i+1] + s0 (mod 2^32).
//
// # Recovery
//
// Open keeps exactly the frames from the start up to the last commit frame
// before the first frame whose salts differ from the header's, whose page
// number is 0, or whose checksum does not verify. A bad magic, page size or
// header checksum means an empty WAL (silently, as in SQLite); an intact
// header with another version fails with ErrVersion. A torn tail, a flipped
// bit or a stale frame from an older generation therefore ends the WAL at
// the last commit before it, and no page of a broken frame is ever returned.
//
// # Durability
//
// SyncFull fsyncs the WAL before every Commit returns. SyncGroup does too,
// but commits that arrive while an fsync runs share the next one: each
// committer only encodes its frames into a queue, and one of the waiting
// committers (the leader) writes the whole queue with one write and fsyncs
// once for all of them. SyncNormal fsyncs only at checkpoints. A new WAL
// generation's header is synced before any of its frames are written. If
// an fsync of the WAL fails, the store never retries it (PostgreSQL's
// "fsyncgate" lesson: the kernel may already have dropped the data and a
// second fsync would report success): every later write fails with
// ErrFailed until the store is reopened and recovered. In SyncGroup a
// failed write of queued frames is treated the same way, since the commits
// queued after them are already chained onto them; with SyncFull and
// SyncNormal a failed frame write fails only its own commit. A failed write or fsync of the db file during a checkpoint only
// fails that checkpoint; the next one copies all its pages again.
//
// # Concurrency
//
// Store, Snapshot and Checkpoint are safe for concurrent use; a Tx belongs to
// one goroutine. Taking a Snapshot and reading from it never waits for the
// writer or a checkpoint (it takes a mutex held only for in-memory
// bookkeeping), and the writer never waits for snapshots. A checkpoint never
// copies a frame newer than the oldest live snapshot's mark, and the WAL is
// restarted only when no snapshot reads from it; so a long-lived snapshot
// makes the WAL grow. Full, Restart and Truncate checkpoints block new write
// transactions while they wait for readers, as in SQLite.
//
// # Caveats
//
// A write transaction holds its pages in memory until Commit. Snapshots read
// a page with one pread and rely on the OS page cache; ReadPages reads a
// run of consecutive pages with one preadv per stretch that lies
// contiguously in one file (the db file, or consecutive WAL frames, whose
// 24-byte headers it skips), so a run written by one commit is one system
// call whether it is still in the WAL or already checkpointed. Page numbers
// are uint32, as in SQLite.
package wal
