// Package httpserve runs an example's http.Server with the timeouts a
// server facing the internet needs and stops it when a context ends.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Timeouts of every example server. ReadHeaderTimeout cuts slow-loris
// clients that trickle headers; ReadTimeout is generous because a streaming
// ingest PUT lasts a whole segment; IdleTimeout bounds kept-alive
// connections. WriteTimeout stays 0: a held-open segment request and a slow
// viewer's body are bounded per request instead.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// New returns an http.Server for h with the example timeouts.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Run serves srv on ln until ctx ends, then shuts it down, giving requests
// in flight up to 5 s. serve is srv.Serve unless the caller wraps it (ktls).
func Run(ctx context.Context, srv *http.Server, ln net.Listener, serve func(net.Listener) error) error {
	if serve == nil {
		serve = srv.Serve
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
