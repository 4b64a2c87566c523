//go:build !linux

package ktls

import (
	"errors"
	"fmt"
)

// KernelStats returns the kernel's kTLS counters on Linux; elsewhere there
// is no kernel TLS, and the error wraps errors.ErrUnsupported.
func KernelStats() (map[string]int64, error) {
	return nil, fmt.Errorf("edgekit/ktls: kernel TLS counters: %w", errors.ErrUnsupported)
}
