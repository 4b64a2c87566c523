package kvtest

import (
	"context"
	"errors"
	"sync"

	"github.com/edgekit/edgekit/kv"
)

// ErrInjected is the error a FaultStore returns once its budget is spent.
var ErrInjected = errors.New("edgekit/kv/kvtest: injected fault")

// FaultStore wraps a kv.Store and fails Apply calls once a budget of
// successful calls is spent, to simulate a writer that dies part-way
// through a multi-call operation (a chunked put, a non-atomic Mutate).
// Reads and namespace calls pass through untouched.
//
// A FaultStore is safe for concurrent use.
type FaultStore struct {
	kv.Store

	mu     sync.Mutex // guards budget, calls
	budget int        // Apply calls left before failing; -1: unlimited
	calls  int        // Apply calls that reached the inner store
}

// NewFaultStore wraps s with an unlimited budget.
func NewFaultStore(s kv.Store) *FaultStore { return &FaultStore{Store: s, budget: -1} }

// FailAfter lets n more Apply calls through, then fails every later one
// with ErrInjected. A negative n removes the limit.
func (f *FaultStore) FailAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budget = n
}

// Applies returns how many Apply calls reached the inner store.
func (f *FaultStore) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Apply implements kv.Store.
func (f *FaultStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	f.mu.Lock()
	if f.budget == 0 {
		f.mu.Unlock()
		return ErrInjected
	}
	if f.budget > 0 {
		f.budget--
	}
	f.calls++
	f.mu.Unlock()
	return f.Store.Apply(ctx, ns, id, muts)
}

// AtomicApply reports whether the inner store applies atomically.
func (f *FaultStore) AtomicApply() bool {
	a, ok := f.Store.(kv.Atomic)
	return ok && a.AtomicApply()
}
