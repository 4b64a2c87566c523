package edgecache

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// serveMiss answers a miss on a lane connection as Edge.serveMiss does
// under net/http: it joins or starts the flight for key, writes the same
// response head as soon as the flight has one, and streams the body as it
// arrives (by sendfile from the body file when there is one; in chunks
// when its length is unknown). It reports whether the connection can take
// another request: not after a body cut short, a failed write or the
// lane's closing.
//
// Unlike net/http, the lane does not read the connection while a request
// waits for its flight's head, so a client that leaves in that time is
// noticed at the head's write rather than at once; the flight goes on for
// its other viewers either way, and a flight nobody waits for ends within
// Config.HeaderTimeout.
func (l *Lane) serveMiss(c net.Conn, req laneRequest, key string, buf *[]byte, start time.Time) bool {
	e := l.e
	rd, err := e.openMiss(l.ctx, key, req.hop)
	var hd *head
	var cast headCast
	if err == nil {
		defer rd.Close()
		cast = headCast{l: l, c: c, buf: buf, req: req, shared: rd.Shared()}
		rd.OnHeader(cast.write)
		hd, err = rd.Header()
	}
	// Whoever takes the head (the fill's hook or this goroutine) first
	// writes it; anything but a whole head from the hook for a flight
	// that goes on ends the connection.
	headOut := false
	if rd != nil && !cast.state.CompareAndSwap(headUnsent, headOwn) {
		if cast.state.Load() != headSent || err != nil || hd == nil {
			return false
		}
		headOut = true
	}
	now := e.cfg.Now()
	if err != nil || hd == nil {
		if l.ctx.Err() != nil {
			return false
		}
		code := upstreamStatus(err)
		e.log.Warn("upstream failed", "path", key, "status", code, "err", err)
		const msg = "upstream failed\n"
		b := appendStatusLine((*buf)[:0], code)
		b = append(b, "Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(msg)), 10)
		b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nDate: "...)
		b = now.UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\nX-Content-Type-Options: nosniff\r\n\r\n"...)
		if !req.head {
			b = append(b, msg...)
		}
		*buf = b
		_, err := c.Write(b)
		return err == nil
	}
	shared := rd.Shared()
	withBody := !req.head && bodyAllowed(hd.status)
	chunked := withBody && hd.length < 0
	if !headOut {
		b := appendMissHead((*buf)[:0], hd, shared, chunked, now)
		*buf = b
		if _, err := c.Write(b); err != nil {
			return false
		}
	}
	var n int64
	if withBody {
		out := &laneOut{c: c, chunked: chunked}
		n, err = e.streamMissBody(rd, hd.file, out)
		if err == nil && chunked {
			_, err = c.Write([]byte("0\r\n\r\n"))
		}
		if err != nil {
			if l.ctx.Err() == nil {
				e.log.Warn("upstream body cut or client gone", "path", key, "via", hd.via, "sent", n, "err", err)
			}
			e.missDone(shared, n, start)
			// The client sees a short body (or no last chunk) and a
			// closed connection.
			return false
		}
	}
	e.missDone(shared, n, start)
	return true
}

// headCast writes a lane miss's response head from the flight's fill, as
// a coalesce.Reader.OnHeader hook: when a herd of viewers waits for one
// head, the fill writes every head in one loop before any viewer wakes,
// rather than each viewer writing its own once its goroutine runs — by
// which time viewers woken earlier may be busy sending body bytes. A
// write is bounded by headCastWait, so a client that stopped reading
// cannot hold the loop: one that took nothing leaves its head to its
// viewer, and one that took part of it is closed.
type headCast struct {
	l      *Lane
	c      net.Conn
	buf    *[]byte // the connection's head buffer; its viewer is blocked in Header meanwhile
	req    laneRequest
	shared bool
	state  atomic.Int32 // headUnsent until the hook or the viewer takes the head
}

// headCast states.
const (
	headUnsent  = iota
	headWriting // the hook is writing the head
	headSent    // the hook wrote the whole head
	headBroken  // the hook wrote part of the head
	headOwn     // the viewer writes its own head (or error response)
)

// headCastWait bounds one head's write from the fill's loop. A deadline
// can pass before the write is even tried (the goroutine descheduled on a
// busy machine); the viewer then writes its own head, so too short a bound
// only costs speed.
const headCastWait = 10 * time.Millisecond

func (h *headCast) write(hd *head) {
	if hd == nil || !h.state.CompareAndSwap(headUnsent, headWriting) {
		return
	}
	chunked := !h.req.head && bodyAllowed(hd.status) && hd.length < 0
	b := appendMissHead((*h.buf)[:0], hd, h.shared, chunked, h.l.e.cfg.Now())
	*h.buf = b
	_ = h.c.SetWriteDeadline(time.Now().Add(headCastWait))
	n, err := h.c.Write(b)
	_ = h.c.SetWriteDeadline(time.Time{})
	select {
	case <-h.l.done:
		// Close set a grace deadline, which the reset above may have undone.
		_ = h.c.SetWriteDeadline(time.Now().Add(laneCloseGrace))
	default:
	}
	switch {
	case err == nil:
		h.state.Store(headSent)
		h.l.e.m.headsByFill.Add(1)
	case n > 0:
		h.state.Store(headBroken)
	default:
		h.state.Store(headUnsent) // nothing went: the viewer writes it
	}
}

// bodyAllowed reports whether a response of status may carry a body
// (RFC 9110: not 1xx, 204 or 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func appendStatusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	return append(b, "\r\n"...)
}

