package ktls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// connKey is the context key under which ConnContext stores the *Conn.
type connKey struct{}

// ConnContext is an http.Server.ConnContext that makes the *Conn of each
// request reachable through ConnFromContext (Serve installs it).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if kc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, kc)
	}
	return ctx
}

// ConnFromContext returns the *Conn a request arrived on, if the server was
// started by Serve or uses ConnContext. Handlers read Info (the path taken)
// and ConnectionState from it: net/http leaves Request.TLS nil because the
// connection is not a *tls.Conn.
func ConnFromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	return c, ok
}

// Serve runs srv on ln through a Listener: plain HTTP when config is nil,
// else HTTPS with kernel TLS where possible. It sets srv.ConnContext (calling
// the previous one first) and blocks like http.Server.Serve. HTTP/2 is not
// offered: net/http serves it only on a *tls.Conn.
func Serve(srv *http.Server, ln net.Listener, config *tls.Config, opts *Options) error {
	prev := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prev != nil {
			ctx = prev(ctx, c)
		}
		return ConnContext(ctx, c)
	}
	return srv.Serve(NewListener(ln, config, opts))
}

// ServeFile replies to r with the n bytes of f at offset off, as the
// resource name (whose extension picks the Content-Type unless the header is
// already set) last modified at modtime. Range and conditional requests are
// handled by http.ServeContent; the body reaches the connection through
// Conn.ReadFrom, so it goes by sendfile on plain TCP and kernel TLS — which
// plain net/http never does under TLS. f is read with explicit offsets, so
// one open file may serve many requests at once.
//
// The method reported is how the body bytes left (MethodCopy when the
// connection is not a *Conn, e.g. the listener was not wrapped, or when a
// middleware hid the ResponseWriter's ReadFrom). A HEAD or 304 reply reports
// MethodCopy with nothing sent.
func ServeFile(w http.ResponseWriter, r *http.Request, name string, modtime time.Time, f *os.File, off, n int64) Method {
	c, ok := ConnFromContext(r.Context())
	var before int64
	if ok {
		before = c.sendfileBytes.Load()
	}
	http.ServeContent(headerFlusher{w}, r, name, modtime, io.NewSectionReader(f, off, n))
	if ok && c.sendfileBytes.Load() > before {
		return MethodSendfile
	}
	return MethodCopy
}

// headerFlusher sends the response header as soon as it is written. net/http
// copies the first 512 bytes of a body through its buffer (for Content-Type
// sniffing) unless the header is already on the wire; flushing it first lets
// the whole body take the connection's ReadFrom, i.e. sendfile.
type headerFlusher struct{ http.ResponseWriter }

func (h headerFlusher) WriteHeader(code int) {
	h.ResponseWriter.WriteHeader(code)
	if code == http.StatusOK || code == http.StatusPartialContent {
		_ = http.NewResponseController(h.ResponseWriter).Flush()
	}
}

func (h headerFlusher) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := h.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return copyPooled(h.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the original writer.
func (h headerFlusher) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// FileServer serves the regular files under root by URL path through
// ServeFile. It never follows a path out of root (os.Root), lists no
// directories and answers 404 for anything that is not a regular file.
// It is safe for concurrent use.
func FileServer(root *os.Root) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			http.NotFound(w, r)
			return
		}
		f, err := root.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		ServeFile(w, r, name, st.ModTime(), f, 0, st.Size())
	})
}
