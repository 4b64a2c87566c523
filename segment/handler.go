package segment

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HandlerOptions configures Loop.Handler, which copies it; nil means the
// defaults. The returned handler is safe for concurrent use.
type HandlerOptions struct {
	// Manifest to render; nil means l.Manifest() with UTCTimingURL pointing
	// at the handler's own "time" endpoint (relative to the request).
	Manifest *Manifest
	// HoldOpen is how long a request for a segment that is not available
	// yet is held before it is answered, so that players (and ffmpeg, which
	// does not wait on its own) reading at the live edge get the segment the
	// moment it exists instead of a 404. Default one segment duration.
	HoldOpen time.Duration
}

// Handler serves the channel like a small live origin (the livesim2 shape),
// at paths relative to where it is mounted (use http.StripPrefix):
//
//	manifest.mpd          dynamic DASH MPD
//	master.m3u8           HLS multivariant playlist
//	<id>.m3u8             HLS media playlist
//	<id>/init.mp4         init segment
//	<id>/<n>.m4s          media segment n (streamed chunk by chunk when chunked)
//	time                  the clock as xs:dateTime (UTCTiming http-xsdate)
//
// A segment that becomes available within HoldOpen is held until then; later
// ones get 404, ones older than the time-shift buffer 410. The handler uses
// the Loop's clock and stops waiting when the request's context ends. Every
// response allows any origin (CORS), since the channel is test content.
// Manifest templates other than the defaults are not routed.
func (l *Loop) Handler(opts *HandlerOptions) http.Handler {
	var o HandlerOptions
	if opts != nil {
		o = *opts
	}
	if o.HoldOpen <= 0 {
		o.HoldOpen = l.epoch.SegmentDuration
	}
	m := l.Manifest()
	if o.Manifest != nil {
		mc := *o.Manifest // the caller may reuse its Manifest; its slices must stay unchanged
		m = &mc
	}
	return &loopHandler{l: l, m: m, hold: o.HoldOpen, selfTiming: o.Manifest == nil}
}

type loopHandler struct {
	l          *Loop
	m          *Manifest
	hold       time.Duration
	selfTiming bool // point UTCTiming at our own /time
}

func (h *loopHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := strings.TrimPrefix(req.URL.Path, "/")
	now := h.l.clock.Now()
	// A test channel is read by players on other origins (a dash.js page
	// served elsewhere); it holds nothing private.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch {
	case p == "time":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, now.UTC().Format("2006-01-02T15:04:05.000Z"))
	case p == "manifest.mpd":
		m := *h.m
		if h.selfTiming {
			m.UTCTimingURL = timeURL(req)
		}
		h.write(w, "application/dash+xml", func() ([]byte, error) { return m.MPD(now) })
	case p == "master.m3u8":
		h.write(w, "application/vnd.apple.mpegurl", h.m.MultivariantPlaylist)
	case strings.HasSuffix(p, ".m3u8") && !strings.Contains(p, "/"):
		id := strings.TrimSuffix(p, ".m3u8")
		h.write(w, "application/vnd.apple.mpegurl", func() ([]byte, error) { return h.m.MediaPlaylist(id, now) })
	default:
		id, file, ok := strings.Cut(p, "/")
		if !ok {
			http.NotFound(w, req)
			return
		}
		if file == "init.mp4" {
			h.write(w, "video/mp4", func() ([]byte, error) { return h.l.Init(id) })
			return
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(file, ".m4s"), 10, 64)
		if err != nil || !strings.HasSuffix(file, ".m4s") {
			http.NotFound(w, req)
			return
		}
		h.serveSegment(w, req, id, n)
	}
}

// write renders a body and answers 200, 404 for an unknown rendition, or 500.
func (h *loopHandler) write(w http.ResponseWriter, ctype string, render func() ([]byte, error)) {
	b, err := render()
	if err != nil {
		code := http.StatusInternalServerError
		if isUnknown(err) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func (h *loopHandler) serveSegment(w http.ResponseWriter, req *http.Request, id string, n uint64) {
	if _, err := h.l.rendition(id); err != nil {
		http.NotFound(w, req)
		return
	}
	now := h.l.clock.Now()
	requestable, _ := h.l.Available(n, now)
	if !requestable {
		first := h.l.available(n, 0)
		if n < h.l.epoch.StartNumber || !first.After(now) {
			http.Error(w, "segment gone", http.StatusGone)
			return
		}
		if first.Sub(now) > h.hold {
			http.Error(w, "segment not available yet", http.StatusNotFound)
			return
		}
		if err := h.l.waitUntil(req.Context(), first); err != nil {
			return // the client left
		}
	}
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "max-age=60")
	// WriteSegment sends chunks that are complete at once and the rest on
	// their schedule; an error after the first byte can only end the response.
	_ = h.l.WriteSegment(req.Context(), w, id, n)
}

func isUnknown(err error) bool { return errors.Is(err, ErrUnknownRendition) }

// timeURL is the absolute URL of the handler's time endpoint, as seen by the
// client that asked for the manifest.
func timeURL(req *http.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	dir := req.URL.Path[:strings.LastIndexByte(req.URL.Path, '/')+1]
	return scheme + "://" + req.Host + dir + "time"
}
