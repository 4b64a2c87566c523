package edgecache_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/ktls"
)

// rawExchange sends reqs on one connection at once (pipelined) and reads
// the responses in order.
func rawExchange(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var all bytes.Buffer
	for _, r := range reqs {
		all.WriteString(r)
	}
	if _, err := c.Write(all.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for i, r := range reqs {
		method, _, _ := bytes.Cut([]byte(r), []byte(" "))
		resp, err := http.ReadResponse(br, &http.Request{Method: string(method)})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", i, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

// untilHit requests url until it is a hit: a body is stored just after its
// last byte reaches the first viewers.
func untilHit(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, h := get(t, url); h.Get("X-Cache") == "HIT" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no hit within 5s", url)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	return b
}

// TestLaneMatchesHandler: a hit answered by the lane (first request on a
// connection) and the same hit answered by the handler (after /healthz
// handed the connection to net/http) carry the same status, headers (but
// Date) and body, for disk and memory entries, GET and HEAD.
func TestLaneMatchesHandler(t *testing.T) {
	small := bytes.Repeat([]byte("m"), 1000) // below DiskMin: kept in memory
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live/ch1/small.mpd" {
			w.Header().Set("Content-Type", "application/dash+xml")
			w.Header().Set(edgecache.MaxAgeHeader, "60000")
			_, _ = w.Write(small)
			return
		}
		slowSegment(w, r)
	})
	tr := newTier(t, o.srv.URL, 1, nil)
	addr := tr.urls[0][len("http://"):]
	for _, p := range []string{"/live/ch1/0/7.m4s", "/live/ch1/small.mpd"} {
		untilHit(t, tr.urls[0]+p)
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+p, func(t *testing.T) {
				req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, p, addr)
				lane := rawExchange(t, addr, req)[0]
				viaHTTP := rawExchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", req)[1]
				if lane.StatusCode != 200 || viaHTTP.StatusCode != 200 {
					t.Fatalf("status: lane %d, net/http %d", lane.StatusCode, viaHTTP.StatusCode)
				}
				for _, h := range []http.Header{lane.Header, viaHTTP.Header} {
					if _, err := http.ParseTime(h.Get("Date")); err != nil {
						t.Errorf("Date %q: %v", h.Get("Date"), err)
					}
					h.Del("Date")
					// The lifetime left moves on between the two requests.
					h.Del(edgecache.MaxAgeHeader)
				}
				if !equalHeaders(lane.Header, viaHTTP.Header) {
					t.Errorf("headers differ:\nlane     %v\nnet/http %v", lane.Header, viaHTTP.Header)
				}
				if lb, hb := body(t, lane), body(t, viaHTTP); !bytes.Equal(lb, hb) || method == "GET" && len(lb) == 0 {
					t.Errorf("bodies: lane %d bytes, net/http %d", len(lb), len(hb))
				}
			})
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestLaneHandsOver: pipelined on one connection, lane hits, a miss (which
// hands the connection and the bytes already read to net/http) and the
// requests after it are all answered, in order, with the right bodies.
func TestLaneHandsOver(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	addr := tr.urls[0][len("http://"):]
	hit, miss := "/live/ch1/0/1.m4s", "/live/ch1/0/2.m4s"
	untilHit(t, tr.urls[0]+hit)
	var reqs []string
	for _, p := range []string{hit, hit, miss, hit, "/live/ch1/../x.m4s", hit} {
		reqs = append(reqs, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	resps := rawExchange(t, addr, reqs...)
	for i, want := range []struct {
		code  int
		cache string
		path  string
	}{{200, "HIT", hit}, {200, "HIT", hit}, {200, "MISS", miss}, {200, "HIT", hit}, {400, "", ""}, {200, "HIT", hit}} {
		r := resps[i]
		if r.StatusCode != want.code || r.Header.Get("X-Cache") != want.cache || want.path != "" && !bytes.Equal(body(t, r), segmentBody(want.path)) {
			t.Errorf("response %d: got %d X-Cache %q, want %d %q", i, r.StatusCode, r.Header.Get("X-Cache"), want.code, want.cache)
		}
	}
}

// listenLane returns a lane of e on a loopback listener (one minute idle,
// five seconds for a request head), and the listener under it.
func listenLane(t *testing.T, e *edgecache.Edge) (*edgecache.Lane, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return e.Lane(ktls.NewListener(ln, nil, nil), time.Minute, 5*time.Second), ln
}

// TestLaneClose: closing the lane ends its idle connections, makes Accept
// fail, and leaves no lane goroutine behind.
func TestLaneClose(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	e, err := edgecache.New(edgecache.Config{Origin: o.srv.URL, Self: "http://self", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lane, ln := listenLane(t, e)
	accepted := make(chan error, 1)
	go func() {
		_, err := lane.Accept()
		accepted <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the lane pick it up and wait for a request
	if err := lane.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection after Close: read %d, %v; want EOF", n, err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: got %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

// TestLaneCloseStuckWriter: Close ends a lane connection stuck sending a
// hit to a client that stopped reading (after a grace period), so its
// goroutine and its reference to the entry do not live on.
func TestLaneCloseStuckWriter(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 32<<20) // more than the socket buffers on both sides hold
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(edgecache.MaxAgeHeader, "60000")
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	})
	e, err := edgecache.New(edgecache.Config{Origin: o.srv.URL, Self: "http://self", CacheDir: t.TempDir(),
		MaxObjectBytes: 64 << 20, MemoryBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lane, ln := listenLane(t, e)
	srv := &http.Server{Handler: e, ConnContext: lane.ConnContext}
	go srv.Serve(lane)
	defer srv.Close()
	p := "/live/ch1/0/big.m4s"
	untilHit(t, "http://"+ln.Addr().String()+p)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p); err != nil {
		t.Fatal(err)
	}
	// Never read: the lane blocks once the socket buffers are full.
	time.Sleep(200 * time.Millisecond)
	if !laneServing() {
		t.Fatal("no lane goroutine serving the stuck connection")
	}
	if err := lane.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for laneServing() {
		if time.Now().After(deadline) {
			t.Fatal("a lane goroutine still serves the connection 15s after Close")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// laneServing reports whether any goroutine is in a lane's serve loop.
func laneServing() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("edgecache.(*Lane).serve"))
}

// TestLaneMissMatchesHandler: misses answered by the lane — pipelined on
// one connection that the lane keeps — carry the same status, headers (but
// Date) and body as the same misses answered by net/http, for a cacheable
// 200, a negative-cached 404, a no-store 200, a relayed redirect and an
// upstream failure, GET and HEAD.
func TestLaneMissMatchesHandler(t *testing.T) {
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		_, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/live/"), "/")
		switch strings.TrimSuffix(name, ".m4s") {
		case "ok", "okhead":
			slowSegment(w, r)
		case "missing":
			w.Header().Set(edgecache.MaxAgeHeader, "60000")
			http.Error(w, "not yet", http.StatusNotFound)
		case "nostore":
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = w.Write(bytes.Repeat([]byte("n"), 40<<10))
		case "moved":
			http.Redirect(w, r, "/live/elsewhere/x.m4s", http.StatusFound)
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	})
	e, err := edgecache.New(edgecache.Config{Origin: o.srv.URL, Self: "http://self", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	lane, ln := listenLane(t, e)
	var handed atomic.Int64
	srv := &http.Server{Handler: e, ConnContext: lane.ConnContext, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handed.Add(1)
		}
	}}
	go srv.Serve(lane)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	names := []string{"ok", "missing", "nostore", "moved", "fail"}
	methods := []string{"GET", "GET", "GET", "GET", "GET"}
	names, methods = append(names, "okhead", "fail"), append(methods, "HEAD", "HEAD")
	var laneReqs []string
	for i, n := range names {
		laneReqs = append(laneReqs, fmt.Sprintf("%s /live/lane%d/%s.m4s HTTP/1.1\r\nHost: x\r\n\r\n", methods[i], i, n))
	}
	viaLane := rawExchange(t, addr, laneReqs...)
	if n := handed.Load(); n != 0 {
		t.Fatalf("%d connections handed to net/http; the lane should answer every miss itself", n)
	}
	for i, n := range names {
		// X-Other is a header the lane does not take: net/http answers.
		req := fmt.Sprintf("%s /live/http%d/%s.m4s HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\n\r\n", methods[i], i, n)
		viaHTTP := rawExchange(t, addr, req)[0]
		l := viaLane[i]
		if l.StatusCode != viaHTTP.StatusCode {
			t.Errorf("%s %s: status lane %d, net/http %d", methods[i], n, l.StatusCode, viaHTTP.StatusCode)
		}
		for _, h := range []http.Header{l.Header, viaHTTP.Header} {
			if _, err := http.ParseTime(h.Get("Date")); err != nil {
				t.Errorf("%s %s: Date %q: %v", methods[i], n, h.Get("Date"), err)
			}
			h.Del("Date")
		}
		if !equalHeaders(l.Header, viaHTTP.Header) {
			t.Errorf("%s %s: headers differ:\nlane     %v\nnet/http %v", methods[i], n, l.Header, viaHTTP.Header)
		}
		lb, hb := body(t, l), body(t, viaHTTP)
		// The 200 bodies name their paths; compare them to what the origin sent.
		if n == "ok" {
			hb = segmentBody(fmt.Sprintf("/live/lane%d/ok.m4s", i))
		}
		if !bytes.Equal(lb, hb) || methods[i] == "HEAD" && len(lb) != 0 {
			t.Errorf("%s %s: bodies: lane %d bytes, net/http %d", methods[i], n, len(lb), len(hb))
		}
	}
	if n := handed.Load(); n != int64(len(names)) {
		t.Errorf("%d connections handed to net/http, want %d (one per X-Other request)", n, len(names))
	}
	if st := e.Stats(); st.MissSendFile != 2 {
		t.Errorf("miss bodies by sendfile: %d, want 2 (the two GETs of the cacheable 200)", st.MissSendFile)
	}
}
