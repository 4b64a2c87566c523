// Package msttl carries cache lifetimes between the example origin and
// edges at millisecond grain. Cache-Control's max-age counts whole seconds,
// too coarse for a 2 s segment's manifest or for a 404 that must expire just
// before its segment is due (Netflix added millisecond-grain caching to its
// nginx-based Open Connect for the same reason), so the lifetime also goes
// in Header, and caches that know it prefer it.
package msttl

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header holds a cache lifetime in milliseconds.
const Header = "Edgekit-Max-Age-Ms"

// Set writes lifetime d to h: Header at millisecond grain and Cache-Control
// rounded up to whole seconds; d <= 0 means no-store.
func Set(h http.Header, d time.Duration) {
	if d <= 0 {
		h.Del(Header)
		h.Set("Cache-Control", "no-store")
		return
	}
	ms := max(d.Milliseconds(), 1)
	h.Set(Header, strconv.FormatInt(ms, 10))
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt((ms+999)/1000, 10))
}

// maxDelta is the largest lifetime Get returns, in seconds (RFC 9111's
// 2^31).
const maxDelta = 1 << 31

// Get reads the lifetime from h: 0 for no-store, no-cache or private, else
// Header when present and valid, else Cache-Control max-age, else 0.
func Get(h http.Header) time.Duration {
	cc := h.Get("Cache-Control")
	var maxAge time.Duration
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		switch d {
		case "no-store", "no-cache", "private":
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
				// RFC 9111 §1.2.2: a delta-seconds too large to represent
				// means 2^31 seconds; clamping also keeps the Duration
				// from overflowing into a tiny or negative lifetime.
				maxAge = time.Duration(min(s, maxDelta)) * time.Second
			}
		}
	}
	if v := h.Get(Header); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
			return time.Duration(min(ms, maxDelta*1000)) * time.Millisecond
		}
	}
	return maxAge
}