// appendMissHead appends the response head Edge.serveMiss has net/http
// write for hd, in net/http's (sorted) header order; chunked announces a
// body of unknown length in chunks.
func appendMissHead(b []byte, hd *head, shared, chunked bool, now time.Time) []byte {
	b = appendStatusLine(b, hd.status)
	b = append(b, "Access-Control-Allow-Origin: *\r\n"...)
	ms := int64(0)
	if hd.ttl > 0 {
		ms = max(hd.ttl.Milliseconds(), 1)
		b = append(b, "Cache-Control: public, max-age="...)
		b = strconv.AppendInt(b, (ms+999)/1000, 10)
		b = append(b, "\r\n"...)
	} else {
		b = append(b, "Cache-Control: no-store\r\n"...)
	}
	if hd.length >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, hd.length, 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Type: "...)
	b = append(b, hd.ctype...)
	b = append(b, "\r\nDate: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	if ms > 0 {
		b = append(b, MaxAgeHeader+": "...)
		b = strconv.AppendInt(b, ms, 10)
		b = append(b, "\r\n"...)
	}
	if chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if hd.loc != "" {
		b = append(b, "Location: "...)
		b = append(b, hd.loc...)
		b = append(b, "\r\n"...)
	}
	if shared {
		b = append(b, "X-Cache: MISS-COALESCED\r\n"...)
	} else {
		b = append(b, "X-Cache: MISS\r\n"...)
	}
	b = append(b, "X-Cache-Via: "...)
	b = append(b, hd.via...)
	return append(b, "\r\n\r\n"...)
}

// laneOut is a miss body's way out on a lane connection: plain writes (as
// chunks of HTTP/1.1's chunked coding when the length is unknown), and
// file ranges by ktls.SendFile.
type laneOut struct {
	c        net.Conn
	chunked  bool
	sendfile bool
	frame    [18]byte // a chunk's size line
}

func (o *laneOut) Write(p []byte) (int, error) {
	if !o.chunked {
		return o.c.Write(p)
	}
	if len(p) == 0 {
		return 0, nil // a zero-size chunk would end the body
	}
	size := strconv.AppendInt(o.frame[:0], int64(len(p)), 16)
	size = append(size, "\r\n"...)
	bufs := net.Buffers{size, p, []byte("\r\n")}
	if _, err := bufs.WriteTo(o.c); err != nil {
		return 0, err // the body is broken whatever part went
	}
	return len(p), nil
}

// canSendFile: a chunked body has no file (the cache wants a length).
func (o *laneOut) canSendFile() bool { return !o.chunked }
func (o *laneOut) bySendfile() bool  { return o.sendfile }

func (o *laneOut) sendFile(f *os.File, off, n int64) (int64, error) {
	k, m, err := ktls.SendFile(o.c, f, off, n)
	if m == ktls.MethodSendfile {
		o.sendfile = true
	}
	return k, err
}
