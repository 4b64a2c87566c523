// Package cassandra implements kv.Store on Apache Cassandra (4.1, 5.0) and
// wire-compatible ScyllaDB through the official Go driver,
// github.com/apache/cassandra-gocql-driver/v2: the backend for users who
// outgrow one machine, on the engine Netflix's KV Data Abstraction Layer
// runs on.
//
// # Model
//
// A Store owns one keyspace (Options.Keyspace, created on New with
// Options.Replication if missing). Each kv namespace is one table in the
// Netflix shape — record id as partition key, item key as clustering
// column — created idempotently by CreateNamespace:
//
//	CREATE TABLE "<keyspace>"."<namespace>" (
//	    id text, key blob, value blob, value_metadata blob,
//	    PRIMARY KEY (id, key)
//	) WITH CLUSTERING ORDER BY (key ASC|DESC)
//
// The clustering order comes from Namespace.Order (reads in both
// directions work either way). The kv Client's chunk staging namespace is
// a namespace like any other, so chunks of large values live in their own
// table, and the metadata write that commits them is an ordinary Apply.
//
// Writes map one to one onto CQL, and every statement carries the
// mutation's timestamp, so Cassandra's own last-writer-wins merge decides
// the outcome exactly as the kv contract describes (highest timestamp;
// ties go to tombstones, then to the larger value):
//
//	OpPut          INSERT ... USING TIMESTAMP ts AND TTL ceil(ttl/1s)
//	OpDelete       DELETE ... USING TIMESTAMP ts WHERE id = ? AND key = ?      row tombstone
//	OpDeleteRange  DELETE ... USING TIMESTAMP ts WHERE id = ? AND key >= ? AND key < ?
//	                                                                          one range tombstone
//	OpDeleteRecord DELETE ... USING TIMESTAMP ts WHERE id = ?                 one partition tombstone
//
// Reads use SELECT ... ORDER BY key with the key list (IN, or key = ? for
// a single key) or range, and report WRITETIME(value) as the item
// timestamp. IDs uses SELECT DISTINCT
// id with token paging. Metadata is stored as an empty blob when absent
// (never null, which would write a tombstone on every put) and read back as
// nil.
//
// # Consistency and atomicity
//
// Every statement runs at its namespace's consistency level, LOCAL_QUORUM
// unless Namespace.Consistency says otherwise; with replication factor 3 a
// LOCAL_QUORUM write is visible to every later LOCAL_QUORUM read (kv's
// read-your-writes). At ONE it is not.
//
// Apply sends several mutations as one unlogged batch. All of them target
// one partition, so Cassandra applies the batch on each replica as one
// mutation: atomically and in isolation, and AtomicApply reports true.
// Across replicas the usual rules hold: an Apply that fails (timeout,
// too few replicas) may have reached some replicas and not others — all of
// it on those — and later reads and repair spread it; the caller retries
// it, which is safe because the same timestamps write the same cells. A
// logged batch would add a batchlog write for nothing: its guarantee is
// about several partitions.
//
// Statements are marked idempotent, so a statement that fails for reasons
// other than itself (lost connection, timeout, unavailable replicas) is
// retried on the next host (Options.Retries, default 3; the driver itself
// retries nothing by default) and, with Options.HedgeDelay, hedged on a
// second replica. A retried put with a TTL restarts its TTL from the retry.
// Schema changes are neither retried nor hedged.
//
// Routing is token-aware (the driver sends each statement to a replica of
// its record id, replicas shuffled), over a DC-aware policy when
// Options.LocalDC is set.
//
// # Pagination and cursors
//
// Read pages with the driver's paging state, wrapped in an opaque cursor
// that is signed (HMAC-SHA256 under Options.CursorKey) and bound to its
// query, so a forged, corrupted or replayed cursor is kv.ErrBadCursor; the
// byte layout is documented in cursor.go. MaxBytes is honoured by sizing
// each round trip from a running estimate of the namespace's item size and
// continuing with the paging state until the budget is met. Without a
// shared CursorKey, a cursor is valid only on the Store value that issued
// it.
//
// # Concurrency
//
// A Store is safe for concurrent use; Close waits for calls in progress.
// Each Store holds one driver session (a connection pool per host), so
// create one per process and share it.
//
// # Caveats
//
//   - DropNamespace is DROP TABLE: on a server with auto_snapshot (the
//     default) the data stays on disk as a snapshot until cleared.
//   - Schema changes wait for schema agreement; run CreateNamespace at
//     start-up, not on a hot path, and not from many clients at once.
//   - TTLs are whole seconds, at most 20 years; Cassandra 5.0 in its
//     default storage compatibility mode refuses expirations after 2038.
//   - Tombstones are purged only after gc_grace_seconds (10 days by
//     default): delete-heavy namespaces should tune it via TableOptions.
//
// # Testing against a real cluster
//
// The package's tests run the kvtest conformance suite against the
// cluster named by EDGEKIT_CASSANDRA (comma-separated host:port contact
// points), else 127.0.0.1:9042; with neither answering they skip (and
// fail when EDGEKIT_REQUIRE_PEERS=1, as in CI). Each run works in a fresh
// keyspace that it drops at the end. To start a throw-away local node from
// Maven Central's jars (JDK 17 and Maven needed):
//
//	eval "$(scripts/cassandra.sh start)"   # sets EDGEKIT_CASSANDRA
//	go test ./kv/cassandra/
//	scripts/cassandra.sh stop
//
// To use your own cluster instead, set EDGEKIT_CASSANDRA to its contact
// points; the tests create keyspaces named edgekit_test_* with
// SimpleStrategy replication factor 1.
package cassandra
