package liveorigin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/segment"
)

var (
	initRE  = regexp.MustCompile(`^init-(?:stream)?([A-Za-z0-9][A-Za-z0-9_]{0,63})\.(?:m4s|mp4|cmfv|cmfa|init)$`)
	mediaRE = regexp.MustCompile(`^(?:seg-|chunk-stream)([A-Za-z0-9][A-Za-z0-9_]{0,63})-[0-9]{1,12}\.(?:m4s|mp4|cmfv|cmfa)$`)
)

// epochSnap is how close an encoder's media time must be to the epoch clock
// for the origin to take it as epoch-stamped (offset 0).
const epochSnap = time.Minute

// serveIngest handles PUT/POST/DELETE /ingest/<channel>/<pipeline>/<name>.
func (s *Server) serveIngest(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/ingest/"), "/")
	if len(parts) != 3 || !nameRE.MatchString(parts[0]) || !nameRE.MatchString(parts[1]) {
		s.refuse(w, r, http.StatusBadRequest, "bad ingest path (want /ingest/<channel>/<pipeline>/<name>, names [A-Za-z0-9_])")
		return
	}
	chName, pipe, name := parts[0], parts[1], parts[2]
	if code, why := s.authorize(r, chName); code != 0 {
		s.refuse(w, r, code, why)
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
	case http.MethodDelete:
		// The origin expires segments itself (kv TTL, serving window); an
		// encoder's DELETE of its own old object changes nothing served.
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "PUT, POST, DELETE")
		s.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if strings.HasSuffix(name, ".mpd") || strings.HasSuffix(name, ".m3u8") {
		// The encoder's own manifests: the origin renders its own.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	m := initRE.FindStringSubmatch(name)
	isInit := m != nil
	if !isInit {
		m = mediaRE.FindStringSubmatch(name)
	}
	if m == nil {
		s.refuse(w, r, http.StatusBadRequest, "unrecognized object name "+fmt.Sprintf("%q", name))
		return
	}
	rid := m[1]
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxBodySize))
			return
		}
		s.refuse(w, r, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if isInit {
		s.ingestInit(w, r, chName, pipe, rid, body)
		return
	}
	s.ingestMedia(w, r, chName, pipe, rid, body)
}

// storeContext is the context of an ingest's kv writes: once the body is
// in, the write finishes even if the encoder hangs up without reading the
// answer (ffmpeg does), but it is bounded.
func storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
}

// authorize checks the channel's ingest token; code 0 means allowed.
func (s *Server) authorize(r *http.Request, ch string) (int, string) {
	want, ok := s.cfg.Tokens[ch]
	if !ok {
		want = s.cfg.AnyChannelToken
	}
	got := r.Header.Get("X-Ingest-Token")
	if got == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			got = strings.TrimPrefix(a, "Bearer ")
		}
	}
	switch {
	case want == "":
		return http.StatusForbidden, "channel not open for ingest"
	case got == "":
		return http.StatusUnauthorized, "missing ingest token"
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return http.StatusForbidden, "wrong ingest token"
	}
	return 0, ""
}

