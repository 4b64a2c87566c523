//go:build linux

package ktls

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSendfileChunk bounds one sendfile call so a huge range cannot hold the
// socket's write lock for long and deadlines are checked between calls.
const maxSendfileChunk = 4 << 20

// sendFile copies [off, off+n) of f to dst with sendfile(2), after head,
// which goes with MSG_MORE so that it leaves in the file's first segment
// (hw counts its bytes sent). It waits in the netpoller when the socket
// buffer is full. handled is false when the kernel refused before any byte
// was sent (EINVAL, ENOSYS, EOPNOTSUPP from sendmsg or sendfile), so the
// caller may fall back to a copy. The explicit offset leaves f's position
// alone.
func sendFile(dst syscall.Conn, head []byte, f *os.File, off, n int64) (hw int, written int64, handled bool, err error) {
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, 0, false, nil
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, false, nil
	}
	var serr error
	handled = true
	cerr := frc.Control(func(src uintptr) {
		werr := drc.Write(func(fd uintptr) bool {
			for hw < len(head) {
				// MSG_MORE: hold these bytes for the sendfile that
				// follows; its last page pushes them all out.
				k, e := unix.SendmsgN(int(fd), head[hw:], nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
				if k > 0 {
					hw += k
				}
				switch {
				case e == unix.EAGAIN:
					return false
				case e == unix.EINTR:
					continue
				case e != nil:
					if hw == 0 && (e == unix.EINVAL || e == unix.ENOSYS || e == unix.EOPNOTSUPP) {
						handled = false
					} else {
						serr = os.NewSyscallError("sendmsg", e)
					}
					return true
				}
			}
			for written < n {
				pos := off + written
				k, e := unix.Sendfile(int(fd), int(src), &pos, int(min(n-written, maxSendfileChunk)))
				if k > 0 {
					written += int64(k)
				}
				switch {
				case e == unix.EAGAIN:
					return false // wait until writable, then call again
				case e == unix.EINTR:
					continue
				case e != nil:
					if written == 0 && (e == unix.EINVAL || e == unix.ENOSYS || e == unix.EOPNOTSUPP) {
						handled = false
					} else {
						serr = os.NewSyscallError("sendfile", e)
					}
					return true
				case k == 0:
					return true // end of file before n: caller reports ErrUnexpectedEOF
				}
			}
			return true
		})
		if serr == nil && werr != nil {
			serr = werr
		}
	})
	if serr == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		serr = cerr
	}
	return hw, written, handled, serr
}
