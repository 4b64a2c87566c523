package ktls

import (
	"crypto/tls"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
)

// Options configures a Listener. The zero value (and nil) means: use kernel
// TLS wherever the kernel and the cipher allow it, log nothing. NewListener
// copies the options; OnHandshake may be called from many goroutines at once.
type Options struct {
	// DisableKernel keeps every TLS connection on crypto/tls (Info.Reason
	// is ErrDisabled), e.g. for A/B measurements.
	DisableKernel bool
	// Logger, if set, gets one Debug line per handshake naming the path taken.
	Logger *slog.Logger
	// OnHandshake, if set, is called once per connection after a successful
	// handshake (from the goroutine that ran it) with the path taken.
	OnHandshake func(c *Conn, info Info)

	kern kernelTX // test seam: a user-space model of the kernel; nil = the real one
}

// ListenerStats counts accepted connections by the path they took (a snapshot value).
type ListenerStats struct {
	Plain, Kernel, Userspace int64
}

// Listener accepts connections and returns them as *Conn: plain TCP when
// it has no tls.Config, else TLS with the send direction moved into the
// kernel after the handshake where possible.
//
// A Listener is safe for concurrent use.
type Listener struct {
	inner     net.Listener
	config    *tls.Config // ktls's clone; nil for plain TCP
	keylog    *keyLog
	kern      kernelTX
	kernelErr error // why no connection can use the kernel; nil if it can
	opts      Options

	plain, kernel, user atomic.Int64
}

// NewListener wraps inner. config nil means plain TCP (connections still get
// sendfile through ReadFrom and SendFile). Otherwise config is cloned once;
// where kernel TLS is possible the clone gets ktls's KeyLogWriter (which
// passes every line on to config.KeyLogWriter, if set) and UnwrapSession
// hook, and always "h2" is removed from NextProtos because
// net/http serves HTTP/2 only on a *tls.Conn. config must not be changed
// after the call.
//
// The kernel is probed once here; Kernel reports the verdict.
func NewListener(inner net.Listener, config *tls.Config, opts *Options) *Listener {
	l := &Listener{inner: inner}
	if opts != nil {
		l.opts = *opts
	}
	if config == nil {
		return l
	}
	l.kern = l.opts.kern
	switch {
	case l.opts.DisableKernel:
		l.kernelErr = ErrDisabled
	case l.kern == nil:
		l.kern = linuxKernel{}
		l.kernelErr = probeKernel()
	}
	cfg := config.Clone()
	cfg.NextProtos = withoutH2(cfg.NextProtos)
	l.config = cfg
	if l.kernelErr == nil {
		l.hook(cfg)
	}
	l.perClient(cfg)
	return l
}

// withoutH2 returns protos less "h2", in a new slice.
func withoutH2(protos []string) []string {
	return slices.DeleteFunc(slices.Clone(protos), func(p string) bool { return p == "h2" })
}

// perClient wraps cfg.GetConfigForClient, if set, so that the config it
// returns for a connection gets what the listener's own config got: "h2"
// removed from NextProtos (whether or not the kernel is used, the Conn
// net/http sees is not a *tls.Conn), and, with kernel TLS, the key log
// through which ktls learns the connection's secrets (without it the
// connection would still work, in userspace).
func (l *Listener) perClient(cfg *tls.Config) {
	get := cfg.GetConfigForClient
	if get == nil {
		return
	}
	cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := get(hi)
		if c == nil || err != nil {
			return c, err
		}
		c = c.Clone()
		c.NextProtos = withoutH2(c.NextProtos)
		if l.keylog != nil {
			c.KeyLogWriter = keyLogTee{k: l.keylog, next: c.KeyLogWriter}
		}
		return c, nil
	}
}

// hook installs the key-log and session-ticket hooks through which ktls
// learns each connection's secrets (perClient extends the key log to
// per-client configs). Without kernel TLS they are left out, so the
// fallback costs nothing beyond the wrapper.
func (l *Listener) hook(cfg *tls.Config) {
	l.keylog = &keyLog{next: cfg.KeyLogWriter}
	cfg.KeyLogWriter = l.keylog
	// crypto/tls does not key-log the master secret of a resumed TLS 1.2
	// session; ktls reads it from the decrypted ticket instead.
	unwrap := cfg.UnwrapSession
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		var ss *tls.SessionState
		var err error
		if unwrap != nil {
			ss, err = unwrap(identity, cs)
		} else {
			ss, err = cfg.DecryptTicket(identity, cs)
		}
		if ss != nil && err == nil {
			l.keylog.resumed(identity, ss)
		}
		return ss, err
	}
}

// Kernel reports nil if TLS connections can move to kernel TLS, else why
// not (wrapping ErrNoKernelTLS or ErrDisabled). Plain TCP listeners report nil.
func (l *Listener) Kernel() error { return l.kernelErr }

// Accept waits for the next connection. The TLS handshake is not run here
// (a slow client must not hold up Accept) but on the Conn's first use.
func (l *Listener) Accept() (net.Conn, error) {
	raw, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	return l.Server(raw), nil
}

// Server wraps a connection accepted elsewhere, as Accept would.
func (l *Listener) Server(raw net.Conn) *Conn {
	c := &Conn{raw: raw, l: l}
	if l.config == nil {
		c.info = Info{Mode: ModePlain}
		c.hsDone.Store(true)
		l.account(c.info)
		return c
	}
	c.w = newWire(raw, l.keylog) // nil keylog: nothing to sniff or record
	c.tc = tls.Server(c.w, l.config)
	return c
}

// Close closes the inner listener; accepted connections stay open.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Stats counts the connections accepted so far by path (TLS connections are
// counted once their handshake succeeds).
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{Plain: l.plain.Load(), Kernel: l.kernel.Load(), Userspace: l.user.Load()}
}

// account records one finished handshake.
func (l *Listener) account(info Info) {
	switch info.Mode {
	case ModePlain:
		l.plain.Add(1)
		return
	case ModeKernel:
		l.kernel.Add(1)
	default:
		l.user.Add(1)
	}
	if l.opts.Logger != nil {
		l.opts.Logger.Debug("ktls: handshake", "mode", info.Mode.String(), "version", tls.VersionName(info.Version),
			"cipher", tls.CipherSuiteName(info.CipherSuite), "reason", info.Reason)
	}
}
