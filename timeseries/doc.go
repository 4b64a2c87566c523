// Package timeseries is edgekit's time-series abstraction, after Netflix's
// TimeSeries Data Abstraction Layer, on any kv.Store (kv/local embedded,
// kv/cassandra distributed, kvtest.MemStore in tests): append-only,
// immutable temporal events — segment publications, defects, cache misses,
// request logs — written idempotently and read newest first.
//
//	ts, err := timeseries.Open(ctx, store, "origin", nil)
//	err = ts.Write(ctx, "live/ch1", timeseries.Event{Time: t, ID: "seg-42",
//		Items: []timeseries.Item{{Key: "bytes", Value: []byte("183020")}}})
//	page, err := ts.Read(ctx, "live/ch1", t0, t1, nil) // page.Next continues
//
// # Model
//
// A [Namespace] holds series; a series id (UTF-8, at most [MaxSeriesLen]
// bytes) holds events; an [Event] has an event time (kept to the
// microsecond), an event id (at most [MaxEventIDLen] bytes) and items (key
// → bytes). Writes are idempotent by (series, event time, event id, item
// key): the event time is also the kv write timestamp, so a retried or
// hedged write stores identical cells. Should two writes disagree about one
// item, the larger value wins everywhere (kv's tie-break), never the later
// one. An accept window (Options.AcceptPast, Options.AcceptFuture, and the
// retention) refuses events too old or too far ahead with a [*WindowError].
//
// [Namespace.Read] returns events in [from, to) newest first, a page at a
// time, with a page token that resumes across time-bucket and slice
// boundaries. [Namespace.Search] filters by an item predicate;
// [Namespace.Aggregate] folds count, sum, min and max into fixed windows.
//
// # Layout on kv
//
// Time is partitioned twice. A time slice (Options.SliceLength, default a
// day) is one kv namespace, so retention drops whole namespaces and never
// writes tombstones. Inside it, a series' events are spread over partitions
// keyed by (series id, time bucket, event bucket): a time bucket
// (Options.TimeBucket, default an hour) bounds a partition in time, the
// event bucket (hash of the event id modulo the slice's bucket count)
// spreads a burst. Each partition is one kv record; each event item is one
// kv item whose key orders events newest first. A read of a range visits
// the time buckets newest first and, in each, reads the event buckets in
// parallel (Options.FanOut) and merges them.
//
// Each slice picks its event-bucket count when it is created, from the
// density the writers observed in the slice before it: the 99th percentile
// of bytes per series and time bucket divided by
// Options.TargetPartitionBytes, within [1, Options.MaxEventBuckets]
// (Options.EventBuckets without data).
//
// Two processes that create a slice at once may pick different counts, and
// kv offers no compare-and-set to let one win. So a slice holds a set of
// layouts: a writer registers its count in the slice record before writing
// any event under it, then adopts the largest count registered; reads visit
// the partitions of every registered count and fold copies of one event
// into one. A read re-reads the set (one small kv read per slice per call,
// alongside its first partition fetches) until the slice's accept window has closed and a minute more has passed;
// a Write that finishes later than half that minute after the window fails
// (it may have used a layout such a reader does not visit), so clocks must
// agree within 30 s. With a negative AcceptPast a slice never
// settles and every read re-reads the set. This needs no atomic or
// conditional write, only that a read sees every write acknowledged before
// it (kv/local, kvtest.MemStore; kv/cassandra at its default LOCAL_QUORUM
// with writers in one data center).
//
// # Encoding (frozen)
//
// kv namespaces, for a timeseries namespace N (^[a-z][a-z0-9_]*$, at most
// [MaxNameLen] bytes):
//
//	N "_m"                          layout: record "config", items "slice", "bucket"
//	                                (seconds, decimal), fixed at creation
//	N "_t" <slice start, unix s>    one time slice, e.g. origin_t1763856000
//
// Record ids in a slice namespace are UTF-8 text (Cassandra's id text):
//
//	"1/" <tb> "/" <eb> "." <n> "/" <series>                base partition
//	"1/" <tb> "/" <eb> "." <n> "." <j> "." <m> "/" <series> sub-bucket j of m of a split
//	"m/slice"                                             items "buckets", "density", "layout." <n> (decimal)
//	"m/splits"                                            one item per split, key = base id
//
// "layout." n (value n) registers an event-bucket count used in the slice;
// "buckets" holds the largest (written at timestamp slice start + 1 µs by
// every creator, so the tie-break keeps the largest); a slice whose record
// has only "buckets" has that one layout. In ids,
// tb = event µs / time-bucket µs, eb = FNV-1a-64(event id) low 32
// bits mod n, j = high 32 bits mod m; numbers are decimal without leading
// zeros, and the series comes last so it may contain '/'.
//
// An item key (big-endian):
//
//	 0                         8         9              9+L
//	+-------------------------+---------+--------------+-----------------+
//	| MaxInt64 - event µs     | L (u8)  | event id (L) | event item key  |
//	| (uint64)                |         |              | (0..512 bytes)  |
//	+-------------------------+---------+--------------+-----------------+
//
// so ascending keys run newest first, an event's items are contiguous, and
// the item value is the kv value as is (metadata empty). The kv write
// timestamp is the event µs.
//
// A split record (the value of an item of "m/splits"):
//
//	 0       1       3         11        19         27        35         43         45
//	+-------+-------+---------+---------+----------+---------+----------+----------+--------+
//	| state | m u16 | bytes   | pre n   | pre sum  | post n  | post sum | cursor   | cursor |
//	| u8    |       | u64     | u64     | u64      | u64     | u64      | len u16  |        |
//	+-------+-------+---------+---------+----------+---------+----------+----------+--------+
//	state: 1 requested, 2 copying, 3 published, 4 aborted
//
// followed, once an attempt has failed, by failed attempts (u16) and the
// earliest time of the next one (µs, i64): 10 bytes.
//
// The page token (opaque to callers; checked by CRC-32C and bound to the
// namespace, series, range and call kind by FNV-1a-64; never trusted
// further than that):
//
//	 0    1            9       10         18      19      19+L      27+L   28+L          28+L+4k
//	+----+------------+-------+----------+-------+-------+---------+------+-------------+--------+
//	| 1  | bind u64   | after | time µs  | L u8  | id    | tb i64  | k u8 | k × bytes   | crc32c |
//	|    |            | u8    | i64      |       |       |         |      | u32         | u32    |
//	+----+------------+-------+----------+-------+-------+---------+------+-------------+--------+
//
// "after" 0 resumes at every event at or before time; 1 after the event
// (time, id). The k counters carry bytes read per partition of bucket tb.
//
// # Wide partitions
//
// Reads count the bytes they read per partition; past Options.WideBytes a
// split request is recorded durably in the slice's "m/splits" record. The
// splitter (a background goroutine, or [Namespace.RunSplits]) marks the
// split copying — from then on writes to the partition go to both layouts —
// copies the partition once into m sub-buckets, checkpointing the last key
// and a running checksum after each page so a crash resumes, compares the
// count and order-independent checksum of all items before and after, and
// only then publishes; a failed attempt is retried later with backoff,
// never published unverified. Reads check an in-memory Bloom filter of published
// splits, then the split metadata, and read the sub-buckets instead: a
// split is invisible to callers, and correct while it runs because the
// original is read until publication. The original partition is kept (and
// still written) until retention drops its slice. Split metadata written by
// other processes is reloaded every Options.RefreshInterval.
//
// # Concurrency
//
// A Namespace is safe for concurrent use. It owns at most one goroutine
// (none with Options.NoBackground), which flushes the write buffer, runs
// splits, reloads split metadata and enforces retention; Close stops it and
// waits. Close also waits for the Writes in progress and flushes the
// buffer after them, so every Write acknowledged before Close returns is
// stored (or, if that flush fails, counted in Stats.EventsDropped); a
// Write begun after Close fails with [ErrClosed]. Everything
// that depends on time uses Options.Now, which must therefore be safe for
// concurrent use.
//
// The other types are plain values: [Event], [Item], [Page], [Window],
// [Stats] and the errors may be shared between goroutines while none
// changes them; [Options] and [ReadOptions] are copied by the call they
// are passed to and never written by it.
//
// # Caveats
//
//   - Run one splitter per namespace (Options.DisableSplitter elsewhere).
//     With several writer processes, set Options.ImmutableSplitsOnly: a
//     writer that has not yet reloaded a split writes only to the original,
//     which readers of the split layout would miss.
//   - Two processes that create the same slice at once with different
//     bucket counts both keep their layout registered; reads of that slice
//     then visit both layouts' partitions (more kv reads, never fewer
//     events). A writer learns the larger count at its next layout refresh
//     (Options.RefreshInterval), its next read of the slice, or restart.
//   - A read of a slice that is not yet settled (its accept window plus a
//     minute; never, with a negative AcceptPast) re-reads the slice's
//     layout set alongside its first partition fetches, and starts the
//     time bucket again in the rare case that the set changed: one more
//     small kv read per slice per call, in parallel rather than one more
//     round trip.
//   - With Options.Coalesce, Write returns before the events are stored;
//     a crash loses up to Coalesce of them.
//   - When concurrent writes keep a split's first verification from
//     matching, the splitter verifies again with writers held off (and
//     reads waiting to route), for as long as it takes to read the
//     partition and its copy once.
//   - A split attempt that fails (a kv error, or a copy whose checksum
//     keeps disagreeing) is retried by later RunSplits calls with backoff,
//     up to Options.MaxSplitAttempts; then the split is aborted for good
//     and reads keep using the original partition.
//   - Search and Aggregate scan; there is no secondary index.
//   - A page may come back short or empty with Next set (a partition read
//     ended at a page boundary, or a deadline passed).
package timeseries
