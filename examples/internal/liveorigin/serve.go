package liveorigin

import (
	"bytes"
	"fmt"
	"hash/crc64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgekit/edgekit/examples/internal/msttl"
	"github.com/edgekit/edgekit/segment"
)

// MaxAgeHeader carries cache lifetimes at millisecond grain (see msttl).
const MaxAgeHeader = msttl.Header

// segmentTTL is how long a published segment may be cached: it never
// changes once published.
const segmentTTL = 24 * time.Hour

type stats struct {
	published, late, defects, refused atomic.Int64
	manifestGets, segmentGets         atomic.Int64
	held, heldTimeouts, gone          atomic.Int64
}

// setTTL writes a cache lifetime at millisecond grain.
func setTTL(w http.ResponseWriter, d time.Duration) { msttl.Set(w.Header(), d) }

// serveLive handles GET/HEAD /live/<channel>/...
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	chName, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/live/"), "/")
	if !nameRE.MatchString(chName) {
		s.refuse(w, r, http.StatusBadRequest, "bad channel name")
		return
	}
	now := s.cfg.Now()
	if rest == "time" {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, now.UTC().Format("2006-01-02T15:04:05.000Z"))
		return
	}
	ch := s.lookup(chName)
	if ch == nil {
		setTTL(w, time.Second)
		http.Error(w, "no such channel", http.StatusNotFound)
		return
	}
	switch {
	case rest == "manifest.mpd":
		s.serveManifest(w, r, ch, "application/dash+xml", func(m *segment.Manifest) ([]byte, error) { return m.MPD(now) })
	case rest == "master.m3u8":
		s.serveManifest(w, r, ch, "application/vnd.apple.mpegurl", func(m *segment.Manifest) ([]byte, error) { return m.MultivariantPlaylist() })
	case strings.HasSuffix(rest, ".m3u8") && !strings.Contains(rest, "/"):
		id := strings.TrimSuffix(rest, ".m3u8")
		s.serveManifest(w, r, ch, "application/vnd.apple.mpegurl", func(m *segment.Manifest) ([]byte, error) { return m.MediaPlaylist(id, now) })
	default:
		rid, file, ok := strings.Cut(rest, "/")
		if !ok || !nameRE.MatchString(rid) {
			s.refuse(w, r, http.StatusBadRequest, "bad rendition path")
			return
		}
		if file == "init.mp4" {
			s.serveInit(w, r, ch, rid)
			return
		}
		num, isSeg := strings.CutSuffix(file, ".m4s")
		n, err := strconv.ParseUint(num, 10, 64)
		if !isSeg || err != nil || len(num) > 12 {
			s.refuse(w, r, http.StatusBadRequest, "bad segment name")
			return
		}
		s.serveSegment(w, r, ch, rid, n)
	}
}

// manifest builds the channel's Manifest for the window around now.
func (s *Server) manifest(ch *channel, now time.Time) *segment.Manifest {
	latest, _ := s.epoch.Latest(now)
	win := s.windowSegments()
	from := uint64(0)
	if latest > win {
		from = latest - win
	}
	m := &segment.Manifest{Epoch: s.epoch, TimeShiftBufferDepth: s.cfg.Window}
	ch.mu.Lock()
	ids := make([]string, 0, len(ch.renditions))
	for id := range ch.renditions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rd := ch.renditions[id]
		in := rd.initLocked(s.cfg.Pipelines)
		if in == nil {
			continue
		}
		segs := rd.windowLocked(from, latest+1, s.cfg.Pipelines)
		if len(segs) == 0 {
			continue // not live (yet, or any more)
		}
		m.Renditions = append(m.Renditions, segment.Rendition{ID: id, Track: in.Tracks[0], Segments: segs})
	}
	ch.mu.Unlock()
	return m
}

