package ktls

import "errors"

// Reasons a connection stays on crypto/tls (Info.Reason wraps one of these),
// and errors of the send path.
var (
	// ErrNoKernelTLS: the kernel has no "tls" TCP ULP (module not built or
	// not loaded, and no CAP_NET_ADMIN to autoload it), or not on Linux.
	ErrNoKernelTLS = errors.New("edgekit/ktls: kernel TLS (tcp ulp \"tls\") not available")
	// ErrDisabled: Options.DisableKernel was set.
	ErrDisabled = errors.New("edgekit/ktls: kernel TLS disabled by options")
	// ErrUnsupportedCipher: the negotiated version or cipher suite has no
	// kernel equivalent (only AES-GCM-128/256 and ChaCha20-Poly1305 in TLS
	// 1.2 and 1.3 are handed over).
	ErrUnsupportedCipher = errors.New("edgekit/ktls: cipher suite not supported by kernel TLS")
	// ErrNoSecrets: the key-log secrets of the connection were not seen
	// exactly once (a duplicated client random, or a handshake whose
	// secrets crypto/tls did not log).
	ErrNoSecrets = errors.New("edgekit/ktls: traffic secrets not captured")
	// ErrSequence: the records crypto/tls wrote during the handshake could
	// not be accounted for, so the next sequence number is unknown.
	ErrSequence = errors.New("edgekit/ktls: cannot account for handshake records")
	// ErrStaleWrite: after the kernel took over sending, crypto/tls tried to
	// write something ktls cannot forward (neither an alert nor a KeyUpdate).
	// The connection is unusable for writing afterwards.
	ErrStaleWrite = errors.New("edgekit/ktls: crypto/tls wrote after the kernel took over")
	// ErrKeyUpdate: answering a peer's KeyUpdate failed (the kernel refused
	// the new key); no application data may be sent any more.
	ErrKeyUpdate = errors.New("edgekit/ktls: could not rotate the kernel send key")
)

// InstallError is a failed kernel call while handing keys to the kernel.
// The connection carries on in userspace (before the TLS_TX call the socket
// is untouched; a socket whose ULP is attached but has no TX key passes bytes
// through unchanged).
type InstallError struct {
	Op  string // "TCP_ULP", "TLS_TX" or "sendmsg"
	Err error  // usually a syscall.Errno
}

func (e *InstallError) Error() string { return "edgekit/ktls: " + e.Op + ": " + e.Err.Error() }
func (e *InstallError) Unwrap() error { return e.Err }
