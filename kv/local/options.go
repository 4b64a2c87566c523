package local

import (
	"log/slog"
	"time"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

// Defaults for a nil *Options or zero fields.
const (
	// DefaultPageSize is the page size of a new file.
	DefaultPageSize = 4096
	// DefaultCacheSize is the page cache budget in bytes.
	DefaultCacheSize = 64 << 20
	// DefaultReadLimit is the item limit of a Read whose Query.Limit is 0,
	// and the id limit of IDs with limit 0.
	DefaultReadLimit = 1000
	// DefaultMaxBatch is the most Apply calls one group commit carries.
	DefaultMaxBatch = 512
	// DefaultSweepInterval is how often the background sweeper's timed
	// pass takes its next slice of records to reclaim the space of
	// deleted and expired items.
	DefaultSweepInterval = 10 * time.Second
	// DefaultTombstoneGrace is how long a tombstone is kept after its
	// deletion time before the sweeper purges it: Cassandra's default
	// gc_grace_seconds of ten days.
	DefaultTombstoneGrace = 10 * 24 * time.Hour
)

// FileName is the name of the page file Open creates when given a
// directory; the WAL sits beside it with the suffix "-wal".
const FileName = "kv.db"

// Options configures Open. A nil *Options means every default; the zero
// value of each field means its default.
type Options struct {
	// PageSize is the size of every page of a new file: a power of two from
	// 4096 to 65536. An existing file keeps the page size it was created
	// with; a different non-zero PageSize is an error.
	PageSize int
	// CacheSize bounds the memory of the decoded page cache, in bytes
	// (page buffers and their cell indexes; at least 16 KiB). The Store's
	// resident memory beyond it is what in-flight transactions and values
	// hold.
	CacheSize int64
	// FS is the file system the WAL layer uses; nil means the OS. Tests
	// pass vfs.NewMem() or a fault-injecting file system.
	FS vfs.FS
	// Sync is the durability of a commit; the zero value, wal.SyncFull,
	// fsyncs the WAL before Apply returns.
	Sync wal.SyncMode
	// AutoCheckpoint is the number of WAL frames above which a background
	// checkpoint copies pages into the page file (0: wal's default of
	// 1000; negative: never, checkpoint by hand with Store.Checkpoint).
	AutoCheckpoint int
	// MaxBatch caps the Apply calls that share one commit (group commit).
	// 0 means DefaultMaxBatch; 1 disables batching.
	MaxBatch int
	// ReadLimit is the item limit of a Read with Query.Limit 0.
	ReadLimit int
	// SweepInterval is the pause between the slices of the background
	// timed pass, each of which examines up to 1,000 entries: it turns
	// expired items into tombstones, drops items hidden by record and
	// range tombstones, and purges tombstones past TombstoneGrace. 0
	// means DefaultSweepInterval; negative disables the timed pass
	// (records that receive record or range deletes are still swept, and
	// SweepNow still works).
	SweepInterval time.Duration
	// TombstoneGrace is how long deletes keep hiding older writes that
	// arrive late, like Cassandra's gc_grace_seconds. Once a tombstone's
	// deletion time (the package documentation says which time that is)
	// lies TombstoneGrace in the past, the sweeper removes the tombstone
	// and every item it hides, and an expired item goes the same way
	// TombstoneGrace after its expiry. A write older than a purged
	// tombstone that arrives afterwards is then visible again. 0 means
	// DefaultTombstoneGrace; negative keeps tombstones forever (the file
	// then grows with every delete of a key that is not written again).
	TombstoneGrace time.Duration
	// Now is the clock for TTLs and tombstone grace; nil means time.Now.
	Now func() time.Time
	// Logger receives background events (sweep and checkpoint failures);
	// nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.TombstoneGrace == 0 {
		c.TombstoneGrace = DefaultTombstoneGrace
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
