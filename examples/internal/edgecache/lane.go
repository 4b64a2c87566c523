package edgecache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgekit/edgekit/ktls"
	"github.com/edgekit/edgekit/numa"
)

// laneBufSize bounds a request head the lane reads itself; a longer one is
// handed to net/http (whose own limit then applies).
const laneBufSize = 4 << 10

// Lane is a net.Listener for an http.Server in front of an Edge that
// answers the commonest requests itself: a GET or HEAD of a /live/ path
// with nothing unusual about it (see parseLaneHead) that is a hit of a
// cached 200 body or a miss. A hit costs a header written from a
// per-connection buffer plus sendfile, and a miss the same head and body
// the handler would send, both without net/http's per-request work
// (request and response objects, header maps, contexts, the background
// read, six deadline updates). The first request the lane does not answer
// itself — a cached 404, a Range, /metrics, anything malformed — hands the
// connection, with every byte read so far, to the http.Server through
// Accept, and net/http serves it from then on.
//
// The server must use Lane.ConnContext, so handlers still find the
// *ktls.Conn. Close stops accepting and makes idle lane connections end;
// one in the middle of a response gets a grace period to finish it first.
// A Lane is safe for concurrent use.
type Lane struct {
	e       *Edge
	ctx     context.Context // of the lane's misses; cancelled by Close
	cancel  context.CancelFunc
	inner   net.Listener
	idle    time.Duration // bound on the wait for a request's first byte
	header  time.Duration // bound on the rest of its head
	handoff chan net.Conn
	errc    chan error
	done    chan struct{}
	once    sync.Once

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// Lane wraps inner (usually a *ktls.Listener, so that hits go by sendfile
// under kernel TLS too). idle bounds the wait for a connection's next
// request and header the time from its first byte to the end of its head,
// as http.Server's IdleTimeout and ReadHeaderTimeout do (0: no bound).
func (e *Edge) Lane(inner net.Listener, idle, header time.Duration) *Lane {
	l := &Lane{e: e, inner: inner, idle: idle, header: header, handoff: make(chan net.Conn), errc: make(chan error),
		done: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.acceptLoop()
	return l
}

// Accept returns the next connection for net/http: one the lane handed over.
func (l *Lane) Accept() (net.Conn, error) {
	select {
	case c := <-l.handoff:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// laneCloseGrace is how long a lane connection busy with a response when
// the lane closes has to finish it.
const laneCloseGrace = 2 * time.Second

// Close stops the lane: no more connections are accepted, idle lane
// connections are closed and busy ones end after their current response,
// or after laneCloseGrace if the client is not taking it.
func (l *Lane) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		err = l.inner.Close()
		grace := time.Now().Add(laneCloseGrace)
		l.mu.Lock()
		for c := range l.conns {
			_ = c.SetReadDeadline(time.Unix(1, 0)) // wakes a lane blocked reading
			// A client that stopped reading would hold a lane blocked
			// writing, its goroutine and its cache entry, forever.
			_ = c.SetWriteDeadline(grace)
		}
		l.mu.Unlock()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Lane) Addr() net.Addr { return l.inner.Addr() }

// ConnContext is the http.Server.ConnContext to use with a Lane: it makes
// the *ktls.Conn under a handed-over connection reachable by
// ktls.ConnFromContext, as ktls.Serve would.
func (l *Lane) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*handedConn); ok {
		c = hc.Conn
	}
	return ktls.ConnContext(ctx, c)
}

func (l *Lane) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			// net/http decides: it retries temporary errors and stops on
			// the others; once closed, nobody is listening.
			select {
			case l.errc <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			return
		default:
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		go l.serve(c)
	}
}

// serve answers hits and misses on c until a request needs net/http, the client goes
// quiet for l.idle or leaves, or the lane closes.
func (l *Lane) serve(c net.Conn) {
	br := bufio.NewReaderSize(c, laneBufSize)
	var hdr []byte // response head, reused
	handed := false
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		if !handed {
			c.Close()
		}
	}()
	for {
		select {
		case <-l.done:
			return
		default:
		}
		if l.idle > 0 {
			_ = c.SetReadDeadline(time.Now().Add(l.idle))
			// Close sets a past deadline after closing done: checking done
			// after our own update means the past one cannot be lost.
			select {
			case <-l.done:
				return
			default:
			}
		}
		head, err := l.peekHead(c, br)
		if err != nil {
			return // the client left, went idle, or the lane closed
		}
		start := time.Now()
		var ent *entry
		var key string
		req, ok := parseLaneHead(head)
		ok = ok && validPath(string(req.path)) && !isTimePath(string(req.path))
		if ok {
			key = string(req.path)
			if isManifest(key) {
				l.e.m.viewer(c.RemoteAddr().String(), l.e.cfg.Now())
			}
			ent = l.e.cache.get(key)
		}
		if ok && ent == nil {
			_, _ = br.Discard(len(head))
			if !l.serveMiss(c, req, key, &hdr, start) {
				return // a response cut short, or the lane closed
			}
			continue
		}
		if ent == nil || ent.status != http.StatusOK {
			if ent != nil {
				ent.release()
			}
			handed = l.handOver(c, br)
			return
		}
		_, _ = br.Discard(len(head))
		if ent.file != nil && !req.head {
			work := numa.Work{File: ent.file}
			if kc, ok := c.(*ktls.Conn); ok {
				work.Conn = kc
			}
			l.e.placed(l.ctx, work, func() { err = l.e.sendLaneHit(c, req.head, ent, &hdr) })
		} else {
			err = l.e.sendLaneHit(c, req.head, ent, &hdr)
		}
		ent.release()
		if err != nil {
			return // a response cut short: the connection cannot continue
		}
		l.e.m.hits.Add(1)
		l.e.m.hitLatency.observe(time.Since(start))
	}
}

