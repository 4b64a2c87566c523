package coalesce

import "time"

// DefaultMaxBodySize bounds a streaming body when Options.MaxBodySize is 0.
// It is sized for video segments and small objects; raise it for larger
// bodies or set MaxBodySize negative to lift the bound.
const DefaultMaxBodySize = 64 << 20

// Options tune a Group or a Stream. The zero value (and a nil *Options) means:
// no linger, no lock timeout, no leader deadline, DefaultMaxBodySize, and the
// real clock. Options are copied by New and NewStream; changing them later has
// no effect.
type Options struct {
	// Linger keeps a successful result (a value, or a complete body) serving
	// new callers for this long after the flight ends: a micro-cache for a
	// just-published live segment. 0 disables it.
	Linger time.Duration

	// ErrorLinger is Linger for flights that end with an error (including
	// panics and bodies cut short). 0, the default, drops a failed result as
	// soon as its waiters have it, so the next caller tries again.
	ErrorLinger time.Duration

	// LockTimeout, if positive, lets a caller that joined someone else's
	// flight give up on it after this long and run its own call, like
	// nginx's proxy_cache_lock_timeout. For a Group the trigger is "no result
	// yet"; for a Stream it is "no header, no byte and no end yet". The own
	// call is not shared and does not linger.
	LockTimeout time.Duration

	// LeaderTimeout, if positive, is a deadline on the context fn receives,
	// measured from the start of the flight. Waiters are not cut off by it;
	// they get whatever fn returns once it notices.
	LeaderTimeout time.Duration

	// MaxBodySize bounds each streaming body in bytes (Stream only). 0 means
	// DefaultMaxBodySize; a negative value means no bound. Past the bound,
	// Writer.Write stores what fits and returns ErrTooLarge, and the flight
	// ends with ErrTooLarge.
	MaxBodySize int64

	// Clock supplies time for Linger, LockTimeout and LeaderTimeout. nil
	// means the real clock. Tests inject a fake one.
	Clock Clock
}

// Clock is the source of time and timers. Implementations must be safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call; *time.Timer implements it. Stop may
// run while the call is starting on the timer's own goroutine, so it must
// be safe for that concurrent use.
type Timer interface {
	// Stop prevents the call if it has not started, reporting whether it did.
	Stop() bool
}

// realClock is the Clock used when Options.Clock is nil.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Stats counts what a Group or Stream has done since it was made. Counters
// only grow; InFlight and Lingering are current levels. It is a snapshot
// value, taken under the lock that updates the counters.
type Stats struct {
	// Flights is the number of shared calls of fn started (one per leader).
	Flights uint64
	// Joins is the number of callers that joined a flight already running.
	Joins uint64
	// LingerHits is the number of callers served by a lingering result.
	LingerHits uint64
	// Timeouts is the number of callers that hit LockTimeout and ran their
	// own call.
	Timeouts uint64
	// Panics is the number of calls of fn (shared or own) that panicked.
	Panics uint64
	// Abandoned is the number of flights whose every waiter left before
	// they finished, which cancelled their context.
	Abandoned uint64
	// InFlight is the number of keys with a flight running now.
	InFlight int
	// Lingering is the number of keys with a finished result lingering now.
	Lingering int
}
