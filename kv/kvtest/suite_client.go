package kvtest

import "testing"

// testClient runs the kv.Client on top of the store (filled in below).
func (s *suite) testClient(t *testing.T, e *env) {}

// clientTTL writes client-level TTL items and returns the check to run after
// the TTL wait.
func (s *suite) clientTTL(t *testing.T, e *env) func() { return func() {} }
