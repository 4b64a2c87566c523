package edgecache

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/edgekit/edgekit/coalesce"
	"github.com/edgekit/edgekit/examples/internal/msttl"
	"github.com/edgekit/edgekit/hashring"
	"github.com/edgekit/edgekit/ktls"
	"github.com/edgekit/edgekit/numa"
)

// Defaults of Config.
const (
	DefaultMemoryBytes    = 256 << 20
	DefaultDiskMin        = 16 << 10
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultStallTimeout   = 5 * time.Second
	DefaultPeerDownFor    = 2 * time.Second
	DefaultMaxObjectBytes = 64 << 20
	DefaultResumeAttempts = 3
	// HopHeader marks a request from a peer edge: the receiver fetches from
	// the origin itself and never forwards again, so a tier cannot loop.
	HopHeader = "Edgekit-Hop"
	// MaxAgeHeader is the origin's millisecond-grain cache lifetime.
	MaxAgeHeader = msttl.Header
)

// viewerWindow is how recently a client must have asked for a manifest to
// count as a viewer (players refresh a live manifest every segment or two).
const viewerWindow = 10 * time.Second

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("edgekit/examples/edgecache: invalid config")

// Config configures an Edge; a plain value that New copies (Pool, Policy,
// Client's Transport and Logger are shared, not copied).
type Config struct {
	// Origin is the origin's base URL, e.g. "http://127.0.0.1:8080".
	Origin string
	// Self is this edge's member id: its base URL as peers reach it.
	Self string
	// Peers are the member ids of the whole tier, Self included. Empty means
	// a tier of one.
	Peers []string
	// CacheDir holds bodies of DiskMin bytes or more as files, so hits go
	// out by sendfile; "" keeps everything in memory.
	CacheDir string
	// DiskMin is the smallest body stored on disk; 0 means DefaultDiskMin.
	DiskMin int64
	// MemoryBytes bounds the cache (memory and disk together); 0 means
	// DefaultMemoryBytes.
	MemoryBytes int64
	// MaxObjectBytes bounds one upstream body; 0 means DefaultMaxObjectBytes.
	MaxObjectBytes int64
	// HeaderTimeout bounds the wait for an upstream response head; it must
	// exceed the origin's hold-open time. 0 means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// StallTimeout ends an upstream body that sends nothing for this long.
	// A peer's body gets twice as long when resuming is on, since the peer
	// may be waiting out its own origin's stall before it resumes.
	// 0 means DefaultStallTimeout.
	StallTimeout time.Duration
	// ResumeAttempts is how many times a body the origin cuts short (a
	// reset, a stall past StallTimeout, an early end) is resumed where it
	// stopped before the flight fails: a GET for the rest ("Range:
	// bytes=N-") validated by If-Range against the first response's
	// strong ETag or Last-Modified, whose 206 must carry exactly the
	// missing bytes. Viewers then get one whole body, late, instead of a
	// short one. Only bodies from the origin with a known length and a
	// validator are resumed. 0 means DefaultResumeAttempts; negative, none.
	ResumeAttempts int
	// Pool and Policy, when both set, run cache hits on node-local workers
	// (numa.DiskSilo: the node of the file's disk).
	Pool   *numa.Pool
	Policy numa.Policy
	// Client makes upstream requests; nil means a fresh transport. The
	// Edge uses a copy that never follows a redirect (its CheckRedirect is
	// replaced): a 3xx is relayed to the client, since following it could
	// reach any host and would cache that host's body under the request's
	// key.
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
}

// head is what a flight publishes to its readers before the body.
type head struct {
	status int
	ctype  string
	length int64 // -1 unknown
	ttl    time.Duration
	via    string // member or "origin"
	loc    string // Location of a 3xx, relayed as is
	// file, when set, receives the body as it arrives, ahead of the
	// flight; viewers send from it (see bodyFile). Immutable once published.
	file *bodyFile
}

// Edge is a caching reverse proxy for one member of an edge tier. It is
// safe for concurrent use; Close releases its cache.
type Edge struct {
	cfg    Config
	origin *url.URL
	ring   *hashring.Ring
	client *http.Client
	log    *slog.Logger
	cache  *cache
	flight *coalesce.Stream[string, *head]
	fills  fillSet
	down   *downSet
	m      metrics
	vals   constValues
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once // Close runs once; later calls return at once
}

// New returns an Edge.
func New(cfg Config) (*Edge, error) {
	u, err := url.Parse(cfg.Origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: origin %q", ErrConfig, cfg.Origin)
	}
	if cfg.Self == "" {
		return nil, fmt.Errorf("%w: no Self", ErrConfig)
	}
	if len(cfg.Peers) == 0 {
		cfg.Peers = []string{cfg.Self}
	}
	found := false
	for _, p := range cfg.Peers {
		found = found || p == cfg.Self
	}
	if !found {
		return nil, fmt.Errorf("%w: Self %q is not among Peers", ErrConfig, cfg.Self)
	}
	ring, err := hashring.New(hashring.Uniform(cfg.Peers...), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if cfg.DiskMin <= 0 {
		cfg.DiskMin = DefaultDiskMin
	}
	if cfg.MemoryBytes <= 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = DefaultMaxObjectBytes
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.ResumeAttempts == 0 {
		cfg.ResumeAttempts = DefaultResumeAttempts
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost:   256,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		IdleConnTimeout:       90 * time.Second,
	}}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, err
		}
	}
	e := &Edge{
		cfg: cfg, origin: u, ring: ring, client: client, log: cfg.Logger,
		cache:  newCache(cfg.CacheDir, cfg.DiskMin, cfg.MemoryBytes, cfg.Now),
		flight: coalesce.NewStream[string, *head](&coalesce.Options{MaxBodySize: cfg.MaxObjectBytes, LeaderTimeout: cfg.HeaderTimeout + 4*cfg.StallTimeout}),
		down:   newDownSet(cfg.Now),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		vals:   newConstValues(),
	}
	e.m.viewers = make(map[string]time.Time)
	go e.sweeper()
	return e, nil
}

