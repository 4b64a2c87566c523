package edgecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgekit/edgekit/coalesce"
	"github.com/edgekit/edgekit/examples/internal/msttl"
)

// upstreamError is a failed upstream attempt; timeout marks a stall.
type upstreamError struct {
	via     string
	timeout bool
	err     error
}

func (u *upstreamError) Error() string { return "upstream " + u.via + ": " + u.err.Error() }
func (u *upstreamError) Unwrap() error { return u.err }

// errUpstream5xx is the error of an upstream that answered with a 5xx.
var errUpstream5xx = errors.New("edgekit/examples/edgecache: upstream answered 5xx")

// downSet remembers peers that failed recently, so requests skip them for a
// while instead of each paying a connect timeout.
type downSet struct {
	now func() time.Time
	mu  sync.Mutex // guards m
	m   map[string]time.Time
}

func newDownSet(now func() time.Time) *downSet {
	return &downSet{now: now, m: make(map[string]time.Time)}
}

func (d *downSet) isDown(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	until, ok := d.m[id]
	return ok && d.now().Before(until)
}

func (d *downSet) mark(id string) {
	d.mu.Lock()
	d.m[id] = d.now().Add(DefaultPeerDownFor)
	d.mu.Unlock()
}

// fill fetches key for a flight. A request from a peer, or a key this edge
// owns, goes to the origin; otherwise to the owner, then the next members of
// the key's LocateN list when one fails, and to the origin when all fail.
func (e *Edge) fill(ctx context.Context, key, flightKey string, fromPeer bool, w *coalesce.Writer[*head]) error {
	// A flight whose last viewer hung up leaves the map at once, but its
	// fill goes on to store a body it already holds whole; a request in
	// that window starts this flight. Wait for that fill before looking in
	// the cache, or both fetch. (Only fills of the same flight key wait on
	// each other, and an origin fill never waits on a peer fill, so two
	// edges cannot wait on each other through this.)
	prev, done := e.fills.enter(flightKey)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			// This fill gives up, but the one before it still runs: closing
			// done now would let the next fill in the chain miss the cache
			// and fetch again. Close it when prev closes (the goroutine
			// lives no longer than the chain's running fill).
			go func() {
				<-prev
				e.fills.exit(flightKey, done)
			}()
			return ctx.Err()
		}
	}
	defer e.fills.exit(flightKey, done)
	// A request that missed the cache just as the previous flight for key
	// stored its body and ended starts a new flight; the body is here now.
	// (The previous flight stores before it ends, so a flight that starts
	// after it always finds the body.)
	if ent := e.cache.get(key); ent != nil {
		defer ent.release()
		return e.fillFromCache(ent, w)
	}
	var order []string
	if !fromPeer {
		order = e.ring.LocateNString(key, e.ring.Len())
	}
	var last error
	for i, member := range order {
		if member == e.cfg.Self {
			break // we own it (or every member before us failed): go to the origin
		}
		if e.down.isDown(member) {
			continue
		}
		resp, err := e.get(ctx, strings.TrimSuffix(member, "/")+key, HopHeader, "1")
		if err == nil {
			e.m.peerFetches.Add(1)
			if i > 0 {
				e.m.peerFailovers.Add(1)
			}
			return e.relay(ctx, key, member, "", resp, w)
		}
		e.m.upstreamErrors.Add(1)
		e.down.mark(member)
		e.log.Warn("peer failed; trying the next member", "peer", member, "path", key, "err", err)
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	u := *e.origin
	u.Path = strings.TrimSuffix(u.Path, "/") + key
	resp, err := e.get(ctx, u.String())
	e.m.originFetches.Add(1)
	if err != nil {
		e.m.upstreamErrors.Add(1)
		if last != nil {
			err = fmt.Errorf("%w (after peer failure: %v)", err, last)
		}
		return err
	}
	return e.relay(ctx, key, "origin", u.String(), resp, w)
}

// fillSet tracks the fills running per flight key. Its zero value is ready
// to use; it is safe for concurrent use.
type fillSet struct {
	mu sync.Mutex               // guards m
	m  map[string]chan struct{} // flight key → done channel of its latest fill
}

// enter registers a fill of key and returns the done channel of the fill
// of key that was running before it (nil if none), and its own, which
// exit closes. Fills of one key thus form a chain, each waiting for the
// one before.
func (s *fillSet) enter(key string) (prev, done chan struct{}) {
	done = make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]chan struct{})
	}
	prev = s.m[key]
	s.m[key] = done
	return prev, done
}

// exit ends the fill that enter gave done.
func (s *fillSet) exit(key string, done chan struct{}) {
	s.mu.Lock()
	if s.m[key] == done {
		delete(s.m, key)
	}
	s.mu.Unlock()
	close(done)
}

