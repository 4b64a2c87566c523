// Package btree is the page-level B+tree under kv/local: page encoding and
// decoding, a versioned page cache shared by snapshot readers and the
// writer, tree operations with splits, merges and rebalancing, overflow
// chains for large values, a free list of reusable pages, and an invariant
// checker. It knows nothing of kv semantics; it stores byte keys and values
// in trees identified by root page, over any pager that reads and writes
// whole pages (package wal in production, a map in tests). The byte layouts
// are documented, and frozen, in package kv/local.
package btree
