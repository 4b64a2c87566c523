package edgecache

import (
	"context"
	"io"
	"net/http"

	"github.com/edgekit/edgekit/examples/internal/msttl"
	"github.com/edgekit/edgekit/ktls"
	"github.com/edgekit/edgekit/numa"
)

// constValues are header values every response of one kind shares. A
// handler may put a shared []string in its header map because net/http
// clones the map before writing it and never changes a value slice; that
// makes setting these headers a map insert with no allocation.
type constValues struct {
	anyOrigin, hit, bytesRange []string
}

func newConstValues() constValues {
	return constValues{anyOrigin: []string{"*"}, hit: []string{"HIT"}, bytesRange: []string{"bytes"}}
}

// serveHit sends a cached entry: a file by sendfile (on a node-local worker
// when a numa pool is set), a memory body by one write.
//
// Header values come prebuilt from the entry (see entry.hdr). Keep a hit's
// response at eight handler headers or fewer: a Go map of up to eight keys
// is one group with no further allocation.
func (e *Edge) serveHit(w http.ResponseWriter, r *http.Request, ent *entry) {
	h := w.Header()
	h["Content-Type"] = ent.hdr.ctype
	msttl.Set(h, ent.expires.Sub(e.cfg.Now()))
	h["X-Cache"] = e.vals.hit
	if ent.status != http.StatusOK || ent.file == nil {
		h["Content-Length"] = ent.hdr.length
		if ent.status != http.StatusOK {
			w.WriteHeader(ent.status)
		}
		if r.Method != http.MethodHead {
			n, _ := w.Write(ent.body)
			e.m.bytesOut.Add(int64(n))
		}
		if ent.status == http.StatusOK {
			e.m.copied.Add(1)
		}
		return
	}
	work := numa.Work{File: ent.file}
	if c, ok := ktls.ConnFromContext(r.Context()); ok {
		work.Conn = c
	}
	e.placed(r.Context(), work, func() { e.sendFile(w, r, ent) })
}

// placed runs send, a disk hit's send, on a worker of the node
// Config.Policy places work on when Config.Pool is set, else inline.
//
// Not Pool.Dispatch: its Run returns when the client leaves while the send
// may still run later, on a ResponseWriter or connection its server has
// moved on from. Once the send is queued the caller waits for it however
// long; only a send that was never queued (pool closed, no workers, ctx
// done while the queue was full) runs inline. The node choice is
// Dispatch's: a node without workers means any.
func (e *Edge) placed(ctx context.Context, work numa.Work, send func()) {
	if e.cfg.Pool == nil || e.cfg.Policy == nil {
		send()
		return
	}
	node := e.cfg.Policy.Place(work)
	if node != numa.AnyNode && e.cfg.Pool.Size(node) == 0 {
		node = numa.AnyNode
	}
	sent := make(chan struct{})
	err := e.cfg.Pool.Submit(ctx, node, func() {
		defer close(sent)
		send()
	})
	if err == nil {
		<-sent
		return
	}
	send()
}

// sendFile sends a disk entry with status 200 and counts how its body left.
//
// A GET or HEAD without Range or any If- header (every player's segment
// request) is answered here: the header goes out by itself, then the body
// through the ResponseWriter's ReadFrom, which under ktls.Serve is
// sendfile(2) — two socket calls, and none of http.ServeContent's
// per-request parsing and formatting. Anything else goes to
// ktls.ServeFile (http.ServeContent), which answers ranges and
// preconditions; both send the same headers for a full body.
func (e *Edge) sendFile(w http.ResponseWriter, r *http.Request, ent *entry) {
	rf, canReadFrom := w.(io.ReaderFrom)
	fl, canFlush := w.(http.Flusher)
	var m ktls.Method
	if !canReadFrom || !canFlush || needsServeContent(r.Header) {
		m = ktls.ServeFile(w, r, r.URL.Path, ent.stored, ent.file, 0, ent.size)
	} else {
		m = ktls.MethodCopy // HEAD, or a connection that is not a ktls one
		h := w.Header()
		h["Last-Modified"] = ent.hdr.modified
		h["Accept-Ranges"] = e.vals.bytesRange
		h["Content-Length"] = ent.hdr.length
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
		} else {
			conn, isKTLS := ktls.ConnFromContext(r.Context())
			var before int64
			if isKTLS {
				before = conn.Stats().SendfileBytes
			}
			// With the header already flushed, net/http's ReadFrom skips its
			// 512-byte sniffing copy and hands the whole body to the
			// connection (ktls.Conn.ReadFrom recognises the SectionReader).
			fl.Flush()
			_, _ = rf.ReadFrom(io.NewSectionReader(ent.file, 0, ent.size))
			if isKTLS && conn.Stats().SendfileBytes > before {
				m = ktls.MethodSendfile
			}
		}
	}
	if m == ktls.MethodCopy {
		e.m.copied.Add(1)
	} else {
		e.m.sendfile.Add(1)
	}
	e.m.bytesOut.Add(ent.size)
}

// needsServeContent reports whether a request for a whole cached file
// carries something only http.ServeContent answers: a Range, or a
// precondition (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range; any other If- header too, to be safe).
// Players send neither, so the loop is usually over a handful of keys.
func needsServeContent(h http.Header) bool {
	for k := range h {
		if k == "Range" || (len(k) > 3 && k[:3] == "If-") {
			return true
		}
	}
	return false
}
