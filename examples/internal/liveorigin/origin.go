package liveorigin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/segment"
)

// Defaults of Config.
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultWindow          = 30 * time.Second
	DefaultMaxBodySize     = 16 << 20
)

// DefaultEpochStart is the epoch of every channel unless Config.EpochStart
// is set: the same instant segment.Loop uses, so a Loop pushed into the
// origin needs no offset.
var DefaultEpochStart = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Errors.
var (
	ErrConfig = errors.New("edgekit/examples/liveorigin: invalid config")
)

// Config configures a Server. Store is required; the rest has defaults.
// It is a plain value that New copies.
type Config struct {
	// Store keeps inits and segments; the Server does not close it.
	Store kv.Store
	// Tokens maps a channel name to its ingest token. A channel that is not
	// listed refuses ingest (403), unless AnyChannelToken is set.
	Tokens map[string]string
	// AnyChannelToken, when set, is accepted for every channel not in Tokens.
	AnyChannelToken string
	// Pipelines is the selection order of redundant pipelines; pipelines not
	// named come after, sorted by name.
	Pipelines []string
	// EpochStart is media time 0 of every channel; zero means DefaultEpochStart.
	EpochStart time.Time
	// SegmentDuration of every channel; 0 means DefaultSegmentDuration.
	SegmentDuration time.Duration
	// Window is the DVR window (timeShiftBufferDepth); 0 means DefaultWindow.
	Window time.Duration
	// HoldOpen bounds how long a request for the next segment waits; 0
	// means one segment duration plus a quarter.
	HoldOpen time.Duration
	// MaxBodySize caps an ingest body; 0 means DefaultMaxBodySize.
	MaxBodySize int64
	// Recorder receives events; nil records nothing.
	Recorder Recorder
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the origin: an http.Handler for ingest (/ingest/...) and
// serving (/live/...). It is safe for concurrent use.
type Server struct {
	cfg   Config
	kv    *kv.Client
	epoch segment.Epoch
	log   *slog.Logger
	rec   Recorder

	mu       sync.Mutex // guards channels
	channels map[string]*channel

	stats stats
}

// nameRE bounds channel, pipeline and rendition names: they become kv ids
// and URL path elements, so nothing that could climb a path or inject
// separators gets through.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]{0,63}$`)

// New returns a Server over cfg.Store and reloads what the store holds.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: no Store", ErrConfig)
	}
	if cfg.EpochStart.IsZero() {
		cfg.EpochStart = DefaultEpochStart
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = DefaultSegmentDuration
	}
	if cfg.SegmentDuration%time.Millisecond != 0 {
		return nil, fmt.Errorf("%w: segment duration %v is not whole milliseconds", ErrConfig, cfg.SegmentDuration)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.HoldOpen <= 0 {
		cfg.HoldOpen = cfg.SegmentDuration + cfg.SegmentDuration/4
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Recorder == nil {
		cfg.Recorder = nopRecorder{}
	}
	for ch := range cfg.Tokens {
		if !nameRE.MatchString(ch) {
			return nil, fmt.Errorf("%w: channel name %q", ErrConfig, ch)
		}
	}
	c, err := kv.NewClient(cfg.Store, &kv.Options{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		kv:       c,
		epoch:    segment.Epoch{Start: cfg.EpochStart, SegmentDuration: cfg.SegmentDuration},
		log:      cfg.Logger,
		rec:      cfg.Recorder,
		channels: make(map[string]*channel),
	}
	for _, ns := range []string{nsInit, nsSeg, nsMeta} {
		if err := c.CreateNamespace(ctx, ns); err != nil {
			return nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Epoch returns the grid every channel is locked to.
func (s *Server) Epoch() segment.Epoch { return s.epoch }

// ServeHTTP routes ingest and serving requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/ingest/"):
		s.serveIngest(w, r)
	case strings.HasPrefix(r.URL.Path, "/live/"):
		s.serveLive(w, r)
	case r.URL.Path == "/metrics":
		s.serveMetrics(w)
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// channel returns the channel named name, creating its index.
func (s *Server) channel(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[name]
	if ch == nil {
		ch = newChannel(name)
		s.channels[name] = ch
	}
	return ch
}

// lookup returns an existing channel or nil.
func (s *Server) lookup(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[name]
}
