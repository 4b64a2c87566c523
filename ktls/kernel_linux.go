//go:build linux

package ktls

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linuxKernel is the real kernel TLS send side.
type linuxKernel struct{}

// rawFD runs fn with raw's socket descriptor.
func rawFD(raw net.Conn, fn func(fd int)) error {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%w: %T has no file descriptor", ErrNoKernelTLS, raw)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

func (linuxKernel) install(raw net.Conn, ci *cryptoInfo, rekey bool) error {
	info := ci.marshal()
	defer clear(info)
	var serr error
	err := rawFD(raw, func(fd int) {
		if !rekey {
			if e := unix.SetsockoptString(fd, unix.SOL_TCP, tcpULP, "tls"); e != nil {
				serr = &InstallError{Op: "TCP_ULP", Err: e}
				return
			}
		}
		// SetsockoptString would copy the key into an immutable string; pass
		// the struct directly so it can be wiped afterwards.
		_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), solTLS, tlsTX,
			uintptr(unsafe.Pointer(&info[0])), uintptr(len(info)), 0)
		if e != 0 {
			serr = &InstallError{Op: "TLS_TX", Err: e}
		}
	})
	if serr != nil {
		return serr
	}
	return err
}

func (linuxKernel) sendControl(raw net.Conn, typ byte, payload []byte) error {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return ErrNoKernelTLS
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	// One cmsg (SOL_TLS, TLS_SET_RECORD_TYPE) carrying the content type byte.
	oob := make([]byte, unix.CmsgSpace(1))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = solTLS
	h.Type = tlsSetRecordType
	h.SetLen(unix.CmsgLen(1))
	oob[unix.CmsgLen(0)] = typ
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		_, e := unix.SendmsgN(int(fd), payload, oob, nil, 0)
		if e == unix.EAGAIN {
			return false
		}
		if e != nil {
			serr = &InstallError{Op: "sendmsg", Err: e}
		}
		return true
	})
	if serr != nil {
		return serr
	}
	return werr
}

func (linuxKernel) data(raw net.Conn) interface{ Write([]byte) (int, error) } { return raw }

func (linuxKernel) sendfile() bool { return true }

// probeKernel reports whether the "tls" ULP can be attached. A registered
// ULP is listed in tcp_available_ulp; a loadable module is found by trying
// TCP_ULP on an unconnected socket: the ULP lookup (and a module autoload,
// which needs CAP_NET_ADMIN) runs before the state check, so ENOTCONN means
// the ULP exists and ENOENT means it does not.
func probeKernel() error {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp"); err == nil {
		for _, w := range bytes.Fields(b) {
			if string(w) == "tls" {
				return nil
			}
		}
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: probe socket: %v", ErrNoKernelTLS, err)
	}
	defer unix.Close(fd)
	err = unix.SetsockoptString(fd, unix.SOL_TCP, tcpULP, "tls")
	switch {
	case errors.Is(err, unix.ENOTCONN), err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: tcp_available_ulp has no \"tls\" and TCP_ULP returned ENOENT", ErrNoKernelTLS)
	}
	return fmt.Errorf("%w: TCP_ULP probe: %v", ErrNoKernelTLS, err)
}
