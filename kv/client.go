package kv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors the Client adds to the Store's.
var (
	// ErrNotFound: GetValue found no live item at the key.
	ErrNotFound = errors.New("edgekit/kv: not found")
	// ErrCorrupt: stored data failed a check (unknown value_metadata, a
	// chunk missing or of the wrong size, a checksum mismatch) and did not
	// heal on re-read.
	ErrCorrupt = errors.New("edgekit/kv: corrupt value")
)

// ChunkSuffix names a namespace's companion chunk namespace: ns +
// ChunkSuffix (frozen). Client namespaces may not contain "__", so no user
// namespace collides with a companion, and are at most ClientNamespaceLen
// bytes so the companion stays within MaxNamespaceLen.
const ChunkSuffix = "__chunks"

// ClientNamespaceLen is the longest namespace the Client accepts.
const ClientNamespaceLen = MaxNamespaceLen - len(ChunkSuffix)

// ChunkNamespace returns the companion namespace that holds ns's chunks.
func ChunkNamespace(ns string) string { return ns + ChunkSuffix }

// Defaults for Options fields left zero.
const (
	// DefaultChunkThreshold: values longer than 1 MiB are chunked. This is
	// Netflix's cut-over; it keeps every Cassandra cell at or under 1 MiB
	// (large cells stress compaction and the heap) while the overwhelming
	// majority of items, which are small, take the one-write path.
	DefaultChunkThreshold = 1 << 20
	// DefaultChunkSize: chunks of 1 MiB, for the same per-cell reason; a
	// 64 MiB value is 64 chunks, staged four per Apply call, four calls
	// in flight.
	DefaultChunkSize = 1 << 20
	// DefaultStageBytes: chunk data per staging Apply call, well under
	// Cassandra's default 16 MiB mutation limit.
	DefaultStageBytes = 4 << 20
	// DefaultStageParallelism: staging Apply calls in flight per value.
	DefaultStageParallelism = 4
	// DefaultPageBytes: Netflix's 2 MiB page, read in single-digit ms.
	DefaultPageBytes = 2 << 20
	// DefaultPageItems caps items per page when Query.Limit is zero.
	DefaultPageItems = 1000
	// DefaultMaxTokenAge: a token older than 10 minutes is refused; a
	// retry or hedge older than that is no longer a retry.
	DefaultMaxTokenAge = 10 * time.Minute
	// DefaultMaxTokenSkew: a token more than 10 s in the future is refused
	// (NTP keeps honest clocks within milliseconds).
	DefaultMaxTokenSkew = 10 * time.Second
	// DefaultTTLJitter spreads expiries over [TTL, 1.1·TTL).
	DefaultTTLJitter = 0.1
	// DefaultPageTokenTTL: page tokens older than a day are stale.
	DefaultPageTokenTTL = 24 * time.Hour
)

// maxChunkSize is the largest Options.ChunkSize.
const maxChunkSize = 1 << 30

// stageBytes bounds the chunk data one Store.Read of chunks asks for.
const stageBytes = 4 << 20

// Options configures a Client. A nil *Options, and every zero field, means
// the documented default. NewClient copies what it keeps; the caller may
// reuse the Options value.
type Options struct {
	// ChunkThreshold: values longer than this many bytes are written as
	// chunks. Default DefaultChunkThreshold.
	ChunkThreshold int
	// ChunkSize is the size of each chunk. Default DefaultChunkSize.
	ChunkSize int
	// StageBytes is the most chunk data one staging Apply call carries
	// (at least one chunk). Default DefaultStageBytes.
	StageBytes int
	// StageParallelism is how many staging Apply calls one chunked put
	// keeps in flight; 1 stages sequentially. Default
	// DefaultStageParallelism. A group-committing Store (kv/local) folds
	// concurrent calls into fewer commits; a remote one overlaps them.
	// Reads of a chunked value use as many Store calls at once, except
	// through IntoReader, where they are also capped at GOMAXPROCS-1.
	StageParallelism int
	// PageBytes is the page byte budget when Query.MaxBytes is zero.
	PageBytes int
	// PageItems is the page item cap when Query.Limit is zero.
	PageItems int
	// MaxTokenAge and MaxTokenSkew bound a token's generation time to
	// [now-MaxTokenAge, now+MaxTokenSkew]. A chunked write must also commit
	// within MaxTokenAge of its token; Sweep never reclaims chunks younger
	// than MaxTokenAge+MaxTokenSkew+SweepMargin.
	MaxTokenAge, MaxTokenSkew time.Duration
	// TTLJitter is the largest fraction of an item's TTL added to it; a
	// negative value turns jitter off. Default DefaultTTLJitter.
	TTLJitter float64
	// PageKey authenticates page tokens (HMAC-SHA-256). Clients that must
	// accept each other's tokens (a fleet behind a load balancer) share a
	// key of at least 16 bytes; by default each Client draws its own, so
	// its tokens are good only on that Client.
	PageKey []byte
	// PageTokenTTL is how long a page token stays good. Default 24 h.
	PageTokenTTL time.Duration
	// Now is the clock (default time.Now); it must be safe for concurrent
	// use. Rand is the randomness for tokens and the default PageKey
	// (default crypto/rand.Reader); the Client serializes its reads.
	Now  func() time.Time
	Rand io.Reader
	// Logger receives debug records about healed reads and sweeps
	// (default: discard).
	Logger *slog.Logger
}

// SweepMargin is added to the token window before Sweep may reclaim an
// unreferenced chunk write.
const SweepMargin = time.Minute