// fillFromCache serves a flight from a cached entry instead of upstream.
func (e *Edge) fillFromCache(ent *entry, w *coalesce.Writer[*head]) error {
	e.m.refilled.Add(1)
	hd := &head{status: ent.status, ctype: ent.ctype, length: ent.size, ttl: ent.expires.Sub(e.cfg.Now()), via: "cache", file: ent.bf}
	w.SizeHint(ent.size)
	if err := w.SetHeader(hd); err != nil {
		return err
	}
	if ent.file == nil {
		_, err := w.Write(ent.body)
		return err
	}
	_, err := io.Copy(w, io.NewSectionReader(ent.file, 0, ent.size))
	return err
}

// get sends one upstream GET with the header fields hdr (name, value
// pairs). A 5xx answer counts as a failure (the body is drained); 2xx, 3xx
// and 4xx are answers to relay.
func (e *Edge) get(ctx context.Context, url string, hdr ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		var ne interface{ Timeout() bool }
		return nil, &upstreamError{via: url, timeout: errors.As(err, &ne) && ne.Timeout(), err: err}
	}
	if resp.StatusCode >= 500 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &upstreamError{via: url, err: fmt.Errorf("%w: %s", errUpstream5xx, resp.Status)}
	}
	return resp, nil
}

// relay publishes the response head, streams the body into the flight and,
// if the body arrived whole and may be cached, stores it.
//
// url is the origin URL the response came from, for resuming a body cut
// short; "" for a peer's response, which is never resumed.
func (e *Edge) relay(ctx context.Context, key, via, url string, resp *http.Response, w *coalesce.Writer[*head]) error {
	defer resp.Body.Close()
	ttl := msttl.Get(resp.Header)
	hd := &head{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), length: resp.ContentLength, ttl: ttl, via: via}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		hd.loc = resp.Header.Get("Location") // the client follows it, not the edge
	}
	if resp.ContentLength > e.cfg.MaxObjectBytes {
		return &upstreamError{via: via, err: fmt.Errorf("body of %d bytes is over the %d-byte limit", resp.ContentLength, e.cfg.MaxObjectBytes)}
	}
	if resp.ContentLength > 0 {
		w.SizeHint(resp.ContentLength)
	}
	// A body the cache will keep as a file is written to one as it
	// arrives, and viewers send it from there (see bodyFile); any other
	// is collected in memory for the cache.
	var buf bytes.Buffer
	var sink io.Writer = &buf
	var bf *bodyFile
	if e.cache.wantsFile(resp.StatusCode, resp.ContentLength, ttl) {
		if f, err := e.cache.newBodyFile(); err == nil {
			bf, sink, hd.file = f, f, f
			defer bf.release()
		} else {
			e.log.Warn("cannot create a body file; caching in memory", "path", key, "err", err)
		}
	}
	if err := w.SetHeader(hd); err != nil {
		return err
	}
	if ttl <= 0 {
		w.SetLinger(0)
	}
	stallFor := e.cfg.StallTimeout
	if url == "" && e.cfg.ResumeAttempts > 0 {
		// A peer resuming its own origin fetch sends nothing for up to
		// its StallTimeout before it asks for the rest: give it that long
		// again, or this edge would cut its viewers just before the bytes
		// come back.
		stallFor *= 2
	}
	stall := newStallReader(resp.Body, stallFor)
	defer func() { stall.stop() }() // stall is replaced when the body is resumed
	total := resp.ContentLength
	n, fromBody, err := copyBody(w, sink, stall, total)
	// An origin body cut short is resumed where it stopped (see
	// Config.ResumeAttempts); a peer's is not: the peer resumes its own
	// origin fetch, and a peer that died has nothing to resume from.
	validator := ""
	if url != "" && resp.StatusCode == http.StatusOK && total > 0 {
		validator = resumeValidator(resp.Header)
	}
	for tries := 0; validator != "" && n < total && fromBody && tries < e.cfg.ResumeAttempts && ctx.Err() == nil; tries++ {
		if tries > 0 && !sleepCtx(ctx, time.Duration(tries)*resumePause) {
			break
		}
		e.m.resumes.Add(1)
		e.m.upstreamErrors.Add(1)
		e.log.Warn("upstream body cut short; resuming", "path", key, "bytes", n, "of", total, "err", err, "stalled", stall.stalled())
		rest, retry, rerr := e.getRest(ctx, url, validator, n, total)
		if rerr != nil {
			err = rerr
			if !retry {
				break
			}
			continue
		}
		stall.stop()
		stall = newStallReader(rest, e.cfg.StallTimeout)
		var m int64
		m, fromBody, err = copyBody(w, sink, stall, total-n)
		rest.Close()
		n += m
		if n == total {
			e.m.resumed.Add(1)
		}
	}
	e.m.bytesIn.Add(n)
	kept := int64(buf.Len())
	if bf != nil {
		kept = bf.written
	}
	if total >= 0 && n == total && kept == n {
		// Every promised byte is in the flight and in buf, so the body is
		// whole whatever else the copy reports: the flight's Writer checks
		// its context before the read that would return io.EOF, and that
		// context ends when the last viewer, holding the whole body, hangs up.
		err = nil
	}
	if err == nil && total >= 0 && n != total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		e.m.upstreamErrors.Add(1)
		if stall.stalled() {
			err = &upstreamError{via: via, timeout: true, err: fmt.Errorf("body stalled for %v after %d bytes", stallFor, n)}
		}
		e.log.Warn("upstream body incomplete; not cached", "path", key, "via", via, "bytes", n, "err", err)
		return err
	}
	switch {
	case bf != nil && bf.broken.Load():
		e.log.Warn("body file write failed; not cached", "path", key, "bytes", n)
	case bf != nil:
		e.cache.putFile(key, hd.ctype, bf, n, ttl)
	case cacheable(resp.StatusCode):
		e.cache.put(key, resp.StatusCode, hd.ctype, buf.Bytes(), ttl)
	}
	if resp.ContentLength >= 0 {
		// Let the transport see io.EOF so that it can reuse the connection;
		// the body is whole whatever this read returns.
		var one [1]byte
		_, _ = resp.Body.Read(one[:])
	}
	return nil
}

