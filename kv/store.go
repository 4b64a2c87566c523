package kv

import (
	"context"
	"errors"
	"time"
)

// Limits every Store enforces and every Client checks before calling one.
// They are part of the compatibility promise: data written under them stays
// readable.
const (
	// MaxIDLen is the longest record id, in bytes.
	MaxIDLen = 512
	// MaxKeyLen is the longest item key, in bytes.
	MaxKeyLen = 1024
	// MaxNamespaceLen is the longest namespace name.
	MaxNamespaceLen = 40
)

// Errors returned by Stores and by the Client. Backends wrap them with
// fmt.Errorf("...: %w", ErrX) to add detail; callers test with errors.Is.
var (
	// ErrNoNamespace: the namespace was never created (or was dropped).
	ErrNoNamespace = errors.New("edgekit/kv: no such namespace")
	// ErrInvalid: an argument breaks the documented limits (empty id, key
	// too long, bad namespace name, zero timestamp, nil value on put, ...).
	ErrInvalid = errors.New("edgekit/kv: invalid argument")
	// ErrBadCursor: a cursor or page token was forged, corrupted, or belongs
	// to another query.
	ErrBadCursor = errors.New("edgekit/kv: bad cursor or page token")
	// ErrClosed: the Store was closed (a Client passes it through).
	ErrClosed = errors.New("edgekit/kv: closed")
)

// Op says what a Mutation does.
type Op uint8

// The mutation kinds. Deletes are tombstones carrying the mutation's
// timestamp: they hide every cell of the id written at or before that
// timestamp, and a later Put with an older or equal timestamp stays hidden
// (Cassandra's last-writer-wins semantics, which every Store follows). A
// Store may purge a tombstone once a grace period it documents has passed
// (Cassandra's gc_grace_seconds); an older Put arriving after that is
// visible again.
const (
	// OpPut writes Key → Value (and Metadata) with an optional TTL.
	OpPut Op = iota + 1
	// OpDelete deletes Key.
	OpDelete
	// OpDeleteRange deletes every key in [Key, End) as one range tombstone.
	// A nil Key starts at the first key; a nil End runs past the last.
	OpDeleteRange
	// OpDeleteRecord deletes the whole id as one record tombstone.
	OpDeleteRecord
)

// String returns the op's name.
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpDeleteRange:
		return "delete-range"
	case OpDeleteRecord:
		return "delete-record"
	}
	return "op(?)"
}

// Mutation is one change to one record. Fields a kind does not use must be
// zero.
type Mutation struct {
	Op Op
	// Key is the item key (OpPut, OpDelete) or the inclusive range start
	// (OpDeleteRange). At most MaxKeyLen bytes; empty is a valid key for
	// OpPut and OpDelete (Netflix's flat-map records use "").
	Key []byte
	// End is the exclusive range end for OpDeleteRange.
	End []byte
	// Value is the value for OpPut. It must be non-nil; an empty non-nil
	// slice stores an empty value.
	Value []byte
	// Metadata is stored beside the value and returned with it, opaque to
	// the Store (Netflix's value_metadata column). The Client keeps chunk
	// manifests and compression flags here.
	Metadata []byte
	// TTL makes a put expire this long after the Store applies it; zero
	// means never. Stores may round up to whole seconds.
	TTL time.Duration
	// Timestamp orders writes: microseconds since the Unix epoch, > 0.
	// Among writes to one cell the highest timestamp wins, whatever order
	// they arrive in; equal timestamps resolve deterministically (the
	// larger value wins, as in Cassandra), so a retried mutation is
	// idempotent.
	Timestamp int64
}

// Item is one entry of a record as read back.
type Item struct {
	Key      []byte
	Value    []byte
	Metadata []byte
	// Timestamp is the write timestamp of the winning write.
	Timestamp int64
}

// Query selects items of one record. With Keys set, only those keys are
// read (Start and End are ignored); otherwise the range [Start, End), nil
// meaning unbounded. Items come back in key order (bytes.Compare), or in
// reverse with Reverse.
type Query struct {
	Keys       [][]byte
	Start, End []byte
	Reverse    bool
	// Limit caps the items returned by this call; 0 lets the Store choose.
	Limit int
	// MaxBytes is an advisory budget of key+value+metadata bytes for this
	// call; a Store stops after the item that reaches it, but always
	// returns at least one item when any remain. 0 means no budget.
	MaxBytes int
	// Cursor continues a previous Read of the same Query; it must be the
	// Result.Cursor that Read returned, else ErrBadCursor.
	Cursor []byte
}

