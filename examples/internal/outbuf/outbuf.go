// Package outbuf is test scaffolding for the example commands: a buffer
// that a command's run writes to from many goroutines while a test waits
// for a line to appear in it.
package outbuf

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is an io.Writer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitAfter waits up to timeout for marker to be written and returns the
// word that follows it (up to the next space or line end); it fails t when
// the marker does not appear.
func (s *Buffer) WaitAfter(t testing.TB, marker string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, rest, ok := strings.Cut(s.String(), marker); ok {
			word, _, _ := strings.Cut(rest, "\n")
			word, _, _ = strings.Cut(word, " ")
			return word
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not written within %v:\n%s", marker, timeout, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