// cacheable reports whether a whole body of status may be stored. Never a
// 3xx: its Location would have to be stored too, and it is the origin's
// answer to one request, not the object.
func cacheable(status int) bool {
	return status == http.StatusOK || status == http.StatusNotFound || status == http.StatusGone
}

// stallReader ends a body that delivers nothing for timeout by cancelling
// its request: an origin that stalls mid-body must not hold a flight, and
// every viewer on it, forever.
type stallReader struct {
	r       io.Reader
	timer   *time.Timer
	timeout time.Duration
	mu      sync.Mutex // guards fired
	fired   bool
	close   func()
}

func newStallReader(body io.ReadCloser, timeout time.Duration) *stallReader {
	s := &stallReader{r: body, timeout: timeout}
	s.close = func() { body.Close() }
	s.timer = time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.fired = true
		s.mu.Unlock()
		s.close()
	})
	return s
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.timeout)
	}
	return n, err
}

func (s *stallReader) stop() { s.timer.Stop() }

func (s *stallReader) stalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

// resumePause times the attempt number: the wait before each resume
// after the first, which goes at once.
const resumePause = 250 * time.Millisecond

// sleepCtx waits d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errNoResume: the origin did not answer a resume with exactly the bytes
// asked for (a 200 because the object changed or ranges are not
// supported, or another range).
var errNoResume = errors.New("origin did not resume the body")

// copyBody copies body (at most limit bytes, when limit ≥ 0) into the
// flight w and into sink, and reports whether it stopped because body
// did: a read error, or io.EOF (which a known length makes short), not a
// refusal by w.
//
// It stops at limit instead of at the read that returns io.EOF after it:
// the transport fails that read once the flight's context is cancelled,
// which happens when the last viewer, already holding the whole body,
// hangs up — and a whole body went uncached (the occasional second origin
// fetch right after a miss).
func copyBody(w, sink io.Writer, body io.Reader, limit int64) (n int64, fromBody bool, err error) {
	src := &readErr{r: body}
	var r io.Reader = src
	if limit >= 0 {
		r = io.LimitReader(src, limit)
	}
	n, err = io.Copy(w, io.TeeReader(r, sink))
	return n, src.err != nil || err == nil, err
}

// readErr remembers the first error of r other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// resumeValidator returns the If-Range value that makes a resume safe: the
// response's strong ETag, else its Last-Modified if that is a strong
// validator (RFC 9110 §13.1.5: at least a second older than its Date);
// "" if there is none.
func resumeValidator(h http.Header) string {
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return ""
	}
	if d, err := http.ParseTime(h.Get("Date")); err != nil || d.Sub(lm) < time.Second {
		return ""
	}
	return h.Get("Last-Modified")
}

// getRest asks the origin for bytes from.. of a total-byte body whose
// first response carried validator. It accepts only a 206 with exactly
// that range; retry reports whether another attempt may fare better (a
// transport error or a 5xx, not a wrong answer).
func (e *Edge) getRest(ctx context.Context, url, validator string, from, total int64) (body io.ReadCloser, retry bool, err error) {
	resp, err := e.get(ctx, url, "Range", "bytes="+strconv.FormatInt(from, 10)+"-", "If-Range", validator)
	if err != nil {
		return nil, true, err // a transport error or a 5xx
	}
	want := fmt.Sprintf("bytes %d-%d/%d", from, total-1, total)
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want ||
		(resp.ContentLength >= 0 && resp.ContentLength != total-from) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, false, &upstreamError{via: url,
			err: fmt.Errorf("%w: %s with Content-Range %q, want 206 with %q", errNoResume, resp.Status, resp.Header.Get("Content-Range"), want)}
	}
	return resp.Body, false, nil
}
