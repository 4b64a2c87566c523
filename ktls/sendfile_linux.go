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

// sendFile copies [off, off+n) of f to dst with sendfile(2), waiting in the
// netpoller when the socket buffer is full. handled is false when the kernel
// refused before any byte was sent (EINVAL, ENOSYS, EOPNOTSUPP), so the
// caller may fall back to a copy. The explicit offset leaves f's position alone.
func sendFile(dst syscall.Conn, f *os.File, off, n int64) (written int64, handled bool, err error) {
	drc, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr error
	handled = true
	cerr := frc.Control(func(src uintptr) {
		werr := drc.Write(func(fd uintptr) bool {
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
	return written, handled, serr
}
