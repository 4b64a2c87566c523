// Package local is the embedded kv.Store: a B+tree of fixed-size pages
// committed through package wal, so that every commit is atomic and durable,
// readers see consistent snapshots, and the data may be far larger than
// memory. It is edgekit's default kv backend.
//
//	s, err := local.Open("/var/lib/app/kv", nil) // a directory or a file path
//	...
//	c, err := kv.NewClient(s, nil) // idempotency tokens, chunking, paging
//
// # Model
//
// The file holds one B+tree per namespace plus a catalog tree that maps a
// namespace name to its tree's root page. Root pages never move (a root
// split moves the root's content into two new children), so a namespace's
// catalog entry is written once. Inside a namespace tree every entry of a
// record sorts under the record's prefix — u16 length of the id, then the
// id — followed by a kind byte, so one seek finds a record's record
// tombstone, its range tombstones and its items, in that order:
//
//	key  = u16 len(id) | id | kind | suffix            (big-endian)
//	kind 0x00 record tombstone   suffix: none          value: item cell (tombstone)
//	kind 0x01 range tombstone    suffix: u8 hasStart | start | u64 ts
//	                                                    value: u8 hasEnd | end
//	kind 0x02 item               suffix: item key      value: item cell
//
//	item cell = u8 flags | i64 timestamp | [i64 expiry, unix ns] | uvarint len(meta) | meta | value
//	flags     = 0x01 tombstone, 0x02 expiry present
//
//	 0       1                 9                 9 or 17
//	+-------+-----------------+-----------------+--------------+------+-------+
//	| flags | timestamp (µs)  | expiry (ns)     | len(meta)    | meta | value |
//	|  u8   | i64             | i64, if 0x02    | uvarint      |      |       |
//	+-------+-----------------+-----------------+--------------+------+-------+
//	 a live item: expiry is when it expires (absent: never).
//	 a tombstone (0x01; item tombstones and the record tombstone): the
//	 same field holds the local deletion time, the store's clock when the
//	 tombstone was written, or for an expired item the expiry it had;
//	 meta and value are empty. Cells written before tombstones were
//	 purged have no deletion time (flags 0x01 alone).
//
// These layouts are frozen with the page formats below. IDs therefore come
// back ordered by (length, bytes). Writes resolve by
// last-writer-wins per cell at write time, as kv.Store specifies (higher
// timestamp; on a tie a tombstone, then the larger value, then the larger
// metadata, then the later expiry, none counting as latest; for two
// tombstones that is the later deletion time). A write that an existing record or range tombstone hides
// is dropped on arrival. Record and range deletes write one tombstone and
// return; a background sweeper later deletes the items they hide and turns
// expired items into item tombstones.
//
// # Tombstone purging
//
// A tombstone keeps an older write that arrives late hidden, but only for
// Options.TombstoneGrace (default ten days, Cassandra's gc_grace_seconds;
// negative: forever). The grace runs from the tombstone's deletion time:
//
//   - item and record tombstones: their local deletion time, the store's
//     clock when the delete was applied, whatever timestamp it carried;
//   - expired items: their expiry (a TTL'd item is a tombstone from then);
//   - range tombstones: their write timestamp, read as microseconds since
//     the epoch. The frozen range-tombstone layout has no room for a local
//     deletion time, so a range delete whose timestamp is far in the past
//     (a client clock behind, or timestamps that are not wall-clock
//     microseconds) is purged at the next sweep, and one in the future
//     late. Tombstones written before purging existed have no deletion
//     time either and age from their timestamp the same way.
//
// Once the grace has passed, the sweeper (the queued pass after a record
// or range delete, the timed pass over every namespace, and SweepNow)
// removes the tombstone together with every item it hides, in the same or
// an earlier commit, so a crash mid-purge never shows a deleted item
// again. After that, a write older than the purged tombstone that arrives
// is stored and visible: exactly Cassandra's trade-off, and the reason
// the grace must exceed the longest delay a write can see (retries,
// hedged requests, replays). The kv Client refuses writes whose token is
// older than its MaxTokenAge, which bounds that delay when it is used.
// Measuring from the local deletion time rather than the timestamp keeps a
// delete that arrives late, or with an odd timestamp, for a full grace;
// the cost is that such a tombstone, with its space, stays that long.
//
// # Page formats (frozen)
//
// All integers are big-endian. Page 1 is the meta page; every other page is
// a leaf, a branch, an overflow page or a free-list trunk. The first byte
// names the type.
//
//	meta (page 1)
//	 0     1      2      4          12         16          20         24          28        32      40        56      60
//	+-----+------+------+----------+----------+-----------+----------+-----------+---------+-------+---------+-------+
//	|  5  | ver 1| 0 0  | "EKKVLOC\0"| pageSize | pageCount | freeHead | freeCount | catalog | txid  | secret  | crc32c|
//	+-----+------+------+----------+----------+-----------+----------+-----------+---------+-------+---------+-------+
//	 pageCount: pages in use (the file's logical size); freeHead: first free-list trunk (0 = none);
//	 catalog: root of the catalog tree; txid: informational (the in-memory commit counter when
//	 page 1 was last written: it is rewritten only when the file grows or the free list
//	 changes); secret: 16 random bytes
//	 keying cursor MACs; crc32c (Castagnoli) of bytes 0..55.
//
//	leaf                                  branch
//	+---+---+-------+---------+           +---+---+-------+--------+
//	| 1 | 0 | count | 0 (u32) |           | 2 | 0 | count | child0 |
//	+---+---+-------+---------+           +---+---+-------+--------+
//	then count cells:                     then count cells:
//	+------+-------+------+-----+-------+ +------+-------+-----+
//	| klen | flags | vlen | key | value | | klen | child | key |
//	| u16  | u8    | u32  |     |       | | u16  | u32   |     |
//	+------+-------+------+-----+-------+ +------+-------+-----+
//	flags 0x01: the value is in an overflow   child is the subtree of keys >= key
//	chain; value is then the u32 first page   (and < the next cell's key); child0
//	and vlen the value's total length.        holds the keys below the first key.
//
//	overflow                               free-list trunk
//	+---+---+------+------+------+         +---+---+-------+------+---------------+
//	| 3 | 0 | used | next | data |         | 4 | 0 | count | next | count × u32   |
//	|   |   | u16  | u32  |      |         |   |   | u16   | u32  | free page nos |
//	+---+---+------+------+------+         +---+---+-------+------+---------------+
//
// Keys in a page are strictly ascending. A leaf cell larger than half a
// page's cell area moves its value to an overflow chain, so a split always
// yields two halves that each fit; branch keys are the shortest separators
// between their neighbours. A non-root page is never empty; non-root leaves
// stay at least a quarter full (deletes merge or rebalance them), and so do
// branches except when keys near the maximum length make an even split
// impossible. Freed pages go
// on the free list (trunk pages listing free page numbers) and are reused
// before the file grows.
//
// The file on disk is the wal package's db file, byte for byte: the page
// file plus path+"-wal", in SQLite's WAL format.
//
// # Concurrency and durability
//
// A Store is safe for concurrent use. Reads run on wal snapshots and never
// wait for writers. Writes go through group commit: Apply calls that arrive
// while a commit is in flight are applied together in the next transaction
// and share its fsync; each Apply stays atomic (it is never split across
// commits), and AtomicApply reports true. With the default Options.Sync
// (wal.SyncFull) an Apply has reached stable storage when it returns. On
// Linux the WAL is synced with fdatasync, as SQLite does.
//
// Checkpoints (copying committed pages from the WAL into the page file) run
// in the background once the WAL passes Options.AutoCheckpoint frames, off
// the commit path; Close waits for them. The sweeper is a background
// goroutine stopped by Close. No goroutine outlives the Store.
//
// Decoded pages are shared through a cache bounded by Options.CacheSize;
// large values (overflow pages) bypass it. An overflow chain takes its
// pages in ascending order, so it is mostly runs of consecutive pages, and
// a reader reads a run with one vectored read (wal.Snapshot.ReadPages)
// straight into the value it returns, guessing the run and checking every
// page's link. [Store.ReadInto] (kv.IntoReader) goes one step further and
// reads a value's pages into the caller's buffer, so the kv Client's large
// values are read from the file into the value it returns, with no copy in
// between. Eviction is CLOCK with more
// chances for branch pages than leaves, and branches read from disk are
// kept packed (searched in place, 2 bytes of index a cell), so even a
// small cache tends to hold the upper levels. A read seeks one cursor for
// a record's tombstones and its items, which sit next to each other, so it
// descends the tree once. Memory beyond the cache is what in-flight
// transactions hold: the pages a commit writes stay in memory until it
// commits.
//
// # Caveats
//
//   - One process at a time: on Unix, Open takes an exclusive lock on the
//     file; elsewhere there is no lock, and opening one file twice is the
//     caller's to prevent.
//   - Tombstones stay for Options.TombstoneGrace after their deletion
//     time, so a workload of unique keys that are written and deleted
//     holds one small tombstone per key deleted in the last grace period.
//     The timed pass visits 1,000 entries per Options.SweepInterval; a
//     namespace larger than that rate covers within the grace is purged
//     later than the grace says (SweepNow purges everything at once).
//   - A failed fsync (wal.ErrFailed) makes the store refuse writes until it
//     is closed and opened again; reads keep working.
//   - Cursors are bound to their query by a MAC keyed by the file's secret:
//     they survive a restart but not a copy of the data into another file.
package local
