package edgecache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// failingWriter accepts left bytes, then fails every write.
type failingWriter struct {
	w    io.Writer
	left int64
}

var errDiskFull = errors.New("injected: no space left on device")

func (f *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= f.left {
		f.left -= int64(len(p))
		return f.w.Write(p)
	}
	n, _ := f.w.Write(p[:f.left])
	f.left = 0
	return n, errDiskFull
}

// serveLane serves e on loopback as examples/edge does (ktls listener and
// lane) and returns its base URL.
func serveLane(t *testing.T, e *Edge) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lane := e.Lane(ktls.NewListener(ln, nil, nil), time.Minute, 5*time.Second)
	srv := &http.Server{Handler: e, ConnContext: lane.ConnContext}
	go srv.Serve(lane)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestBodyFileWriteFails: when writing a miss body's file fails — at its
// first byte or halfway — every viewer still gets the whole body (from
// memory from then on), and the body is not cached, so the next request
// goes to the origin again.
func TestBodyFileWriteFails(t *testing.T) {
	const size = 300 << 10
	for _, failAt := range []int64{0, 100 << 10} {
		t.Run(fmt.Sprintf("after %d bytes", failAt), func(t *testing.T) {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte(i * 7 / 5)
			}
			var fetches atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				w.Header().Set("Content-Length", fmt.Sprint(size))
				w.Header().Set(MaxAgeHeader, "60000")
				for i := 0; i < size; i += 10 << 10 {
					_, _ = w.Write(body[i:min(size, i+10<<10)])
					w.(http.Flusher).Flush()
					time.Sleep(2 * time.Millisecond)
				}
			}))
			t.Cleanup(origin.Close)
			e, err := New(Config{Origin: origin.URL, Self: "http://127.0.0.1:1", CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			var broken atomic.Int64
			e.cache.create = func(name string) (*os.File, io.Writer, error) {
				f, _, err := createFile(name)
				broken.Add(1)
				return f, &failingWriter{w: f, left: failAt}, err
			}
			url := serveLane(t, e) + "/live/c/v/1.m4s"
			const viewers = 8
			errs := make(chan error, viewers)
			for range viewers {
				go func() {
					resp, err := http.Get(url)
					if err != nil {
						errs <- err
						return
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					if err == nil && !bytes.Equal(b, body) {
						err = fmt.Errorf("got %d bytes that differ from the origin's %d", len(b), size)
					}
					errs <- err
				}()
			}
			for range viewers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if broken.Load() != 1 || fetches.Load() != 1 {
				t.Fatalf("%d body files, %d origin fetches; want 1 and 1", broken.Load(), fetches.Load())
			}
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(b, body) || resp.Header.Get("X-Cache") != "MISS" || fetches.Load() != 2 {
				t.Fatalf("after the failed file: X-Cache %q, %d origin fetches, body equal %v; want a MISS (not cached), 2, true",
					resp.Header.Get("X-Cache"), fetches.Load(), bytes.Equal(b, body))
			}
		})
	}
}

// TestBodyFileLifetime: a cached body file outlives its entry's eviction
// while a reader holds it, and goes (closed and removed) with the last
// reference; no reference can be taken after that.
func TestBodyFileLifetime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCache(t.TempDir(), 1<<10, 1<<30, func() time.Time { return now })
	body := bytes.Repeat([]byte("seg"), 1<<12)
	bf, err := c.newBodyFile()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bf.Write(body)
	c.putFile("/k", "video/mp4", bf, int64(len(body)), time.Minute)
	bf.release() // the fill is done; the entry holds the file now
	ent := c.get("/k")
	if ent == nil || ent.file == nil {
		t.Fatal("body file not cached")
	}
	c.close() // evicted while ent is held
	got, err := io.ReadAll(io.NewSectionReader(ent.file, 0, ent.size))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("reading the evicted entry's file: %d bytes, %v", len(got), err)
	}
	name := ent.file.Name()
	if !bf.tryAcquire() {
		t.Fatal("tryAcquire failed while the entry holds the file")
	}
	bf.release()
	ent.release()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("body file still there after its last reference: %v", err)
	}
	if bf.tryAcquire() {
		t.Error("tryAcquire succeeded on a released file")
	}
	// A body whose file write failed, or whose size is not what was
	// written, is not cached.
	for _, tc := range []struct {
		name   string
		broken bool
		size   int64
	}{{"broken", true, int64(len(body))}, {"short", false, int64(len(body)) + 1}} {
		c := newCache(t.TempDir(), 1<<10, 1<<30, func() time.Time { return now })
		bf, err := c.newBodyFile()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = bf.Write(body)
		bf.broken.Store(tc.broken)
		c.putFile("/k", "video/mp4", bf, tc.size, time.Minute)
		if ent := c.get("/k"); ent != nil {
			ent.release()
			t.Errorf("%s: body file cached", tc.name)
		}
		bf.release()
		c.close()
	}
}
