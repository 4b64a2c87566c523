package timeseries

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Errors returned by a Namespace. Callers test with errors.Is; the package
// wraps them with detail.
var (
	// ErrInvalid: an argument breaks a documented limit (empty series,
	// event id too long, from not before to, ...).
	ErrInvalid = errors.New("edgekit/timeseries: invalid argument")
	// ErrOutsideWindow: an event's time lies outside the accept window;
	// the error is a *WindowError — or, for a Write that finished more
	// than 30 s after its slice's window closed (it may be invisible to
	// readers; see the package doc), wraps ErrOutsideWindow.
	ErrOutsideWindow = errors.New("edgekit/timeseries: event time outside the accept window")
	// ErrBadToken: a page token was corrupted, forged or belongs to
	// another query.
	ErrBadToken = errors.New("edgekit/timeseries: bad page token")
	// ErrConfig: Options disagree with the layout stored for the namespace
	// (slice or time-bucket length), which is fixed when it is created.
	ErrConfig = errors.New("edgekit/timeseries: options disagree with the stored layout")
	// ErrSplitMismatch: a split's copy kept disagreeing with the original
	// partition (count or checksum), so it was not published.
	ErrSplitMismatch = errors.New("edgekit/timeseries: split copy does not match the original")
	// ErrClosed: the Namespace was closed.
	ErrClosed = errors.New("edgekit/timeseries: closed")
)

// WindowError says why an event was refused by the accept window. It is a
// plain value, safe to share once returned.
type WindowError struct {
	Series string
	// EventTime is the refused event's time, Now the clock reading it was
	// judged against; Earliest and Latest bound the window.
	EventTime, Now, Earliest, Latest time.Time
}

func (e *WindowError) Error() string {
	side := "too old"
	if e.EventTime.After(e.Latest) {
		side = "too far in the future"
	}
	return fmt.Sprintf("%v: series %q event at %s is %s (accepted %s .. %s)", ErrOutsideWindow, e.Series,
		e.EventTime.UTC().Format(time.RFC3339Nano), side,
		e.Earliest.UTC().Format(time.RFC3339Nano), e.Latest.UTC().Format(time.RFC3339Nano))
}

// Unwrap returns ErrOutsideWindow.
func (e *WindowError) Unwrap() error { return ErrOutsideWindow }

// SplitError reports one failed attempt to split a wide partition;
// RunSplits returns them joined. It is a plain value, safe to share once
// returned.
type SplitError struct {
	Namespace string // kv namespace of the slice
	Partition string // kv record id of the base partition
	Attempt   int    // failed attempts so far, this one included
	// RetryAt is the earliest time of the next attempt; zero when this was
	// the last one allowed (Options.MaxSplitAttempts) and the split is
	// aborted.
	RetryAt time.Time
	Err     error // the cause: a kv error, or ErrSplitMismatch
}