// Result is one call's worth of items.
type Result struct {
	Items []Item
	// Cursor is non-nil when more items may remain; pass it back in
	// Query.Cursor. It is opaque and backend-specific (kv/local uses the
	// last key, kv/cassandra the driver's paging state).
	Cursor []byte
}

// Store is the small interface a storage backend implements: per namespace,
// a map from record id to a sorted map of byte keys to byte values — the
// model of Netflix's KV Data Abstraction Layer. The Client adds idempotency
// tokens, chunking and byte-budget pagination on top of any Store.
//
// Names: a namespace matches ^[a-z][a-z0-9_]*$ and is at most
// MaxNamespaceLen bytes (it becomes a Cassandra table name); a record id is
// a non-empty valid UTF-8 string of at most MaxIDLen bytes; keys are
// arbitrary bytes of at most MaxKeyLen.
//
// Consistency: a Store applies each Apply call's mutations to the one id
// atomically if it implements [Atomic] and reports true; otherwise each
// mutation applies on its own (but all of them, or an error is returned).
// A successful Apply is visible to every later Read on the same Store value
// (read-your-writes). Remote backends document their own level.
//
// Concurrency: every method may be called concurrently from any number of
// goroutines. Close waits for calls in progress and fails later ones with
// ErrClosed.
type Store interface {
	// CreateNamespace creates ns if it does not exist. Idempotent.
	CreateNamespace(ctx context.Context, ns string) error
	// DropNamespace removes ns and everything in it. Dropping a namespace
	// that does not exist returns nil.
	DropNamespace(ctx context.Context, ns string) error
	// Namespaces lists the namespaces in lexical order.
	Namespaces(ctx context.Context) ([]string, error)

	// Apply applies muts to record id of namespace ns.
	Apply(ctx context.Context, ns, id string, muts []Mutation) error
	// Read returns items of record id that match q and are live (not
	// deleted, not expired). A record that does not exist reads as empty.
	Read(ctx context.Context, ns, id string, q Query) (Result, error)
	// IDs lists ids that have at least one live item, up to limit per call
	// (0 lets the Store choose), continuing from cursor (nil to start). The
	// order is backend-specific but stable across pages.
	IDs(ctx context.Context, ns string, cursor []byte, limit int) (ids []string, next []byte, err error)

	// Close releases the Store.
	Close() error
}

// Atomic is implemented by Stores that can report whether Apply is atomic
// across all mutations of one call. The answer must not change for the
// life of the Store (NewClient asks once), and AtomicApply, like every
// Store method, may be called concurrently.
type Atomic interface {
	AtomicApply() bool
}

// IntoReader is implemented by Stores that can read values straight into
// buffers the caller provides. The Client reads chunks of large values
// through it when the Store has it, each chunk into its place in the
// value it returns, so a chunk is neither copied a second time nor held
// in a buffer of its own (kv/local reads a chunk's pages from its file
// into the value). Stores without it are read with Read; the Client finds
// it by type assertion, once, in NewClient, so a wrapper that embeds a
// Store hides it unless it implements ReadInto itself.
//
// Concurrency: ReadInto may be called concurrently with every Store
// method, including other ReadInto calls, as long as no two calls in
// flight are given overlapping buffers.
type IntoReader interface {
	// ReadInto reads the live values (not deleted, not expired) at keys
	// of record id of ns. It returns lens, one entry per key: the length
	// of the live value at keys[i], or -1 when there is none. When
	// lens[i] == len(dsts[i]) the value is in dsts[i]; otherwise the
	// contents of dsts[i] are undefined (the value was not read, or not
	// completely). ReadInto writes nothing but dsts[i][:len(dsts[i])],
	// and keeps no reference to dsts once it returns; after an error the
	// contents of every dsts[i] are undefined.
	//
	// The keys are read as of one point in time where the Store can
	// (kv/local: one snapshot). Metadata and timestamps are not returned.
	// len(dsts) must equal len(keys), and every key obey MaxKeyLen, else
	// ErrInvalid; an unknown namespace is ErrNoNamespace, as in Read.
	ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) (lens []int, err error)
}
