package ktls

import (
	"fmt"
	"net"
)

// kernelTX is the kernel's send side of kTLS. linuxKernel is the real one;
// tests substitute a user-space model of it to check the keys ktls derives.
type kernelTX interface {
	// install hands send keys to the kernel for raw; the first call also
	// attaches the "tls" ULP, a rekey call replaces the key (TLS 1.3).
	install(raw net.Conn, ci *cryptoInfo, rekey bool) error
	// sendControl sends one non-application record (alert, handshake).
	sendControl(raw net.Conn, typ byte, payload []byte) error
	// data returns the writer application bytes go to once keys are in.
	data(raw net.Conn) interface{ Write([]byte) (int, error) }
	// sendfile reports whether sendfile(2) on raw is sealed by this kernel.
	sendfile() bool
}

// staleWrite receives every record crypto/tls writes after the kernel took
// over sending. crypto/tls writes only two kinds then: alerts (when a read
// fails, or on its own Close) and, in TLS 1.3, the KeyUpdate it owes a peer
// that sent KeyUpdate(update_requested). Both are decrypted with crypto/tls's
// shadow state and re-sent through the kernel; for a KeyUpdate the kernel key
// is rotated right after it, as RFC 8446 §4.6.3 requires. Anything else is
// refused, and the connection stops sending.
func (c *Conn) staleWrite(b []byte) (int, error) {
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if c.txErr != nil {
		return 0, c.txErr
	}
	for rest := b; len(rest) > 0; {
		rec, r, ok := nextRecord(rest)
		if !ok {
			c.txErr = fmt.Errorf("%w: partial record", ErrStaleWrite)
			return 0, c.txErr
		}
		rest = r
		if err := c.forwardLocked(rec); err != nil {
			c.txErr = err
			return 0, err
		}
	}
	return len(b), nil
}

// forwardLocked re-sends one record crypto/tls sealed with its shadow state.
func (c *Conn) forwardLocked(rec []byte) error {
	sh := c.shTx
	typ, plain, err := openRecord(sh.s, sh.keys, sh.seq, rec)
	if err != nil {
		return fmt.Errorf("%w: record does not open under crypto/tls's key", ErrStaleWrite)
	}
	sh.seq++
	switch {
	case typ == recordAlert:
		return c.l.kern.sendControl(c.raw, recordAlert, plain)
	case typ == recordHandshake && len(plain) == 5 && plain[0] == handshakeKeyUpdate && sh.secret != nil:
		// crypto/tls rotates its own write key after this write; follow it.
		next, err := nextTrafficSecret(sh.s, sh.secret)
		if err != nil {
			return err
		}
		if sh.keys, err = tls13Keys(sh.s, next); err != nil {
			return err
		}
		sh.secret, sh.seq = next, 0
		return c.rotateKernelLocked(plain)
	}
	return fmt.Errorf("%w: record type %d", ErrStaleWrite, typ)
}

// rotateKernelLocked sends the KeyUpdate message under the current kernel key
// and then installs the next traffic key at sequence 0.
func (c *Conn) rotateKernelLocked(msg []byte) error {
	if err := c.l.kern.sendControl(c.raw, recordHandshake, msg); err != nil {
		return err
	}
	tx := c.tx
	next, err := nextTrafficSecret(tx.s, tx.secret)
	if err != nil {
		return err
	}
	keys, err := tls13Keys(tx.s, next)
	if err != nil {
		return err
	}
	nt := &txState{s: tx.s, keys: keys, seq: 0, secret: next}
	ci := nt.cryptoInfo()
	err = c.l.kern.install(c.raw, ci, true)
	ci.wipe()
	if err != nil {
		// The peer now expects the new key; the old one must not be used.
		return fmt.Errorf("%w: %w", ErrKeyUpdate, err)
	}
	c.tx = nt
	return nil
}
