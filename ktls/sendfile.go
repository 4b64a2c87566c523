package ktls

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Method is how SendFile moved the bytes.
type Method uint8

const (
	// MethodCopy: read into a pooled user-space buffer, then written.
	MethodCopy Method = iota + 1
	// MethodSendfile: sendfile(2) from the page cache to the socket; the
	// bytes never entered user space.
	MethodSendfile
)

func (m Method) String() string {
	switch m {
	case MethodCopy:
		return "copy"
	case MethodSendfile:
		return "sendfile"
	}
	return "none"
}

// copyBufSize is the pooled copy buffer: large enough that the copy path is
// not dominated by syscalls, a multiple of the 16 KiB TLS record.
const copyBufSize = 64 << 10

// copyBufs holds copy buffers; a sync.Pool keeps no state a caller can see.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// SendFile writes n bytes of f starting at offset off to w and reports how.
// It uses sendfile(2) when w is a *Conn in plain or kernel-TLS mode, a
// *net.TCPConn or a *net.UnixConn; otherwise (crypto/tls in userspace, any
// other writer, or a kernel that refuses sendfile) a pooled-buffer copy.
//
// The offset is explicit: f's own file offset is neither used nor moved, so
// one *os.File may serve many connections at once. A file shorter than
// off+n ends the copy with io.ErrUnexpectedEOF. SendFile blocks until done
// or until w's write deadline; it is safe for concurrent use on distinct
// writers.
func SendFile(w io.Writer, f *os.File, off, n int64) (int64, Method, error) {
	return SendFileHead(w, nil, f, off, n)
}

// SendFileHead is SendFile with head (an HTTP response header, say) written
// before the file range. Where SendFile would use sendfile on a plain TCP
// socket, head goes with MSG_MORE: the kernel holds it and sends it in the
// same segment as the file's first bytes, so the reader wakes once instead
// of twice, one packet fewer than a Write followed by SendFile, and without
// TCP_CORK's two extra system calls (and its wait for a delayed ACK). The
// count returned is of file bytes only; a head not written whole is an error,
// and then no file byte was sent. Under kernel TLS, head is an ordinary Write.
// After an error, close the connection: the kernel may still hold a head
// sent with MSG_MORE, waiting for bytes that will not come.
func SendFileHead(w io.Writer, head []byte, f *os.File, off, n int64) (int64, Method, error) {
	if n <= 0 {
		if len(head) > 0 {
			if _, err := w.Write(head); err != nil {
				return 0, MethodCopy, err
			}
		}
		return 0, MethodCopy, nil
	}
	c, _ := w.(*Conn)
	if dst := sendfileTarget(w); dst != nil {
		hw, written, handled, err := sendFileTo(c, dst, head, f, off, n)
		head = head[hw:]
		if handled || written > 0 {
			if err == nil && written < n {
				err = io.ErrUnexpectedEOF
			}
			return written, MethodSendfile, err
		}
		if err != nil {
			return 0, MethodSendfile, err // the head failed
		}
	}
	if len(head) > 0 {
		if _, err := w.Write(head); err != nil {
			return 0, MethodCopy, err
		}
	}
	written, err := copyRange(w, f, off, n)
	if c != nil {
		c.copyBytes.Add(written)
	}
	return written, MethodCopy, err
}

// sendFileTo runs sendfile to dst, which belongs to c if c is non-nil,
// after head (hw is how much of it went out).
func sendFileTo(c *Conn, dst syscall.Conn, head []byte, f *os.File, off, n int64) (hw int, written int64, handled bool, err error) {
	if c == nil {
		return sendFile(dst, head, f, off, n)
	}
	if c.info.Mode == ModeKernel {
		// Kernel records must not interleave with a key rotation.
		c.txMu.Lock()
		defer c.txMu.Unlock()
		if c.txErr != nil {
			return 0, 0, true, c.txErr
		}
		if len(head) > 0 {
			// No MSG_MORE into the TLS ULP: how it holds an open record
			// across a later splice is not something this kernel can
			// test, so the head is a record of its own.
			if _, err := c.l.kern.data(c.raw).Write(head); err != nil {
				return 0, 0, true, err
			}
			hw, head = len(head), nil
		}
	}
	h, written, handled, err := sendFile(dst, head, f, off, n)
	c.sendfileBytes.Add(written)
	return hw + h, written, handled, err
}

// sendfileTarget returns the socket sendfile may write to for w, or nil.
func sendfileTarget(w io.Writer) syscall.Conn {
	switch d := w.(type) {
	case *Conn:
		if d.tc != nil && d.Handshake(context.Background()) != nil {
			return nil
		}
		if !d.sendsKernel() {
			return nil
		}
		if sc, ok := d.raw.(syscall.Conn); ok {
			return sc
		}
	case *net.TCPConn:
		return d
	case *net.UnixConn:
		return d
	}
	return nil
}

// copyRange is the fallback: pread into a pooled buffer, then Write.
func copyRange(w io.Writer, f *os.File, off, n int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var written int64
	for written < n {
		chunk := buf[:min(int64(len(buf)), n-written)]
		nr, rerr := f.ReadAt(chunk, off+written)
		if nr > 0 {
			nw, werr := w.Write(chunk[:nr])
			written += int64(nw)
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			if written < n {
				return written, io.ErrUnexpectedEOF
			}
			break
		}
		if rerr != nil {
			return written, rerr
		}
	}
	return written, nil
}

// copyPooled is io.Copy through a pooled buffer, for readers that are not files.
func copyPooled(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// The struct wrappers hide w's ReadFrom and r's WriteTo, so io.CopyBuffer
	// uses the pooled buffer instead of recursing into Conn.ReadFrom.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, *bp)
}

// fileRange is a file region found behind an io.Reader.
type fileRange struct {
	f       *os.File
	off, n  int64
	advance func(int64) // moves the reader past what was sent
}

// fileRangeOf recognises the readers net/http and io.Copy hand to ReadFrom:
// *os.File, *io.SectionReader over an *os.File, and either inside an
// *io.LimitedReader.
func fileRangeOf(r io.Reader) (fileRange, bool) {
	var lr *io.LimitedReader
	limit := int64(-1)
	if l, ok := r.(*io.LimitedReader); ok {
		lr, r, limit = l, l.R, l.N
	}
	var fr fileRange
	switch v := r.(type) {
	case *os.File:
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return fr, false
		}
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return fr, false
		}
		fr = fileRange{f: v, off: pos, n: max(st.Size()-pos, 0)}
		fr.advance = func(k int64) { _, _ = v.Seek(pos+k, io.SeekStart) }
	case *io.SectionReader:
		ra, base, size := v.Outer()
		f, ok := ra.(*os.File)
		if !ok {
			return fr, false
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return fr, false
		}
		fr = fileRange{f: f, off: base + pos, n: max(size-pos, 0)}
		fr.advance = func(k int64) { _, _ = v.Seek(k, io.SeekCurrent) }
	default:
		return fr, false
	}
	if lr != nil {
		fr.n = min(fr.n, limit)
		inner := fr.advance
		fr.advance = func(k int64) { inner(k); lr.N -= k }
	}
	return fr, true
}
