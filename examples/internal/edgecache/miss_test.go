package edgecache_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
)

// TestMissHeadBeforeBody: a viewer of a miss gets the response head as
// soon as the origin's head arrives, before any body byte: the origin
// holds its body until the viewer has the head.
func TestMissHeadBeforeBody(t *testing.T) {
	const p = "/live/ch1/0/700.m4s"
	body := segmentBody(p)
	release := make(chan struct{})
	o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set(edgecache.MaxAgeHeader, "60000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body)
	})
	tr := newTier(t, o.srv.URL, 1, nil)
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get(tr.urls[0] + p)
		got <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("no response head within 10 s while the origin held its body: the head waits for body bytes")
	}
	close(release)
	if a.err != nil {
		t.Fatalf("GET: %v", a.err)
	}
	defer a.resp.Body.Close()
	if a.resp.StatusCode != http.StatusOK || a.resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("head: status %d X-Cache %q, want 200 MISS", a.resp.StatusCode, a.resp.Header.Get("X-Cache"))
	}
	b, err := io.ReadAll(a.resp.Body)
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("body: %d bytes, %v; want the origin's %d", len(b), err, len(body))
	}
	// The whole body was cached: the next viewer is a hit.
	code, b, h := get(t, tr.urls[0]+p)
	if code != http.StatusOK || h.Get("X-Cache") != "HIT" || !bytes.Equal(b, body) {
		t.Fatalf("second GET: %d X-Cache %q, %d bytes; want a 200 HIT of %d", code, h.Get("X-Cache"), len(b), len(body))
	}
	if c := o.count(p); c != 1 {
		t.Fatalf("origin fetches: got %d want 1", c)
	}
}

// TestMissBatchKeepsTail: a body that trickles in, in pieces far smaller
// than the edge's write batch, reaches the viewer whole, tail included,
// while the origin is still holding its connection after the last byte
// (with a Content-Length) — the batch never waits for more than the body
// has. Without a Content-Length the tail goes when the origin ends.
func TestMissBatchKeepsTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length bool
		size   int
	}{
		{"content-length, tail under a batch", true, 3*65536 + 1000},
		{"content-length, body under a batch", true, 5000},
		{"chunked", false, 2*65536 + 77},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fmt.Sprintf("/live/ch1/0/%d.m4s", 710+tc.size%97)
			body := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			hold := make(chan struct{})
			defer close(hold)
			o := newFakeOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/mp4")
				if tc.length {
					w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				}
				w.Header().Set(edgecache.MaxAgeHeader, "60000")
				for i := 0; i < len(body); i += 1000 {
					_, _ = w.Write(body[i:min(i+1000, len(body))])
					w.(http.Flusher).Flush()
					time.Sleep(time.Millisecond / 4)
				}
				if !tc.length {
					return // the end of a chunked body is the end of the response
				}
				select { // the last byte is sent; the connection stays open
				case <-hold:
				case <-r.Context().Done():
				}
			})
			tr := newTier(t, o.srv.URL, 1, nil)
			c := &http.Client{Timeout: 20 * time.Second}
			resp, err := c.Get(tr.urls[0] + p)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(b, body) {
				t.Fatalf("body: %d bytes, %v; want %d (the tail was withheld?)", len(b), err, len(body))
			}
		})
	}
}

// TestMissBodyFromFile: viewers of a miss whose body the cache will keep
// as a file are sent the body from that file by sendfile as it arrives,
// not copied from memory, and every one gets it whole.
func TestMissBodyFromFile(t *testing.T) {
	const p, viewers = "/live/ch1/0/720.m4s", 20
	body := segmentBody(p)
	o := newFakeOrigin(t, slowSegment)
	tr := newTier(t, o.srv.URL, 1, nil)
	errs := make(chan error, viewers)
	for range viewers {
		go func() {
			resp, err := http.Get(tr.urls[0] + p)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && !bytes.Equal(b, body) {
				err = fmt.Errorf("body: %d bytes differ from the origin's %d (X-Cache %s)", len(b), len(body), resp.Header.Get("X-Cache"))
			}
			errs <- err
		}()
	}
	for range viewers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if c := o.count(p); c != 1 {
		t.Errorf("origin fetches: got %d want 1", c)
	}
	st := tr.edges[0].Stats()
	if st.MissSendFile == 0 || st.MissCopied != 0 || st.MissSendFile+st.SendFile != viewers {
		t.Errorf("miss bodies by sendfile %d, by copy %d, hits by sendfile %d; want every one of the %d by sendfile, at least one a miss",
			st.MissSendFile, st.MissCopied, st.SendFile, viewers)
	}
}
