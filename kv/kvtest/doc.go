// Package kvtest is the conformance suite for kv.Store backends, an
// in-memory Store for users' unit tests, and a fault-injecting wrapper.
//
// # Running the suite on a backend
//
// A backend's test calls Run with a constructor. Run calls it once per
// subtest; each call must return a new, open handle. Handles may share
// data (a persistent directory, a Cassandra keyspace): every subtest works
// in its own namespaces ("kvt_" + lower-case subtest name, and for some
// subtests "kvt_<name>_<part>" plus the Client's "<ns>__chunks"
// companions, all at most 32 bytes), which it drops before and after use.
// Subtests run one after another, never in parallel with each other.
// The suite closes the handle only in its "Close" subtest, so register the
// close in t.Cleanup:
//
//	func TestConformance(t *testing.T) {
//		kvtest.Run(t, func(t *testing.T) kv.Store {
//			s, err := local.Open(filepath.Join(t.TempDir(), "db"), nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Select subtests the usual way: go test -run 'TestConformance/Tombstones'.
// Randomized subtests log their seed; replay one with KVTEST_SEED=<seed>.
// KVTEST_LONG=1 multiplies their trial counts (and the concurrent
// subtest's) by 25.
// A backend too slow to move a 64 MiB value through the Client in a unit
// test passes kvtest.MaxValueSize(n), and should run the default size in a
// long mode.
//
// # What the suite checks
//
// Namespaces (create is idempotent, drop of a missing one is nil, calls on
// a missing one are kv.ErrNoNamespace, a re-created one is empty); byte
// order of keys ascending and descending (empty key, 0x00, 0xff, UTF-8);
// key lists (unsorted, duplicate and missing keys); ranges with open ends;
// pagination with Limit and MaxBytes (a page never reaches MaxBytes before
// its last item), cursors across writes and with page sizes changing
// between pages; bad cursors (garbage, truncated, replayed on another id,
// range or direction, an IDs cursor on Read) are kv.ErrBadCursor;
// last-writer-wins with the equal-timestamp tie-break (tombstone beats put;
// larger value beats smaller); key, range and record tombstones in either
// arrival order; a randomized history checked against a naive model; TTL
// with real two-second TTLs (Cassandra counts whole seconds) polled, not
// slept; IDs paging; concurrent writers and readers (no torn items, the
// highest timestamp wins, and no half-applied Apply on a kv.Atomic store);
// bad input (every limit of the Store contract) is kv.ErrInvalid and a
// batch with one bad mutation writes nothing; Close. The "IntoReader"
// subtests run on a Store that implements kv.IntoReader (and skip on one
// that does not): ReadInto agrees with Read, measures a value whose buffer
// has the wrong length instead of filling it, writes no byte outside its
// buffers, also with readers filling disjoint parts of one buffer at once,
// and rejects bad input as Read does. The "Client" subtests
// run a kv.Client on the store: chunked values up to 64 MiB, idempotent
// retries, byte-budget pages with authenticated page tokens.
//
// # Validation helpers
//
// Backends should validate input with kv.CheckNamespace, kv.CheckID,
// kv.CheckMutations, kv.CheckQuery and kv.CheckReadInto so that every
// backend rejects the
// same input with the same wrapped kv.ErrInvalid.
//
// # MemStore
//
// NewMemStore returns a Store that keeps everything in memory, applies each
// Apply atomically, implements kv.IntoReader, and reads time from a clock
// SetClock can replace, so a
// test can expire TTL items without sleeping. FaultStore wraps any Store
// and fails Apply calls after a budget, to test what a reader sees after a
// writer dies half-way.
//
// # Concurrency
//
// MemStore and FaultStore are safe for concurrent use, as the Store
// contract requires. Run's subtests run one after another; within some of
// them ("Concurrent", the Client's retry and hedge checks) the suite calls
// the Store from several goroutines at once, which is the point.
package kvtest
