// Package kv is edgekit's key-value abstraction, after Netflix's KV Data
// Abstraction Layer: namespaces of records, each record id a sorted map of
// byte keys to byte values (HashMap<String, SortedMap<Bytes, Bytes>>).
//
// Two layers:
//
//   - [Store] is the small interface a backend implements: kv/local (an
//     embedded B+tree on wal, the default), kv/cassandra (Apache Cassandra
//     or ScyllaDB), and kvtest.MemStore (in memory, for unit tests).
//   - [Client] runs on any Store and adds what the DAL adds: idempotency
//     tokens, chunking of large values, byte-budget pagination with
//     authenticated page tokens, single-tombstone range and record deletes,
//     jittered TTLs, and multi-item mutations.
//
// # Model
//
// A namespace (^[a-z][a-z0-9_]*$) holds records; a record id (non-empty
// UTF-8, at most [MaxIDLen] bytes) holds items; an item is a key (bytes, at
// most [MaxKeyLen], "" allowed) with a value and opaque metadata. Items come
// back in bytes.Compare order of their keys, or reversed. Flat maps use the
// key "", sets use empty values, event logs use time-ordered keys.
//
// Every write carries a timestamp (microseconds); per cell the highest
// timestamp wins whatever the arrival order, a tombstone wins a tie against
// a put, and between two puts with equal timestamps the larger value wins.
// Key, range and record deletes are tombstones: they hide every write at or
// before their timestamp, even one that arrives later. This is Cassandra's
// model, and every Store follows it (kvtest.Run checks it).
//
// # Idempotency tokens
//
// Each Client write carries a [Token] {generation time, 128 random bits},
// fresh by default or passed with [WithToken]; one Client's token times
// strictly increase, so its own writes apply in the order it issued them
// even within one clock tick. The generation time becomes the Store
// timestamp of every put (deletes get one microsecond less, so a Mutate
// that deletes a range and writes into it keeps its writes), and the chunk
// write id and TTL jitter derive from the token. A retried or hedged
// write with the same token therefore writes identical cells and applies
// once, even across processes and crashes, with no server-side dedup table;
// a retry of a write that a newer one has replaced stays replaced. Tokens
// older than Options.MaxTokenAge (default 10 min) or more than
// Options.MaxTokenSkew (default 10 s) ahead are refused with a *[TokenError]
// (errors.Is ErrTokenWindow): the first would be silently lost to
// last-writer-wins, the second would outlive every honest write.
//
// # Chunked values
//
// A value longer than Options.ChunkThreshold (default 1 MiB, Netflix's
// cut-over, which keeps every Cassandra cell at most 1 MiB) is written in
// two stages. First its chunks (Options.ChunkSize, default 1 MiB) go into
// the companion namespace [ChunkNamespace](ns) = ns + "__chunks" (created
// and dropped with ns by [Client.CreateNamespace]; on kv/cassandra it is a
// table of its own), under a record named by a write id derived from the
// token and the item, Options.StageBytes per Apply call with up to
// Options.StageParallelism calls in flight. Then one put in ns makes the
// value visible: an empty value plus a manifest (size, chunk count,
// checksum, write id) in the metadata. Readers fetch the chunks the manifest names and check indices,
// sizes and the xxhash64 checksum; since chunks of different writes never
// share a record, readers never see a partial or mixed value — a writer
// that dies while staging leaves the old value in place, and two writers
// racing on a key produce two complete writes of which last-writer-wins
// keeps one.
//
// [Client.GetValue] and [Client.Get] assemble a chunked value in memory.
// On a Store that implements [IntoReader] (kv/local, kvtest.MemStore) each
// chunk of a value of up to 1 GiB is read straight into its place in the
// value, by up to Options.StageParallelism reader goroutines but never more
// than GOMAXPROCS-1 (those reads are bound by the CPU, not by waiting),
// while the calling goroutine computes the checksum chunk by chunk, in
// order, as the chunks land; other Stores (kv/cassandra),
// and larger values, are read with Read, up to 4 MiB of chunks a call, into
// a chunk buffer and copied into place.
// [Client.OpenValue] streams it instead, one Store read (up to 4 MiB of
// chunks) at a time, and reports a failed checksum in place of io.EOF, so
// a server can relay a large value with a bounded buffer; on an
// IntoReader Store every window is read into the same buffer.
//
// Orphaned chunks (from dead writers, overwrites and deletes) are reclaimed
// by [Client.Sweep], which deletes each unreferenced write older than the
// token window with one record tombstone; a commit re-checks its token's
// age, so no write older than the window can still become referenced.
// Chunks of items with a TTL carry a longer TTL of their own (item TTL +
// token window), so they expire after the manifest does and need no sweep.
// A reader whose chunks vanish under it (value replaced, old chunks swept)
// re-reads the manifest and serves the new value.
//
// # Pagination
//
// [Client.Get] returns a [Page] of at most Query.Limit items (default
// Options.PageItems) that stops after the item reaching Query.MaxBytes
// (default Options.PageBytes, 2 MiB), so it always makes progress, and an
// opaque Page.Next token. Tokens resume after the last key returned and
// are authenticated with HMAC-SHA-256 under Options.PageKey, bound to the
// namespace, record id and selection: a forged, corrupted, stale (older
// than Options.PageTokenTTL) or foreign token is [ErrBadCursor], never a
// panic or a wrong page. Tokens carry the average item size seen so far,
// from which Get sizes its Store reads (Netflix's adaptive pagination).
//
// # TTL
//
// A put may carry a TTL, counted by the Store from when it applies the
// write (kv/cassandra rounds up to whole seconds). The Client adds jitter of
// up to Options.TTLJitter (default 10 %) of the TTL, derived from token and
// key, so items written together do not all expire, and compact, at once;
// jitter only lengthens a TTL.
//
// # Concurrency
//
// Store implementations and the Client are safe for concurrent use by any
// number of goroutines. A Store makes each successful Apply visible to
// every later Read on the same Store value; [Atomic] Stores (kv/local,
// kv/cassandra, MemStore) apply one Apply call all at once, so Mutate on
// them is atomic. On other Stores each mutation applies on its own, and a
// failed Mutate may leave some applied: retry it with the same token.
// Single items are always all-or-nothing, chunked ones included. Reads are
// not snapshots across pages: a page reflects the writes visible when it
// was read, and writes behind the page position are not revisited.
//
// Item, Mutation, Query, Result, Page, Token, SweepStats and the error
// types are plain values. Results and pages belong to the caller; the
// slices a caller passes in (values, keys, queries) must not change while
// the call that received them runs.
//
// # Formats (frozen)
//
// The value_metadata column of an item written by the Client. Empty means
// a plain inline value without user metadata (so items written straight to
// a Store read back through a Client). Otherwise, integers big-endian:
//
//	 0       1       2
//	+-------+-------+----------------------------------+
//	| 0x01  | flags | manifest (48, if flags&1) | user metadata ...
//	+-------+-------+----------------------------------+
//	  version  bit 0: chunked; other bits must be 0
//
// The chunk manifest:
//
//	 0              8          12         16             24                      48
//	+--------------+----------+----------+--------------+-----------------------+
//	| value size   | chunk    | chunk    | xxhash64 of  | write id: token time  |
//	| (uint64)     | size u32 | count u32| whole value  | µs (8) + digest (16)  |
//	+--------------+----------+----------+--------------+-----------------------+
//
// where chunk count = ceil(size / chunk size). The chunks of write id W live
// in record hex(W) (48 lower-case hex digits) of ns + "__chunks": key
// 0x00000000, 0x00000001, ... (uint32 index) holds chunk i; key "" holds the
// owner, uvarint(len(id)) | id | item key, which Sweep uses. The digest is
// the first 16 bytes of SHA-256 over the length-prefixed token random bits,
// record id, item key, checksum and size.
//
// The page token:
//
//	 0     1              9           13       15          15+n
//	+-----+--------------+-----------+--------+-----------+------------+
//	| 0x01| issued µs    | avg item  | n      | last key  | MAC (16)   |
//	|     | (int64)      | bytes u32 | u16    | (n bytes) |            |
//	+-----+--------------+-----------+--------+-----------+------------+
//
// MAC = HMAC-SHA-256(PageKey, "edgekit/kv page token v1", ns, id,
// selection flags, start, end, keys..., token[:15+n]) truncated to 16 bytes,
// every field length-prefixed. Cursors of Store.Read (Query.Cursor at the
// Store layer) are backend-private.
//
// # Caveats
//
//   - Chunked reads assume read-your-writes between the manifest and its
//     chunks: a Store that reads from a replica lacking the chunks makes
//     the value ErrCorrupt until the replica catches up (kv/cassandra
//     reads and writes at LOCAL_QUORUM or stronger for this reason).
//   - Items written straight to a Store with Metadata that is not a Client
//     header read back through a Client as ErrCorrupt.
//   - Get holds a whole chunked value in memory; a page containing one
//     exceeds its byte budget by up to that value's size.
//   - Idempotency rests on last-writer-wins: two different writes under one
//     token resolve by value order, not by intent. Use a token once.
//   - Page tokens from a Client with a random PageKey are good only on that
//     Client; share Options.PageKey across a fleet.
//   - Client namespaces are at most [ClientNamespaceLen] bytes and may not
//     contain "__", which the companion chunk namespaces reserve.
package kv
