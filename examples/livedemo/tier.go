package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/examples/internal/httpserve"
	"github.com/edgekit/edgekit/examples/internal/liveorigin"
	"github.com/edgekit/edgekit/ktls"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/timeseries"
)

// tier is an origin and its edges, each on its own loopback listener.
type tier struct {
	origin    *liveorigin.Server
	originURL string
	edges     []*edgecache.Edge
	edgeURLs  []string
	token     string

	wg        sync.WaitGroup
	cancel    context.CancelFunc
	closers   []func() error // run in reverse order by close
	closeOnce sync.Once
	errMu     sync.Mutex // guards err
	err       error
}

type tierOptions struct {
	dataDir string
	edges   int
	token   string
	logger  *slog.Logger
	// originHandler wraps the origin handler (tests inject faults).
	originHandler func(http.Handler) http.Handler
}

// startTier starts an origin on kv/local in dataDir and n edges sharing one
// ring. Every server stops when ctx ends or close is called.
func startTier(ctx context.Context, o tierOptions) (_ *tier, err error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &tier{cancel: cancel, token: o.token}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	store, err := local.Open(filepath.Join(o.dataDir, local.FileName), nil)
	if err != nil {
		return t, err
	}
	t.closers = append(t.closers, store.Close)
	events, err := timeseries.Open(ctx, store, "origin_events", &timeseries.Options{Coalesce: time.Second, Logger: o.logger})
	if err != nil {
		return t, err
	}
	t.closers = append(t.closers, events.Close)
	t.origin, err = liveorigin.New(ctx, liveorigin.Config{
		Store:           store,
		AnyChannelToken: o.token,
		Pipelines:       []string{"a", "b"},
		Recorder:        &liveorigin.TimeseriesRecorder{NS: events, Logger: o.logger},
		Logger:          o.logger.With("server", "origin"),
	})
	if err != nil {
		return t, err
	}
	var h http.Handler = t.origin
	if o.originHandler != nil {
		h = o.originHandler(h)
	}
	oln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return t, err
	}
	t.originURL = "http://" + oln.Addr().String()
	t.serve(ctx, httpserve.New(h), oln, nil)

	lns := make([]net.Listener, o.edges)
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return t, err
		}
		t.edgeURLs = append(t.edgeURLs, "http://"+lns[i].Addr().String())
	}
	for i, ln := range lns {
		e, err := edgecache.New(edgecache.Config{
			Origin: t.originURL, Self: t.edgeURLs[i], Peers: t.edgeURLs,
			CacheDir: filepath.Join(o.dataDir, fmt.Sprintf("edge%d", i)),
			Logger:   o.logger.With("server", fmt.Sprintf("edge%d", i)),
		})
		if err != nil {
			ln.Close()
			return t, err
		}
		t.edges = append(t.edges, e)
		t.closers = append(t.closers, e.Close)
		srv := httpserve.New(e)
		t.serve(ctx, srv, ln, func(l net.Listener) error { return ktls.Serve(srv, l, nil, nil) })
	}
	return t, nil
}

func (t *tier) serve(ctx context.Context, srv *http.Server, ln net.Listener, fn func(net.Listener) error) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := httpserve.Run(ctx, srv, ln, fn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.errMu.Lock()
			t.err = errors.Join(t.err, err)
			t.errMu.Unlock()
		}
	}()
}

// close stops the servers, then closes edges, events and the store. Later
// calls return the first call's result.
func (t *tier) close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		t.wg.Wait()
		var err error
		for i := len(t.closers) - 1; i >= 0; i-- {
			err = errors.Join(err, t.closers[i]())
		}
		t.errMu.Lock()
		t.err = errors.Join(t.err, err)
		t.errMu.Unlock()
	})
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}

// stats sums the edges' counters.
func (t *tier) stats() edgecache.Stats {
	var s edgecache.Stats
	for _, e := range t.edges {
		x := e.Stats()
		s.Hits += x.Hits
		s.Misses += x.Misses
		s.Coalesced += x.Coalesced
		s.OriginFetches += x.OriginFetches
		s.PeerFetches += x.PeerFetches
		s.UpstreamErrors += x.UpstreamErrors
		s.PeerFailovers += x.PeerFailovers
		s.BytesOut += x.BytesOut
		s.SendFile += x.SendFile
		s.Copied += x.Copied
		s.Viewers += x.Viewers
		s.CacheEntries += x.CacheEntries
		s.CacheBytes += x.CacheBytes
	}
	return s
}

// findAsset returns the directory of the committed test asset, looking
// upwards from the working directory for segment/testdata/vod.
func findAsset() (string, error) {
	p, err := findUp(filepath.Join("segment", "testdata", "vod", "manifest.mpd"))
	if err != nil {
		return "", errors.New("segment/testdata/vod not found above the working directory; run from the edgekit checkout or pass -asset")
	}
	return filepath.Dir(p), nil
}

// dashJSPath is where `npm ci` in examples/livedemo puts dash.js, from the
// root of the checkout.
const dashJSPath = "examples/livedemo/node_modules/dashjs/dist/modern/umd/dash.all.min.js"

// findDashJS returns dash.js of this checkout, looking upwards from the
// working directory as findAsset does, or dashJSPath (which then does not
// exist) if there is none.
func findDashJS() string {
	rel := filepath.FromSlash(dashJSPath)
	if p, err := findUp(rel); err == nil {
		return p
	}
	return rel
}

// findUp returns the first of dir/rel, dir/../rel, ... that exists, dir
// being the working directory.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
