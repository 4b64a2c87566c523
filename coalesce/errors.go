package coalesce

import (
	"errors"
	"fmt"
)

// Errors returned by Groups, Streams, Readers and Writers. Callers test them
// with errors.Is.
var (
	// ErrClosed: the Group or Stream was closed. Flights in progress when
	// Close was called end with it, and later calls return it at once.
	ErrClosed = errors.New("edgekit/coalesce: closed")

	// ErrAbandoned is the reason a flight's context was cancelled when every
	// waiter left before it finished. A streaming fill sees it from Write.
	ErrAbandoned = errors.New("edgekit/coalesce: flight abandoned by every waiter")

	// ErrLeaderTimeout is the reason a flight's context was cancelled when
	// Options.LeaderTimeout passed. A streaming fill sees it from Write.
	ErrLeaderTimeout = errors.New("edgekit/coalesce: leader deadline passed")

	// ErrTooLarge: a streaming body grew past Options.MaxBodySize. Write
	// stores the bytes that fit and returns it; the flight then ends with it
	// even if the fill returns nil, so readers see it after the last byte
	// that fit.
	ErrTooLarge = errors.New("edgekit/coalesce: body larger than MaxBodySize")

	// ErrGoexit: fn called runtime.Goexit (t.FailNow, for instance) instead of
	// returning. Every waiter gets it; the key works again right after.
	ErrGoexit = errors.New("edgekit/coalesce: fn called runtime.Goexit")

	// ErrHeaderSet: Writer.SetHeader was called after the header had been
	// published, explicitly or by the first Write.
	ErrHeaderSet = errors.New("edgekit/coalesce: header already published")

	// ErrFillDone: a Writer was used after its fill function returned.
	ErrFillDone = errors.New("edgekit/coalesce: write after fill returned")

	// ErrReaderClosed: a Reader was used after Close.
	ErrReaderClosed = errors.New("edgekit/coalesce: reader closed")
)

// PanicError is the error every waiter receives when fn panics. The panic
// never propagates: the process keeps running and the key works again at
// once. It unwraps to the panic value when that value is an error.
type PanicError struct {
	// Value is what fn passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as runtime/debug.Stack
	// formats it, captured inside the deferred recover.
	Stack []byte
}

// Error reports the panic value followed by the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("edgekit/coalesce: fn panicked: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value if it is an error, so errors.Is sees
// through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