func (s *Server) ingestInit(w http.ResponseWriter, r *http.Request, chName, pipe, rid string, body []byte) {
	in, err := segment.InspectInit(body)
	if err != nil {
		s.rec.Record(r.Context(), Event{Kind: EventDefect, Channel: chName, Rendition: rid, Pipeline: pipe, Detail: "init: " + err.Error()})
		s.refuse(w, r, http.StatusUnsupportedMediaType, "init segment: "+err.Error())
		return
	}
	if len(in.Tracks) != 1 {
		s.refuse(w, r, http.StatusUnsupportedMediaType, fmt.Sprintf("init segment has %d tracks, want 1 (CMAF)", len(in.Tracks)))
		return
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	if err := s.kv.Put(ctx, nsMeta, "channels", []byte(chName), []byte{}); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if err := s.kv.Put(ctx, nsInit, chName+"/"+rid, []byte(pipe), body); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	ch := s.channel(chName)
	ch.mu.Lock()
	rd := ch.renditionLocked(rid)
	rd.inits[pipe] = in
	// A new init begins a new session for this rendition: its media time
	// need not continue the previous one, so no gap check against it.
	delete(rd.last, pipe)
	if a := ch.anchors[pipe]; a != nil && a.media[rid] {
		// This rendition already sent media under the anchor: the encoder
		// restarted, and the media time of all its renditions starts over.
		delete(ch.anchors, pipe)
		for _, r := range ch.renditions {
			delete(r.last, pipe)
		}
	}
	ch.mu.Unlock()
	s.log.Info("init stored", "channel", chName, "pipeline", pipe, "rendition", rid, "codec", in.Tracks[0].Codec, "bytes", len(body))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) ingestMedia(w http.ResponseWriter, r *http.Request, chName, pipe, rid string, body []byte) {
	ctx, cancel := storeContext(r)
	defer cancel()
	now := s.cfg.Now()
	ch := s.lookup(chName)
	var init *segment.Init
	var prev *segment.Info
	if ch != nil {
		ch.mu.Lock()
		if rd := ch.renditions[rid]; rd != nil {
			init, prev = rd.inits[pipe], rd.last[pipe]
		}
		ch.mu.Unlock()
	}
	if init == nil {
		s.refuse(w, r, http.StatusPreconditionFailed, "no init segment for rendition "+rid+" from pipeline "+pipe)
		return
	}
	// A first look without the previous segment: framing and the raw
	// decode time, before any offset is applied.
	raw := segment.Inspect(init, body, nil)
	if d, bad := framingDefect(raw); bad {
		s.rec.Record(ctx, Event{Kind: EventDefect, Channel: chName, Rendition: rid, Pipeline: pipe, Detail: d.String()})
		s.refuse(w, r, http.StatusBadRequest, "malformed segment: "+d.String())
		return
	}
	ref, ok := raw.Reference()
	if !ok {
		s.refuse(w, r, http.StatusBadRequest, "segment has no track")
		return
	}
	offset := s.anchor(ch, pipe, rid, ref.Seconds(ref.BaseMediaDecodeTime), now)
	if err := shiftTfdt(body, init, offset); err != nil {
		s.rec.Record(ctx, Event{Kind: EventDefect, Channel: chName, Rendition: rid, Pipeline: pipe, Detail: err.Error()})
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	info := segment.Inspect(init, body, prev)
	_ = s.epoch.Lock(info) // off-grid and duration problems become defects in info
	n := info.Number
	latest, _ := s.epoch.Latest(now)
	if win := s.windowSegments(); n+win < latest || n > latest+win {
		s.rec.Record(ctx, Event{Kind: EventDefect, Channel: chName, Rendition: rid, Pipeline: pipe, Number: n, Detail: "outside the window"})
		s.refuse(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("segment %d is outside the window around the live edge %d", n, latest))
		return
	}
	meta, err := info.MarshalBinary()
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	ttl := kv.WithTTL(s.cfg.Window + 10*time.Minute)
	err = s.kv.Mutate(ctx, nsSeg, segID(chName, rid, n), []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("b/" + pipe), Value: body},
		{Op: kv.OpPut, Key: []byte("i/" + pipe), Value: meta},
	}, ttl)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	ch.mu.Lock()
	rd := ch.renditionLocked(rid)
	published := rd.addLocked(pipe, info)
	rd.last[pipe] = info
	if win := s.windowSegments(); latest > 2*win {
		rd.pruneLocked(latest - 2*win)
	}
	ch.mu.Unlock()

	avail := s.epoch.AvailabilityTime(n)
	if published {
		s.stats.published.Add(1)
		s.rec.Record(ctx, Event{Kind: EventPublished, Channel: chName, Rendition: rid, Pipeline: pipe, Number: n, Size: len(body)})
	}
	if now.After(avail.Add(s.cfg.SegmentDuration / 2)) {
		s.stats.late.Add(1)
		s.rec.Record(ctx, Event{Kind: EventLate, Channel: chName, Rendition: rid, Pipeline: pipe, Number: n, Detail: now.Sub(avail).String() + " after availability"})
	}
	if !info.Valid() {
		s.stats.defects.Add(1)
		detail := info.Err().Error()
		s.rec.Record(ctx, Event{Kind: EventDefect, Channel: chName, Rendition: rid, Pipeline: pipe, Number: n, Detail: detail})
		s.log.Warn("defective segment stored", "channel", chName, "pipeline", pipe, "rendition", rid, "number", n, "defects", detail)
		w.Header().Set("X-Edgekit-Defects", sanitizeHeader(detail))
		w.Header().Set("X-Edgekit-Number", fmt.Sprint(n))
		w.WriteHeader(http.StatusAccepted)
		return
	}
	s.log.Debug("segment stored", "channel", chName, "pipeline", pipe, "rendition", rid, "number", n, "bytes", len(body))
	w.Header().Set("X-Edgekit-Number", fmt.Sprint(n))
	w.WriteHeader(http.StatusCreated)
}

// anchor returns the media-time offset of pipeline's current session,
// deciding it on the session's first media segment (see the package doc).
func (s *Server) anchor(ch *channel, pipe, rid string, start time.Duration, now time.Time) time.Duration {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	a := ch.anchors[pipe]
	if a == nil {
		a = &anchor{media: make(map[string]bool)}
		clock := now.Sub(s.epoch.Start)
		if diff := start - clock; diff < -epochSnap || diff > epochSnap {
			// Put the segment into the first slot whose availability time is
			// not before now: it is complete, so it can be served at once.
			k := uint64(0)
			if l, ok := s.epoch.Latest(now); ok {
				k = l
				if s.epoch.AvailabilityTime(l).Before(now) {
					k = l + 1
				}
			}
			a.offset = (s.epoch.MediaTime(k) - start).Round(time.Millisecond)
		}
		ch.anchors[pipe] = a
		s.log.Info("ingest session anchored", "channel", ch.name, "pipeline", pipe, "offset", a.offset)
	}
	a.media[rid] = true
	return a.offset
}

// framingDefect reports the first defect that makes a body unusable (as
// opposed to a timing or content defect, which is stored and reported).
func framingDefect(info *segment.Info) (segment.Defect, bool) {
	for _, d := range info.Defects {
		switch d.Kind {
		case segment.DefectTruncated, segment.DefectMalformed, segment.DefectTrunExceedsMdat, segment.DefectTrackMismatch:
			return d, true
		}
	}
	return segment.Defect{}, false
}

func (s *Server) windowSegments() uint64 {
	return uint64(s.cfg.Window / s.cfg.SegmentDuration)
}

// refuse answers a request with a clear status and one log line.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	s.stats.refused.Add(1)
	s.log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "status", code, "reason", why)
	http.Error(w, why, code)
}

func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("store failed", "path", r.URL.Path, "err", err)
	http.Error(w, "store failed", http.StatusServiceUnavailable)
}

// sanitizeHeader keeps a defect list printable in one header line.
func sanitizeHeader(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, s)
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}