func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, ch *channel, ctype string, render func(*segment.Manifest) ([]byte, error)) {
	s.stats.manifestGets.Add(1)
	m := s.manifest(ch, s.cfg.Now())
	if len(m.Renditions) == 0 {
		setTTL(w, s.cfg.SegmentDuration/2)
		http.Error(w, "channel not live", http.StatusNotFound)
		return
	}
	b, err := render(m)
	if err != nil {
		setTTL(w, s.cfg.SegmentDuration/2)
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	setTTL(w, s.cfg.SegmentDuration/2)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (s *Server) serveInit(w http.ResponseWriter, r *http.Request, ch *channel, rid string) {
	ch.mu.Lock()
	var in *segment.Init
	if rd := ch.renditions[rid]; rd != nil {
		in = rd.initLocked(s.cfg.Pipelines)
	}
	ch.mu.Unlock()
	if in == nil {
		setTTL(w, time.Second)
		http.Error(w, "no such rendition", http.StatusNotFound)
		return
	}
	b := in.Bytes()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	// An init may change when an encoder restarts with other settings;
	// keep it to a few segments.
	setTTL(w, 4*s.cfg.SegmentDuration)
	_, _ = w.Write(b)
}

// serveSegment answers a segment request: at once when it is published,
// held open when it is one of the next two at the live edge (for HoldOpen
// past one segment before its availability time), 404 when it is further
// ahead (cached until it could be held for), 410 when it left the window.
func (s *Server) serveSegment(w http.ResponseWriter, r *http.Request, ch *channel, rid string, n uint64) {
	now := s.cfg.Now()
	latest, _ := s.epoch.Latest(now)
	if win := s.windowSegments(); n+win < latest {
		s.stats.gone.Add(1)
		setTTL(w, segmentTTL)
		http.Error(w, "segment left the window", http.StatusGone)
		return
	}
	// Segments may arrive up to one segment before their availability time
	// (an anchored encoder session, see the package doc), so the next two
	// numbers are held; anything further ahead is refused at once.
	d := s.cfg.SegmentDuration
	if n > latest+2 {
		// Not due yet: cacheable until it could be held for.
		setTTL(w, s.epoch.AvailabilityTime(n).Add(-2*d).Sub(now))
		http.Error(w, "segment not available yet", http.StatusNotFound)
		return
	}
	holdFrom := s.epoch.AvailabilityTime(n).Add(-d)
	if holdFrom.Before(now) {
		holdFrom = now
	}
	hold := holdFrom.Add(s.cfg.HoldOpen).Sub(now)
	ch.mu.Lock()
	rd := ch.renditions[rid]
	if rd == nil {
		ch.mu.Unlock()
		setTTL(w, time.Second)
		http.Error(w, "no such rendition", http.StatusNotFound)
		return
	}
	sl := rd.slotLocked(n)
	ready := sl.ready
	ch.mu.Unlock()
	select {
	case <-ready:
	default:
		s.stats.held.Add(1)
		t := time.NewTimer(hold)
		select {
		case <-ready:
			t.Stop()
		case <-t.C:
			s.stats.heldTimeouts.Add(1)
			setTTL(w, 250*time.Millisecond)
			http.Error(w, "segment not published in time", http.StatusNotFound)
			return
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	ch.mu.Lock()
	pipe, _, ok := rd.selectLocked(n, s.cfg.Pipelines)
	if ok {
		sl.fetch++
	}
	ch.mu.Unlock()
	if !ok {
		setTTL(w, 250*time.Millisecond)
		http.Error(w, "no valid candidate", http.StatusNotFound)
		return
	}
	body, err := s.segmentBody(r.Context(), ch.name, rid, n, pipe)
	if err != nil {
		s.log.Error("segment read failed", "channel", ch.name, "rendition", rid, "number", n, "pipeline", pipe, "err", err)
		http.Error(w, "segment read failed", http.StatusServiceUnavailable)
		return
	}
	s.stats.segmentGets.Add(1)
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("X-Edgekit-Pipeline", pipe)
	// A strong ETag of the bytes themselves (two pipelines' copies of a
	// segment differ), so that an edge whose fetch was cut can ask for the
	// rest with Range and If-Range and be sure it gets the same segment's.
	h.Set("ETag", segmentETag(n, body))
	setTTL(w, segmentTTL)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// segmentETag is the strong entity tag of segment n's body b:
//
//	"<n>-<len(b) hex>-<CRC-64/ECMA of b, hex>"
func segmentETag(n uint64, b []byte) string {
	// MakeTable returns the crc64 package's own table for ECMA.
	return fmt.Sprintf(`"%d-%x-%016x"`, n, len(b), crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)))
}

// Fetches reports how many times segment n of rendition rid of channel was
// served with a body, or -1 if the origin has no such slot.
func (s *Server) Fetches(channel, rid string, n uint64) int {
	ch := s.lookup(channel)
	if ch == nil {
		return -1
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	rd := ch.renditions[rid]
	if rd == nil || rd.slots[n] == nil {
		return -1
	}
	return rd.slots[n].fetch
}

// Stats is a snapshot of the origin's counters; a plain value.
type Stats struct {
	Published, Late, Defects, Refused int64
	ManifestGets, SegmentGets         int64
	Held, HeldTimeouts, Gone          int64
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Published: s.stats.published.Load(), Late: s.stats.late.Load(), Defects: s.stats.defects.Load(), Refused: s.stats.refused.Load(),
		ManifestGets: s.stats.manifestGets.Load(), SegmentGets: s.stats.segmentGets.Load(),
		Held: s.stats.held.Load(), HeldTimeouts: s.stats.heldTimeouts.Load(), Gone: s.stats.gone.Load(),
	}
}

func (s *Server) serveMetrics(w http.ResponseWriter) {
	st := s.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, m := range []struct {
		name, help string
		v          int64
	}{
		{"origin_segments_published_total", "Segment numbers that got their first valid candidate.", st.Published},
		{"origin_segments_late_total", "Segments stored after their availability time plus half a segment.", st.Late},
		{"origin_segments_defective_total", "Defective segments stored.", st.Defects},
		{"origin_requests_refused_total", "Requests refused with a 4xx.", st.Refused},
		{"origin_manifest_requests_total", "Manifest requests.", st.ManifestGets},
		{"origin_segment_bodies_total", "Segment requests answered with a body.", st.SegmentGets},
		{"origin_held_requests_total", "Segment requests held open for the next segment.", st.Held},
		{"origin_held_timeouts_total", "Held requests that timed out.", st.HeldTimeouts},
		{"origin_gone_total", "Requests for segments that left the window (410).", st.Gone},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", m.name, m.help, m.name, m.name, m.v)
	}
}
