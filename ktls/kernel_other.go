//go:build !linux

package ktls

import (
	"errors"
	"fmt"
	"net"
)

// linuxKernel exists only on Linux; elsewhere every TLS connection stays in
// crypto/tls and says so through ErrNoKernelTLS.
type linuxKernel struct{}

func (linuxKernel) install(net.Conn, *cryptoInfo, bool) error                 { return errors.ErrUnsupported }
func (linuxKernel) sendControl(net.Conn, byte, []byte) error                  { return errors.ErrUnsupported }
func (linuxKernel) data(raw net.Conn) interface{ Write([]byte) (int, error) } { return raw }
func (linuxKernel) sendfile() bool                                            { return false }

func probeKernel() error { return fmt.Errorf("%w: %w", ErrNoKernelTLS, errors.ErrUnsupported) }