// handOver gives c, with what br holds, to the http.Server; it reports
// false when the lane closed first.
func (l *Lane) handOver(c net.Conn, br *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Time{})
	select {
	case l.handoff <- &handedConn{Conn: c, r: br}:
		return true
	case <-l.done:
		return false
	}
}

// peekHead returns the buffered request head through its blank line,
// reading more as needed, without consuming it. A head longer than the
// buffer returns what there is, which parseLaneHead rejects. Once a head
// has begun, the rest of it must come within l.header.
func (l *Lane) peekHead(c net.Conn, br *bufio.Reader) ([]byte, error) {
	started := false
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i+4], nil
		}
		if len(b) == br.Size() {
			return b, nil
		}
		if len(b) > 0 && !started && l.header > 0 {
			started = true
			_ = c.SetReadDeadline(time.Now().Add(l.header))
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// sendLaneHit writes the response head for ent (the same header set
// serveHit and sendFile produce) and its body: a file by ktls.SendFile, a
// memory body in the same write as the head.
func (e *Edge) sendLaneHit(c net.Conn, head bool, ent *entry, buf *[]byte) error {
	now := e.cfg.Now()
	b := append((*buf)[:0], "HTTP/1.1 200 OK\r\n"...)
	if ent.file != nil {
		b = append(b, "Accept-Ranges: bytes\r\n"...)
	}
	b = append(b, "Access-Control-Allow-Origin: *\r\n"...)
	ttl := ent.expires.Sub(now)
	if ttl > 0 {
		ms := max(ttl.Milliseconds(), 1)
		b = append(b, "Cache-Control: public, max-age="...)
		b = strconv.AppendInt(b, (ms+999)/1000, 10)
		b = append(b, "\r\n"...)
		b = append(b, "Content-Length: "...)
		b = append(b, ent.hdr.length[0]...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, ent.ctype...)
		b = append(b, "\r\nDate: "...)
		b = now.UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"+MaxAgeHeader+": "...)
		b = strconv.AppendInt(b, ms, 10)
	} else {
		b = append(b, "Cache-Control: no-store\r\nContent-Length: "...)
		b = append(b, ent.hdr.length[0]...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, ent.ctype...)
		b = append(b, "\r\nDate: "...)
		b = now.UTC().AppendFormat(b, http.TimeFormat)
	}
	if ent.file != nil {
		b = append(b, "\r\nLast-Modified: "...)
		b = append(b, ent.hdr.modified[0]...)
	}
	b = append(b, "\r\nX-Cache: HIT\r\n\r\n"...)
	*buf = b
	if head {
		// Counted as serveHit counts a HEAD: a file's size, a memory body's 0.
		_, err := c.Write(b)
		if ent.file != nil {
			e.m.bytesOut.Add(ent.size)
		}
		e.m.copied.Add(1)
		return err
	}
	if ent.file == nil {
		bufs := net.Buffers{b, ent.body}
		_, err := bufs.WriteTo(c)
		e.m.bytesOut.Add(ent.size)
		e.m.copied.Add(1)
		return err
	}
	// The head rides in the body's first segment (MSG_MORE): one packet
	// and one wake-up of the client fewer per hit than Write + SendFile.
	n, m, err := ktls.SendFileHead(c, b, ent.file, 0, ent.size)
	e.m.bytesOut.Add(n)
	if m == ktls.MethodSendfile {
		e.m.sendfile.Add(1)
	} else {
		e.m.copied.Add(1)
	}
	return err
}

// handedConn is a lane connection given to net/http: reads drain what the
// lane had buffered first.
type handedConn struct {
	net.Conn
	r *bufio.Reader
}

func (h *handedConn) Read(p []byte) (int, error) { return h.r.Read(p) }

// ReadFrom keeps the connection's own ReadFrom (sendfile under ktls) in
// reach of net/http's response writer.
func (h *handedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := h.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{h.Conn}, r)
}

// isManifest reports whether p is a manifest, whose requests mark viewers.
func isManifest(p string) bool {
	return strings.HasSuffix(p, ".mpd") || strings.HasSuffix(p, ".m3u8")
}

// isTimePath reports whether p is the player clock the edge answers itself.
func isTimePath(p string) bool {
	return strings.HasPrefix(p, "/live/") && strings.HasSuffix(p, "/time")
}
