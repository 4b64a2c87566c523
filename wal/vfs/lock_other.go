//go:build !unix

package vfs

import (
	"errors"
	"io"
)

// lockFile is not implemented off unix: callers get errors.ErrUnsupported and
// may choose to run without inter-process exclusion.
func lockFile(name string) (io.Closer, error) { return nil, errors.ErrUnsupported }