func (e *SplitError) Error() string {
	next := "aborted"
	if !e.RetryAt.IsZero() {
		next = "retry at " + e.RetryAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("edgekit/timeseries: split of %s in %s, attempt %d (%s): %v", e.Partition, e.Namespace, e.Attempt, next, e.Err)
}

// Unwrap returns the cause.
func (e *SplitError) Unwrap() error { return e.Err }

// Defaults for a nil *Options or zero fields.
const (
	DefaultSliceLength          = 24 * time.Hour
	DefaultTimeBucket           = time.Hour
	DefaultEventBuckets         = 4
	DefaultMaxEventBuckets      = 16
	DefaultTargetPartitionBytes = 4 << 20
	DefaultAcceptPast           = 10 * time.Minute
	DefaultAcceptFuture         = time.Minute
	DefaultRetentionInterval    = time.Minute
	DefaultBufferBytes          = 4 << 20
	DefaultWideBytes            = 8 << 20
	DefaultMaxSplitBuckets      = 16
	DefaultSplitInterval        = 10 * time.Second
	DefaultMaxSplitAttempts     = 8
	DefaultRefreshInterval      = 30 * time.Second
	DefaultFanOut               = 8
	DefaultWriteParallelism     = 4
	DefaultMaxApplyItems        = 1000
	DefaultPageEvents           = 100
	// MaxPageEvents caps ReadOptions.Limit.
	MaxPageEvents = 10000
	// MaxCoalesce caps Options.Coalesce: the buffer is for loss-tolerant
	// namespaces, and a longer window loses more on a crash.
	MaxCoalesce = 10 * time.Second
)

// Options configures Open. A nil *Options means every default; the zero
// value of each field means its default. A plain value: Open copies it,
// and changing it afterwards has no effect. The functions it holds (Now,
// NewTicker, Logger) are called from concurrent calls and the background
// goroutine, so they must be safe for concurrent use.
type Options struct {
	// SliceLength is the time covered by one time slice (one kv namespace,
	// the unit of retention). A positive multiple of TimeBucket (so at
	// least TimeBucket, and at least a second); anything else, negative
	// included, is ErrInvalid. Fixed when the namespace is first opened; a
	// later Open with a different non-zero value fails with ErrConfig.
	SliceLength time.Duration
	// TimeBucket is the time covered by one partition of a series. Fixed
	// like SliceLength.
	TimeBucket time.Duration
	// EventBuckets is the number of event buckets per time bucket of a
	// new slice when no density has been observed yet.
	EventBuckets int
	// MaxEventBuckets caps the event buckets a slice picks from density.
	MaxEventBuckets int
	// TargetPartitionBytes is the partition size that new slices aim for
	// when they pick their event-bucket count from observed density.
	TargetPartitionBytes int64

	// AcceptPast and AcceptFuture bound the accept window: an event older
	// than now-AcceptPast or newer than now+AcceptFuture is refused with a
	// *WindowError. Negative means unbounded on that side.
	AcceptPast, AcceptFuture time.Duration
	// Retention drops slices that ended more than Retention ago (and can no
	// longer be written). 0 keeps everything.
	Retention time.Duration
	// RetentionInterval is the pause between background retention passes.
	// Negative is ErrInvalid.
	RetentionInterval time.Duration

	// Coalesce turns on the write buffer: Write returns once events are
	// queued in memory, and the buffer is written, grouped by partition,
	// every Coalesce (at most MaxCoalesce) or when it holds BufferBytes.
	// Queued events are lost if the process dies: only for namespaces that
	// accept loss. 0 (the default) writes synchronously.
	Coalesce time.Duration
	// BufferBytes bounds the buffer; a Write that fills it flushes inline.
	BufferBytes int

	// WideBytes is the bytes read from one partition (within one Read and
	// the pages that continue it) past which a split is requested.
	// Negative turns detection off.
	WideBytes int64
	// MaxSplitBuckets caps the sub-buckets a split partition gets.
	MaxSplitBuckets int
	// SplitInterval is how often the background splitter looks for
	// requested or interrupted splits (it also wakes on each request), and
	// the first retry backoff of a failed split. Negative is ErrInvalid.
	SplitInterval time.Duration
	// MaxSplitAttempts bounds the attempts at one split (at most 1000): a
	// failed attempt is retried after SplitInterval, doubling per failure
	// up to an hour; after this many the split is aborted and reads keep
	// using the original partition.
	MaxSplitAttempts int
	// RefreshInterval is how often split metadata and unsettled slice
	// layouts written by other processes are reloaded. Negative is
	// ErrInvalid.
	RefreshInterval time.Duration
	// DisableSplitter stops this process from splitting (it still detects
	// and records requests). Run one splitter per namespace.
	DisableSplitter bool
	// ImmutableSplitsOnly splits a partition only once its time bucket has
	// left the accept window (never, with a negative AcceptPast). Set it when several processes write one
	// namespace: a writer learns of a split only at its next refresh, and
	// until then writes to the original partition alone.
	ImmutableSplitsOnly bool

	// FanOut bounds the partitions a Read fetches in parallel.
	FanOut int
	// WriteParallelism bounds the partition batches a Write applies in
	// parallel.
	WriteParallelism int
	// MaxApplyItems caps the items of one kv Apply; a partition's share of
	// a larger Write goes in several (never splitting an event).
	MaxApplyItems int

	// NoBackground starts no goroutine: buffered writes wait for Flush,
	// splits for RunSplits, retention for EnforceRetention. For tests and
	// for callers that schedule the work themselves.
	NoBackground bool
	// Now is the clock every time decision reads (accept window,
	// retention, immutability, split-record order); nil means time.Now.
	Now func() time.Time
	// NewTicker makes the background goroutine's tickers; nil means
	// time.NewTicker. Tests pass channels they tick by hand. (Read SLOs are
	// context deadlines, which always run on real time.)
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
	// Logger receives background failures; nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	// A negative interval would reach time.NewTicker in the background
	// goroutine and panic there, where the caller cannot recover it; it is
	// refused even where no ticker would use it, since it means nothing.
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"RefreshInterval", c.RefreshInterval}, {"SplitInterval", c.SplitInterval}, {"RetentionInterval", c.RetentionInterval}} {
		if f.d < 0 {
			return c, fmt.Errorf("%w: negative %s %v", ErrInvalid, f.name, f.d)
		}
	}
	def(&c.SliceLength, DefaultSliceLength)
	def(&c.TimeBucket, DefaultTimeBucket)
	def(&c.AcceptPast, DefaultAcceptPast)
	def(&c.AcceptFuture, DefaultAcceptFuture)
	def(&c.RetentionInterval, DefaultRetentionInterval)
	def(&c.SplitInterval, DefaultSplitInterval)
	def(&c.RefreshInterval, DefaultRefreshInterval)
	defInt(&c.EventBuckets, DefaultEventBuckets)
	defInt(&c.MaxEventBuckets, DefaultMaxEventBuckets)
	defInt(&c.BufferBytes, DefaultBufferBytes)
	defInt(&c.MaxSplitBuckets, DefaultMaxSplitBuckets)
	defInt(&c.MaxSplitAttempts, DefaultMaxSplitAttempts)
	defInt(&c.FanOut, DefaultFanOut)
	defInt(&c.WriteParallelism, DefaultWriteParallelism)
	defInt(&c.MaxApplyItems, DefaultMaxApplyItems)
	if c.TargetPartitionBytes <= 0 {
		c.TargetPartitionBytes = DefaultTargetPartitionBytes
	}
	if c.WideBytes == 0 {
		c.WideBytes = DefaultWideBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewTicker == nil {
		c.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.TimeBucket < time.Second || c.TimeBucket%time.Second != 0:
		return c, fmt.Errorf("%w: TimeBucket %v must be whole seconds", ErrInvalid, c.TimeBucket)
	case c.SliceLength < c.TimeBucket || c.SliceLength%c.TimeBucket != 0:
		// Before loadConfig stores it: a negative length passes the
		// modulo test but makes every slice start wrong.
		return c, fmt.Errorf("%w: SliceLength %v is not a positive multiple of TimeBucket %v", ErrInvalid, c.SliceLength, c.TimeBucket)
	case c.Coalesce < 0 || c.Coalesce > MaxCoalesce:
		return c, fmt.Errorf("%w: Coalesce %v outside 0..%v", ErrInvalid, c.Coalesce, MaxCoalesce)
	case c.MaxSplitAttempts > maxSplitAttempts:
		return c, fmt.Errorf("%w: MaxSplitAttempts %d exceeds %d", ErrInvalid, c.MaxSplitAttempts, maxSplitAttempts)
	case c.Retention < 0:
		return c, fmt.Errorf("%w: negative Retention", ErrInvalid)
	case c.EventBuckets > c.MaxEventBuckets || c.MaxEventBuckets > maxBuckets || c.MaxSplitBuckets > maxBuckets:
		return c, fmt.Errorf("%w: bucket counts must satisfy EventBuckets <= MaxEventBuckets <= %d, MaxSplitBuckets <= %d",
			ErrInvalid, maxBuckets, maxBuckets)
	}
	return c, nil
}
