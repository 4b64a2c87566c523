// Package coalesce turns many concurrent requests for one key into one
// upstream call, and hands every waiter the result — or, for byte bodies,
// the bytes as they arrive. It is the request-collapsing layer of a video
// edge: the first viewer to miss on a live segment fetches it from the
// origin, and the thousand who ask in the next milliseconds ride along.
//
// # Model
//
// A flight is one call of the caller's function for one key. The first
// caller for a key starts it (the leader); callers arriving while it runs
// join it (waiters); when it ends, every waiter gets its result. Two types
// share this machinery:
//
//   - [Group] coalesces calls that return a value: Do(ctx, key, fn).
//   - [Stream] coalesces calls that produce a byte body: Open(ctx, key, fill)
//     returns a [Reader] from offset 0 while fill writes into a [Writer].
//
// Both zero values are ready to use; [New] and [NewStream] take [Options].
//
// When callers pile up on a Group (one of its last few flights had
// joiners), a new leader yields the processor once before it calls fn, so
// that callers already runnable reach Do and join this flight instead of
// each starting the next one. Under contention that is most of the saving
// (1,000 goroutines on one key: fn ran for one call in ~550 instead of
// one in 4); it costs the leader one pass through the scheduler, and a
// Group without joiners never yields, nor does one with Options.Linger
// (callers after fn get the lingering result, which is cheaper than
// joining). A Stream does not need it: its Readers can join while the
// fill runs.
//
// # The flight's context
//
// fn receives a context that belongs to no caller. It carries the first
// caller's values but not its cancellation, and it is cancelled only when
// every waiter has left (cause [ErrAbandoned]), when Options.LeaderTimeout
// passes (Err is context.DeadlineExceeded), when the Group is closed, or
// after fn returns. Each waiter, the leader included, returns as soon as its
// own ctx is done, with ctx.Err(); the flight goes on for the others. This
// is the opposite of x/sync/singleflight, where the first caller's context
// governs everyone and nobody can leave early.
//
// # Linger
//
// A finished result can keep serving new callers for Options.Linger (a
// micro-cache for a segment that was just published: the next request often
// arrives microseconds after the flight ended). Failed results linger for
// Options.ErrorLinger, by default not at all; a streaming fill can set its
// own window with Writer.SetLinger (0 for an uncacheable response).
// Lingering results expire in order from one timer per Group, never a
// goroutine per entry, and expiry drops them so the memory can be freed.
// [Group.Forget] invalidates a key's lingering result or detaches its
// running flight (the object changed: another pipeline republished the
// segment).
//
// # Lock timeout
//
// With Options.LockTimeout, a waiter that has seen nothing of the flight
// after that long (no result; for a Stream no header, byte or end) leaves it
// and runs its own call, as nginx's proxy_cache_lock_timeout does. The own
// call is not shared and does not linger.
//
// # Streaming bodies
//
// A Stream flight has one body: a list of chunks that only grows. The fill
// optionally publishes a typed header first (Writer.SetHeader: an HTTP
// status and headers, for instance), then writes; every Reader reads the
// same chunks from its own offset, so there is one copy of the body per
// flight, never one per reader, and Reader.WriteTo hands the chunks to the
// destination without copying them at all. The Writer never waits for a
// reader, so a stalled reader slows nobody; it only keeps the body in
// memory until it closes.
//
// Readers see exactly what happened: the bytes the fill wrote, then io.EOF
// if the fill returned nil, or the fill's error right after its last byte.
// A caching proxy therefore sends the response head as soon as Header
// returns, streams the body with WriteTo, and stores the body only if the
// read ended with io.EOF (or Reader.Wait returned nil) — a body cut
// mid-stream is never mistaken for a complete one.
//
// Every growth of the body wakes every Reader that has caught up with it.
// When thousands of Readers follow a body that arrives in small steps, that
// is thousands of wake-ups and socket writes per step;
// Reader.SetBatch(n, maxWait) makes a Reader wait for n unread bytes, the
// end of the body (never held back) or maxWait, so that it writes in
// pieces of n instead.
//
// The header wakes every waiting Reader at once, and their goroutines run
// in whatever order the scheduler picks: Readers that run first may be
// busy sending body bytes while the heads of thousands behind them wait.
// Reader.OnHeader registers a function that the fill runs with the header
// inside SetHeader, before any Reader sees it, so a server can write every
// waiting viewer's response head from one loop first.
//
// Bodies are held in memory, so they are bounded: Options.MaxBodySize
// (default [DefaultMaxBodySize], 64 MiB; negative for no bound) caps each
// body. A Write past the bound stores what fits and returns [ErrTooLarge],
// and the flight ends with ErrTooLarge whatever the fill returns, so
// readers get the first MaxBodySize bytes and then ErrTooLarge. A proxy
// would then serve that object uncoalesced. Chunks are never allocated past
// the bound, so a body never holds more than MaxBodySize bytes; it lives
// while its flight runs or lingers and while any Reader of it is open.
//
// # Panics and Goexit
//
// A panic in fn becomes a [*PanicError] carrying the panic value and stack,
// delivered to every waiter; nothing re-panics and the key works again at
// once. runtime.Goexit in fn yields [ErrGoexit].
//
// # Concurrency
//
// Group and Stream are safe for concurrent use. A Reader is used by one
// goroutine (cancel its context to unblock it); a Writer by the fill.
// Stats are counters read under the same lock that updates them; a Stats
// and an Options are plain values. A caller-supplied Clock is used from
// many goroutines at once and must be safe for concurrent use, and so must
// the Timers it returns.
//
// # Caveats
//
//   - fn must honour its context for abandonment, the leader deadline and
//     Close to stop it; a fn that ignores it runs to the end, though its
//     waiters have long returned. A Writer refuses writes once the flight is
//     abandoned, closed or past its deadline, which stops most fills anyway.
//   - Close does not wait for fn to return.
//   - A caller whose ctx can never be cancelled (ctx.Done() == nil) runs fn
//     on its own goroutine when it leads, as singleflight does; otherwise fn
//     runs on a goroutine of its own so that the leader can leave early.
//     (It cannot be otherwise: a leader running fn on its own stack cannot
//     return before fn does.) Because fn may be handed to a goroutine, a fn
//     closure that captures variables is heap-allocated at every call,
//     joiners' calls included; under heavy contention that allocation, and
//     the garbage collection it drives, is a measurable part of the cost.
//   - A lingering Stream hands every reader the same header value; if it
//     holds maps or slices, nobody may modify them.
package coalesce