// Client is the KV abstraction on any Store: idempotency tokens, chunked
// large values, byte-budget pagination with authenticated page tokens,
// jittered TTLs and multi-item mutations. Its only mutable state is the
// time of the last token it issued (an atomic) and the position of a
// caller's Options.Rand (read under a lock); it is safe for concurrent use.
// It does not own the Store: close the Store when done.
type Client struct {
	store  Store
	opts   Options // defaults filled in
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger
	atomic bool       // store applies one Apply call atomically
	into   IntoReader // the store's IntoReader, nil if it has none

	lastToken atomic.Int64 // µs of the last token NewToken issued
}

// NewClient returns a Client on store. It fails only on invalid Options
// or when randomness for the page key cannot be read.
func NewClient(store Store, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ChunkThreshold, DefaultChunkThreshold)
	def(&o.ChunkSize, DefaultChunkSize)
	def(&o.StageBytes, DefaultStageBytes)
	def(&o.StageParallelism, DefaultStageParallelism)
	def(&o.PageBytes, DefaultPageBytes)
	def(&o.PageItems, DefaultPageItems)
	if o.ChunkThreshold < 0 || o.ChunkSize < 0 || o.PageBytes < 0 || o.PageItems < 0 || o.StageBytes < 0 || o.StageParallelism < 0 ||
		o.MaxTokenAge < 0 || o.MaxTokenSkew < 0 || o.PageTokenTTL < 0 {
		return nil, fmt.Errorf("%w: negative Options field", ErrInvalid)
	}
	if o.ChunkSize > maxChunkSize {
		// The manifest stores the chunk size in 32 bits; chunks this big
		// would defeat chunking anyway.
		return nil, fmt.Errorf("%w: ChunkSize %d exceeds %d", ErrInvalid, o.ChunkSize, maxChunkSize)
	}
	if o.MaxTokenAge == 0 {
		o.MaxTokenAge = DefaultMaxTokenAge
	}
	if o.MaxTokenSkew == 0 {
		o.MaxTokenSkew = DefaultMaxTokenSkew
	}
	if o.TTLJitter == 0 {
		o.TTLJitter = DefaultTTLJitter
	}
	if o.PageTokenTTL == 0 {
		o.PageTokenTTL = DefaultPageTokenTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	} else {
		// A caller's reader (say a seeded math/rand source in a test) need
		// not be safe for concurrent use; the Client is.
		o.Rand = &lockedReader{r: o.Rand}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.PageKey == nil:
		o.PageKey = make([]byte, 32)
		if _, err := io.ReadFull(o.Rand, o.PageKey); err != nil {
			return nil, fmt.Errorf("edgekit/kv: reading randomness for the page key: %w", err)
		}
	case len(o.PageKey) < 16:
		return nil, fmt.Errorf("%w: PageKey of %d bytes, want at least 16", ErrInvalid, len(o.PageKey))
	default:
		o.PageKey = append([]byte(nil), o.PageKey...)
	}
	c := &Client{store: store, opts: o, now: o.Now, rand: o.Rand, log: o.Logger}
	if a, ok := store.(Atomic); ok {
		c.atomic = a.AtomicApply()
	}
	c.into, _ = store.(IntoReader)
	return c, nil
}

// checkNamespace applies the Client's namespace rule: the Store's rule,
// no "__", and at most ClientNamespaceLen bytes.
func checkNamespace(ns string) error {
	if err := CheckNamespace(ns); err != nil {
		return err
	}
	if strings.Contains(ns, "__") || len(ns) > ClientNamespaceLen {
		return fmt.Errorf("%w: client namespace %q must be at most %d bytes without \"__\"", ErrInvalid, ns, ClientNamespaceLen)
	}
	return nil
}

// CreateNamespace creates ns and its chunk namespace ChunkNamespace(ns).
// Idempotent, so it also repairs a namespace whose companion is missing.
func (c *Client) CreateNamespace(ctx context.Context, ns string) error {
	if err := checkNamespace(ns); err != nil {
		return err
	}
	// The companion first: a namespace that exists always has its chunks.
	if err := c.store.CreateNamespace(ctx, ChunkNamespace(ns)); err != nil {
		return err
	}
	return c.store.CreateNamespace(ctx, ns)
}

// DropNamespace drops ns and its chunk namespace.
func (c *Client) DropNamespace(ctx context.Context, ns string) error {
	if err := checkNamespace(ns); err != nil {
		return err
	}
	if err := c.store.DropNamespace(ctx, ns); err != nil {
		return err
	}
	return c.store.DropNamespace(ctx, ChunkNamespace(ns))
}

// Namespaces lists the Store's namespaces without the chunk companions.
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	all, err := c.store.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	// A fresh slice: filtering in place would write into whatever the
	// Store returned, which the Store contract does not promise is ours.
	out := make([]string, 0, len(all))
	for _, ns := range all {
		if !strings.Contains(ns, "__") {
			out = append(out, ns)
		}
	}
	return out, nil
}

// IDs lists record ids of ns that have live items; see Store.IDs.
func (c *Client) IDs(ctx context.Context, ns string, cursor []byte, limit int) ([]string, []byte, error) {
	if err := checkNamespace(ns); err != nil {
		return nil, nil, err
	}
	return c.store.IDs(ctx, ns, cursor, limit)
}

// AtomicApply reports whether Mutate applies all of a call's mutations
// atomically: true when the Store implements Atomic and says so.
func (c *Client) AtomicApply() bool { return c.atomic }

// lockedReader serializes reads from a reader of unknown thread safety.
type lockedReader struct {
	mu sync.Mutex // guards r
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}