// Close stops the sweeper, ends flights in progress and drops the cache.
// It is idempotent and always returns nil.
func (e *Edge) Close() error {
	e.closed.Do(func() {
		close(e.stop)
		<-e.done
		e.flight.Close()
		e.cache.close()
	})
	return nil
}

func (e *Edge) sweeper() {
	defer close(e.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.cache.sweep()
			e.m.activeViewers(e.cfg.Now().Add(-viewerWindow)) // forget old addresses
		}
	}
}

// Stats returns the counters.
func (e *Edge) Stats() Stats {
	n, b := e.cache.size()
	return Stats{
		Hits: e.m.hits.Load(), Misses: e.m.misses.Load(), Coalesced: e.m.coalesced.Load(),
		OriginFetches: e.m.originFetches.Load(), PeerFetches: e.m.peerFetches.Load(), Refilled: e.m.refilled.Load(),
		UpstreamErrors: e.m.upstreamErrors.Load(), PeerFailovers: e.m.peerFailovers.Load(),
		Resumes: e.m.resumes.Load(), Resumed: e.m.resumed.Load(),
		BytesOut: e.m.bytesOut.Load(), BytesIn: e.m.bytesIn.Load(), BadRequests: e.m.badRequests.Load(), SendFile: e.m.sendfile.Load(), Copied: e.m.copied.Load(),
		MissSendFile: e.m.missSendfile.Load(), MissCopied: e.m.missCopied.Load(), MissHeadsByFill: e.m.headsByFill.Load(),
		Viewers: e.m.activeViewers(e.cfg.Now().Add(-viewerWindow)), CacheEntries: n, CacheBytes: b,
	}
}

// ServeHTTP serves /live/... through the cache, /metrics and /healthz.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		e.writeMetrics(w)
		return
	case "/healthz":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		e.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	w.Header()["Access-Control-Allow-Origin"] = e.vals.anyOrigin
	if isTimePath(r.URL.Path) {
		// The clock players synchronize to: answered here, never cached.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, e.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
		return
	}
	if !validPath(r.URL.Path) {
		e.refuse(w, r, http.StatusBadRequest, "bad path")
		return
	}
	key := r.URL.Path
	if isManifest(key) {
		e.m.viewer(r.RemoteAddr, e.cfg.Now())
	}
	start := time.Now()
	if ent := e.cache.get(key); ent != nil {
		e.serveHit(w, r, ent)
		ent.release()
		e.m.hits.Add(1)
		e.m.hitLatency.observe(time.Since(start))
		return
	}
	e.serveMiss(w, r, key, start)
}

func (e *Edge) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	e.m.badRequests.Add(1)
	e.log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", code, "reason", why)
	http.Error(w, why, code)
}

// serveMiss joins or starts the flight for key and streams its body to the
// client as it arrives.
func (e *Edge) serveMiss(w http.ResponseWriter, r *http.Request, key string, start time.Time) {
	rd, err := e.openMiss(r.Context(), key, r.Header.Get(HopHeader) != "")
	if err != nil {
		e.upstreamFailed(w, r, err)
		return
	}
	defer rd.Close()
	hd, err := rd.Header()
	if err != nil || hd == nil {
		e.upstreamFailed(w, r, err)
		return
	}
	shared := rd.Shared()
	h := w.Header()
	h.Set("Content-Type", hd.ctype)
	if hd.length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(hd.length, 10))
	}
	msttl.Set(h, hd.ttl)
	if shared {
		h.Set("X-Cache", "MISS-COALESCED")
	} else {
		h.Set("X-Cache", "MISS")
	}
	h.Set("X-Cache-Via", hd.via)
	if hd.loc != "" {
		h.Set("Location", hd.loc)
	}
	w.WriteHeader(hd.status)
	var n int64
	if r.Method != http.MethodHead {
		// The head goes out as soon as the flight has one, not with the
		// first body bytes: it is all a viewer needs to start, and a small
		// write.
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		out := &httpOut{w: w}
		out.rf, _ = w.(io.ReaderFrom)
		out.conn, _ = ktls.ConnFromContext(r.Context())
		n, err = e.streamMissBody(rd, hd.file, out)
		if err != nil && !errors.Is(err, r.Context().Err()) {
			// The upstream body was cut: the client sees a short body (and a
			// reset connection, since Content-Length promised more).
			e.log.Warn("upstream body cut", "path", key, "via", hd.via, "sent", n, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	e.missDone(shared, n, start)
}

func (e *Edge) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left
	}
	code := upstreamStatus(err)
	e.log.Warn("upstream failed", "path", r.URL.Path, "status", code, "err", err)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "upstream failed", code)
}
