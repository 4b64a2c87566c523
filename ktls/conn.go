package ktls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is the path a connection's outgoing bytes take.
type Mode uint8

const (
	// ModePending: the TLS handshake has not finished yet.
	ModePending Mode = iota
	// ModePlain: a plain TCP connection (the Listener has no tls.Config).
	ModePlain
	// ModeKernel: TLS records are sealed by the kernel (kTLS TX); writes and
	// sendfile go straight to the socket.
	ModeKernel
	// ModeUserspace: TLS records are sealed by crypto/tls; Info.Reason says why.
	ModeUserspace
)

func (m Mode) String() string {
	switch m {
	case ModePlain:
		return "plain"
	case ModeKernel:
		return "kernel"
	case ModeUserspace:
		return "userspace"
	}
	return "pending"
}

// Info describes the path a connection took. It is a value, fixed once
// the handshake is over.
type Info struct {
	Mode        Mode
	Version     uint16 // tls.VersionTLS12 / 13; 0 for plain TCP
	CipherSuite uint16 // IANA id; 0 for plain TCP
	// Reason is why a TLS connection is in userspace; it wraps ErrNoKernelTLS,
	// ErrDisabled, ErrUnsupportedCipher, ErrNoSecrets, ErrSequence or an
	// *InstallError. nil for ModeKernel and ModePlain.
	Reason error
}

// Stats counts a connection's file bytes by the way they were sent (a snapshot value).
type Stats struct {
	SendfileBytes int64 // bytes sent with sendfile(2), never entering user space
	CopyBytes     int64 // file bytes copied through a user-space buffer
}

// Conn is a server-side connection from a Listener: plain TCP, or TLS whose
// send direction is in the kernel when possible and in crypto/tls otherwise.
// Reads always go through crypto/tls (see the package doc for why).
//
// A Conn is safe for concurrent use by one reader and any number of writers,
// like any net.Conn. The handshake runs on the first Read, Write or ReadFrom,
// or explicitly with Handshake.
type Conn struct {
	raw net.Conn  // the accepted connection
	tc  *tls.Conn // nil for plain TCP
	w   *wire     // tc's transport; nil for plain TCP
	l   *Listener

	hsMu   sync.Mutex  // guards the handshake; hsErr, info, tx are written under it before hsDone is set
	hsDone atomic.Bool // set once hsErr, info and tx are final
	hsErr  error
	info   Info

	txMu  sync.Mutex // guards tx and kernel-side key rotation; held by every kernel-mode write
	tx    *txState   // kernel mode only: current kernel key, for answering KeyUpdate
	shTx  *txState   // kernel mode only: crypto/tls's own (shadow) write state
	txErr error      // sticky: set when the kernel send path is broken

	closed        atomic.Bool
	sendfileBytes atomic.Int64
	copyBytes     atomic.Int64
}

// Handshake runs the TLS handshake if it has not run yet and then moves the
// send direction into the kernel when it can. It is a no-op for plain TCP.
func (c *Conn) Handshake(ctx context.Context) error {
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return c.hsErr
	}
	err := c.tc.HandshakeContext(ctx)
	hr := c.w.finish()
	if err == nil {
		c.info = c.setupTX(hr)
	}
	for _, v := range hr.secrets {
		for _, s := range v {
			clear(s) // key-log secrets are not kept past the handshake
		}
	}
	if err != nil {
		c.info = Info{Mode: ModeUserspace, Reason: err}
	}
	c.hsErr = err
	c.hsDone.Store(true)
	if err == nil {
		c.l.account(c.info)
		if f := c.l.opts.OnHandshake; f != nil {
			f(c, c.info)
		}
	}
	return err
}

// setupTX tries to hand the send keys to the kernel; on any failure the
// connection simply stays on crypto/tls.
func (c *Conn) setupTX(hr handshakeRecord) Info {
	st := c.tc.ConnectionState()
	info := Info{Mode: ModeUserspace, Version: st.Version, CipherSuite: st.CipherSuite}
	if c.l.kernelErr != nil {
		info.Reason = c.l.kernelErr
		return info
	}
	s, ok := lookupSuite(st.Version, st.CipherSuite)
	if !ok {
		info.Reason = ErrUnsupportedCipher
		return info
	}
	tx, err := deriveTX(s, hr)
	if err != nil {
		info.Reason = err
		return info
	}
	// Seal first: from here on a record crypto/tls writes (an alert, a
	// KeyUpdate answer) must not reach the socket with its stale sequence
	// number; staleWrite re-sends it through the kernel instead.
	c.w.seal(c.staleWrite)
	ci := tx.cryptoInfo()
	err = c.l.kern.install(c.raw, ci, false)
	ci.wipe()
	if err != nil {
		c.w.seal(nil)
		info.Reason = err
		return info
	}
	shadow := *tx
	c.txMu.Lock()
	c.tx, c.shTx = tx, &shadow
	c.txMu.Unlock()
	info.Mode = ModeKernel
	return info
}

