package liveorigin_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/httpserve"
	"github.com/edgekit/edgekit/examples/internal/liveorigin"
)

// TestBadInput sends every kind of bad request at a running channel and
// checks the status, the log line, and that what is stored still serves.
func TestBadInput(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{MaxBodySize: 256 << 10, HoldOpen: 50 * time.Millisecond})
	f.pushInits("a", "0")
	good := f.seg("0", live)
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), good, http.StatusCreated)
	seg := fmt.Sprintf("seg-0-%d.m4s", live-1)
	truncated := f.seg("0", live-1)
	truncated = truncated[:len(truncated)/2]
	garbage := bytes.Repeat([]byte("not an mp4 "), 100)
	// A box header claiming 2^31 bytes: framing must refuse it, not allocate.
	hugeBox := append([]byte{0x7f, 0xff, 0xff, 0xff, 'm', 'o', 'o', 'f'}, garbage...)
	tok := []string{"X-Ingest-Token", token}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		hdr                []string
		want               int
		log                string
	}{
		{"no-token", "PUT", "/ingest/ch1/a/" + seg, good, nil, 401, "missing ingest token"},
		{"wrong-token", "PUT", "/ingest/ch1/a/" + seg, good, []string{"X-Ingest-Token", "nope"}, 403, "wrong ingest token"},
		{"bearer-wrong", "PUT", "/ingest/ch1/a/" + seg, good, []string{"Authorization", "Bearer nope"}, 403, "wrong ingest token"},
		{"unknown-channel", "PUT", "/ingest/other/a/" + seg, good, tok, 403, "channel not open"},
		{"traversal-dotdot", "PUT", "/ingest/ch1/a/../../etc/passwd", good, tok, 400, "bad ingest path"},
		{"traversal-encoded", "PUT", "/ingest/ch1/a/..%2f..%2fkv.db", good, tok, 400, "bad ingest path"},
		{"traversal-pipeline", "PUT", "/ingest/ch1/../" + seg, good, tok, 400, "bad ingest path"},
		{"traversal-rendition", "PUT", "/ingest/ch1/a/seg-..-1.m4s", good, tok, 400, "unrecognized object name"},
		{"bad-name", "PUT", "/ingest/ch1/a/segment.bin", good, tok, 400, "unrecognized object name"},
		{"garbage-segment", "PUT", "/ingest/ch1/a/" + seg, garbage, tok, 400, "malformed segment"},
		{"huge-box", "PUT", "/ingest/ch1/a/" + seg, hugeBox, tok, 400, "malformed segment"},
		{"truncated-segment", "PUT", "/ingest/ch1/a/" + seg, truncated, tok, 400, "malformed segment"},
		{"empty-segment", "PUT", "/ingest/ch1/a/" + seg, nil, tok, 400, "malformed segment"},
		{"garbage-init", "PUT", "/ingest/ch1/a/init-0.mp4", garbage, tok, 415, "init segment"},
		{"media-before-init", "PUT", "/ingest/ch1/a/seg-7-1.m4s", good, tok, 412, "no init segment"},
		{"oversized", "PUT", "/ingest/ch1/a/" + seg, make([]byte, 300<<10), tok, 413, "body larger than"},
		{"get-ingest-method", "GET", "/ingest/ch1/a/" + seg, nil, tok, 405, "method not allowed"},
		{"live-traversal", "GET", "/live/ch1/../../etc/passwd", nil, nil, 400, "bad rendition path"},
		{"live-bad-channel", "GET", "/live/..%2f/manifest.mpd", nil, nil, 400, "bad channel name"},
		{"live-bad-number", "GET", "/live/ch1/0/1e9.m4s", nil, nil, 400, "bad segment name"},
		{"live-put", "PUT", "/live/ch1/manifest.mpd", good, tok, 405, "method not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.logs.Reset()
			rec := f.do(tc.method, tc.path, tc.body, tc.hdr...)
			if rec.Code != tc.want {
				t.Fatalf("got %d %q, want %d", rec.Code, rec.Body.String(), tc.want)
			}
			if !strings.Contains(f.logs.String(), tc.log) || !strings.Contains(f.logs.String(), fmt.Sprintf("status=%d", tc.want)) {
				t.Fatalf("log lacks %q / status=%d:\n%s", tc.log, tc.want, f.logs.String())
			}
		})
	}
	// Nothing stored was touched, nothing bad was stored.
	rec := f.do("GET", fmt.Sprintf("/live/ch1/0/%d.m4s", live), nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), good) {
		t.Fatalf("stored segment after bad input: got %d, %d bytes, want 200 and the original", rec.Code, rec.Body.Len())
	}
	if rec := f.do("GET", fmt.Sprintf("/live/ch1/0/%d.m4s", live-1), nil); rec.Code == 200 {
		t.Fatalf("a refused segment is served")
	}
	if st := f.srv.Stats(); st.Published != 1 {
		t.Fatalf("published: got %d want 1", st.Published)
	}
}

// TestSlowClients runs the origin behind the example server settings (with
// shorter timeouts) and checks that a client trickling its headers or body
// is cut off rather than holding a connection forever.
func TestSlowClients(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{})
	srv := httpserve.New(f.srv)
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	srv.ReadTimeout = 500 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		prefix string
	}{
		{"headers", "PUT /ingest/ch1/a/init-0.mp4 HTTP/1.1\r\nHost: x\r\nX-Ingest-Token: s3cret\r\n"},
		{"body", "PUT /ingest/ch1/a/init-0.mp4 HTTP/1.1\r\nHost: x\r\nX-Ingest-Token: s3cret\r\nContent-Length: 100000\r\n\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.prefix); err != nil {
				t.Fatal(err)
			}
			// Keep trickling one byte every 50 ms; the server must give up.
			start := time.Now()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			go func() {
				for i := 0; i < 100; i++ {
					time.Sleep(50 * time.Millisecond)
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
			resp, err := io.ReadAll(bufio.NewReader(c))
			if time.Since(start) > 4*time.Second {
				t.Fatalf("connection held for %v (read err %v)", time.Since(start), err)
			}
			t.Logf("server ended the slow client after %v with %q", time.Since(start).Round(time.Millisecond), firstLine(resp))
		})
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
