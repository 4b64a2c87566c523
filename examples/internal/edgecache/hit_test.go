package edgecache_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
)

// TestHitResponses: a disk hit answers a plain GET from the prebuilt header
// and by sendfile, and still answers ranges, preconditions and HEAD as
// http.ServeContent does.
func TestHitResponses(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	p := "/live/ch1/0/42.m4s"
	body := segmentBody(p)
	if code, b, _ := get(t, tr.urls[0]+p); code != 200 || !bytes.Equal(b, body) {
		t.Fatalf("miss: got %d", code)
	}
	_, _, hit := get(t, tr.urls[0]+p)
	hits := int64(1)
	lastMod := hit.Get("Last-Modified")
	if _, err := http.ParseTime(lastMod); err != nil {
		t.Fatalf("Last-Modified %q: %v", lastMod, err)
	}
	for _, tc := range []struct {
		name     string
		method   string
		hdr      map[string]string
		status   int
		body     []byte
		sendfile int64 // hits counted as sent by sendfile
	}{
		{"plain GET", "GET", nil, 200, body, 1},
		{"HEAD", "HEAD", nil, 200, nil, 0},
		{"range", "GET", map[string]string{"Range": "bytes=10-19"}, 206, body[10:20], 1},
		{"suffix range", "GET", map[string]string{"Range": "bytes=-5"}, 206, body[len(body)-5:], 1},
		{"unsatisfiable range", "GET", map[string]string{"Range": "bytes=999999999-"}, 416, nil, 0},
		{"not modified", "GET", map[string]string{"If-Modified-Since": lastMod}, 304, nil, 0},
		{"if-range stale", "GET", map[string]string{"Range": "bytes=0-1", "If-Range": "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, body, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tr.urls[0]+p, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			// The counters move just after the response is sent: wait for
			// the previous request's to land before taking the snapshot.
			before := settled(t, tr.edges[0], hits)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || (tc.status != 416 && !bytes.Equal(b, tc.body)) {
				t.Fatalf("got %d with %d bytes, want %d with %d", resp.StatusCode, len(b), tc.status, len(tc.body))
			}
			h := resp.Header
			// (http.ServeContent drops Cache-Control from its 416 error.)
			if h.Get("X-Cache") != "HIT" || h.Get("Access-Control-Allow-Origin") != "*" || (tc.status != 416 && h.Get("Cache-Control") == "") {
				t.Errorf("X-Cache %q, Access-Control-Allow-Origin %q, Cache-Control %q", h.Get("X-Cache"), h.Get("Access-Control-Allow-Origin"), h.Get("Cache-Control"))
			}
			if tc.status == 200 {
				want := map[string]string{"Content-Type": "video/mp4", "Content-Length": strconv.Itoa(len(body)), "Last-Modified": lastMod, "Accept-Ranges": "bytes"}
				for k, v := range want {
					if got := h.Get(k); got != v {
						t.Errorf("%s: got %q want %q", k, got, v)
					}
				}
			}
			hits++
			after := settled(t, tr.edges[0], hits)
			if got := after.SendFile - before.SendFile; got != tc.sendfile {
				t.Errorf("sendfile hits: got %d want %d", got, tc.sendfile)
			}
		})
	}
	if c := o.count(p); c != 1 {
		t.Errorf("origin fetches: got %d want 1", c)
	}
}

// settled waits up to two seconds for e to count hits hits (a hit is counted
// after its body is sent, its sendfile-or-copy count just before) and
// returns the stats then.
func settled(t *testing.T, e *edgecache.Edge, hits int64) edgecache.Stats {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := e.Stats()
		if st.Hits == hits {
			return st
		}
		if st.Hits > hits || time.Now().After(deadline) {
			t.Fatalf("hits: got %d want %d", st.Hits, hits)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHitKeepAlive: many hits in a row on one connection, each read to the
// exact Content-Length, so a body one byte long or short shows up as a
// garbled next response.
func TestHitKeepAlive(t *testing.T) {
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	p := "/live/ch1/0/43.m4s"
	get(t, tr.urls[0]+p)
	c, err := net.Dial("tcp", tr.urls[0][len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		method := "GET"
		if i%5 == 4 {
			method = "HEAD"
		}
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, p)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := segmentBody(p)
		if method == "HEAD" {
			want = nil
		}
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, want) || resp.Close {
			t.Fatalf("response %d (%s): status %d, %d bytes, close %v, err %v", i, method, resp.StatusCode, len(b), resp.Close, err)
		}
	}
}