// Info reports the path the connection took (ModePending before the handshake).
func (c *Conn) Info() Info {
	if !c.hsDone.Load() {
		return Info{Mode: ModePending}
	}
	return c.info
}

// Stats reports how the connection's file bytes were sent so far.
func (c *Conn) Stats() Stats {
	return Stats{SendfileBytes: c.sendfileBytes.Load(), CopyBytes: c.copyBytes.Load()}
}

// ConnectionState returns the TLS state (zero for plain TCP).
func (c *Conn) ConnectionState() tls.ConnectionState {
	if c.tc == nil {
		return tls.ConnectionState{}
	}
	return c.tc.ConnectionState()
}

// NetConn returns the accepted connection underneath. Writing to it directly
// bypasses TLS in userspace mode and is only correct in kernel or plain mode.
func (c *Conn) NetConn() net.Conn { return c.raw }

// Read reads application data; in TLS modes crypto/tls decrypts it.
func (c *Conn) Read(b []byte) (int, error) {
	if c.tc == nil {
		return c.raw.Read(b)
	}
	if err := c.Handshake(context.Background()); err != nil {
		return 0, err
	}
	return c.tc.Read(b)
}

// Write sends application data: straight to the socket in plain and kernel
// mode (the kernel cuts it into ≤16 KiB records), through crypto/tls otherwise.
func (c *Conn) Write(b []byte) (int, error) {
	if c.tc == nil {
		return c.raw.Write(b)
	}
	if err := c.Handshake(context.Background()); err != nil {
		return 0, err
	}
	if c.info.Mode != ModeKernel {
		return c.tc.Write(b)
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if c.txErr != nil {
		return 0, c.txErr
	}
	return c.l.kern.data(c.raw).Write(b)
}

// sendsKernel reports whether bytes written to the raw socket leave correctly
// framed: plain TCP, or a kernel that seals them. The handshake must be done.
func (c *Conn) sendsKernel() bool {
	return c.info.Mode == ModePlain || (c.info.Mode == ModeKernel && c.l.kern.sendfile())
}

// Close closes the connection. In kernel mode a close_notify alert is sent
// through the kernel (crypto/tls's own state is stale and must not write it),
// unless a write is in progress, in which case the socket is just closed.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if c.tc == nil {
		return c.raw.Close()
	}
	if !c.hsDone.Load() {
		// No handshake yet (or one is running): crypto/tls has nothing to say.
		c.w.finish()
		return c.raw.Close()
	}
	if c.info.Mode != ModeKernel {
		return c.tc.Close()
	}
	if c.txMu.TryLock() {
		if c.txErr == nil {
			// Bounded: a peer that stopped reading must not hold Close.
			_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.l.kern.sendControl(c.raw, recordAlert, []byte{alertLevelWarning, alertCloseNotify})
		}
		c.txErr = net.ErrClosed
		c.txMu.Unlock()
	}
	return c.raw.Close()
}

const (
	alertLevelWarning  = 1
	alertCloseNotify   = 0
	handshakeKeyUpdate = 24
)

// CloseWrite shuts down the sending side; it is only available on plain TCP
// and kernel mode (crypto/tls's CloseWrite is used in userspace mode).
func (c *Conn) CloseWrite() error {
	if c.tc != nil && c.hsDone.Load() && c.info.Mode == ModeUserspace {
		return c.tc.CloseWrite()
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		if c.tc != nil && c.info.Mode == ModeKernel {
			c.txMu.Lock()
			if c.txErr == nil {
				_ = c.l.kern.sendControl(c.raw, recordAlert, []byte{alertLevelWarning, alertCloseNotify})
				c.txErr = net.ErrClosed
			}
			c.txMu.Unlock()
		}
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// LocalAddr returns the accepted socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the accepted socket's peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the socket's read and write deadlines. They bound
// crypto/tls reads and handshakes as well as kernel-mode writes and
// sendfile, which all wait on the same socket.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// ReadFrom copies r to the connection. When r is an *os.File, or an
// *io.SectionReader over one (what http.ServeContent passes, wrapped in an
// *io.LimitedReader), and the connection sends through the kernel, the bytes
// go by sendfile(2) from the file's page cache; otherwise through a pooled
// buffer. net/http uses this method for response bodies, which is how
// http.ServeContent gets sendfile under kernel TLS.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if c.tc != nil {
		if err := c.Handshake(context.Background()); err != nil {
			return 0, err
		}
	}
	if fr, ok := fileRangeOf(r); ok {
		n, _, err := SendFile(c, fr.f, fr.off, fr.n)
		fr.advance(n)
		return n, err
	}
	return copyPooled(c, r)
}
