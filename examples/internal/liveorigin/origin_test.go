package liveorigin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/liveorigin"
	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/segment"
)

const (
	vodDir = "../../../segment/testdata/vod"
	token  = "s3cret"
	ch     = "ch1"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// live is the number that has just become available at the test's start.
const live = 1_000_000

func loop(t testing.TB) *segment.Loop {
	t.Helper()
	a, err := segment.LoadDASH(os.DirFS(vodDir), "manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	l, err := segment.NewLoop(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type fixture struct {
	t     *testing.T
	srv   *liveorigin.Server
	clk   *clock
	loop  *segment.Loop
	store kv.Store
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, store kv.Store, cfg liveorigin.Config) *fixture {
	t.Helper()
	l := loop(t)
	clk := &clock{}
	clk.Set(l.Epoch().AvailabilityTime(live).Add(100 * time.Millisecond))
	if store == nil {
		store = kvtest.NewMemStore()
	}
	logs := &bytes.Buffer{}
	cfg.Store = store
	cfg.Tokens = map[string]string{ch: token}
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	if cfg.Pipelines == nil {
		cfg.Pipelines = []string{"a", "b"}
	}
	srv, err := liveorigin.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, clk: clk, loop: l, store: store, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *fixture) do(method, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) put(pipe, name string, body []byte) *httptest.ResponseRecorder {
	return f.do(http.MethodPut, "/ingest/"+ch+"/"+pipe+"/"+name, body, "X-Ingest-Token", token)
}

func (f *fixture) mustPut(pipe, name string, body []byte, want int) {
	f.t.Helper()
	if rec := f.put(pipe, name, body); rec.Code != want {
		f.t.Fatalf("PUT %s/%s: got %d %q, want %d", pipe, name, rec.Code, rec.Body.String(), want)
	}
}

func (f *fixture) pushInits(pipe string, rids ...string) {
	f.t.Helper()
	for _, r := range rids {
		b, err := f.loop.Init(r)
		if err != nil {
			f.t.Fatal(err)
		}
		f.mustPut(pipe, "init-"+r+".mp4", b, http.StatusCreated)
	}
}

func (f *fixture) seg(rid string, n uint64) []byte {
	f.t.Helper()
	b, err := f.loop.Segment(rid, n)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func TestIngestAndServe(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{})
	f.pushInits("a", "0", "3")
	for n := uint64(live - 3); n <= live; n++ {
		for _, r := range []string{"0", "3"} {
			f.mustPut("a", fmt.Sprintf("seg-%s-%d.m4s", r, n), f.seg(r, n), http.StatusCreated)
		}
	}
	t.Run("segment", func(t *testing.T) {
		rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live), nil)
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), f.seg("0", live)) {
			t.Fatalf("got %d, %d bytes; want 200 and the pushed %d bytes", rec.Code, rec.Body.Len(), len(f.seg("0", live)))
		}
		if got := rec.Header().Get(liveorigin.MaxAgeHeader); got != "86400000" {
			t.Errorf("segment max-age ms: got %q want 86400000", got)
		}
	})
	t.Run("resume", func(t *testing.T) {
		// An edge whose fetch was cut asks for the rest with the ETag.
		want := f.seg("0", live)
		p := fmt.Sprintf("/live/%s/0/%d.m4s", ch, live)
		etag := f.do(http.MethodGet, p, nil).Header().Get("ETag")
		if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
			t.Fatalf("segment ETag %q, want a strong one", etag)
		}
		rec := f.do(http.MethodGet, p, nil, "Range", "bytes=1001-", "If-Range", etag)
		if rec.Code != http.StatusPartialContent || !bytes.Equal(rec.Body.Bytes(), want[1001:]) ||
			rec.Header().Get("Content-Range") != fmt.Sprintf("bytes 1001-%d/%d", len(want)-1, len(want)) {
			t.Fatalf("Range with the ETag: got %d, Content-Range %q, %d bytes", rec.Code, rec.Header().Get("Content-Range"), rec.Body.Len())
		}
		// Another segment's ETag (another body): the whole segment.
		other := f.do(http.MethodGet, fmt.Sprintf("/live/%s/3/%d.m4s", ch, live), nil).Header().Get("ETag")
		if other == etag {
			t.Fatalf("two different segments share the ETag %s", etag)
		}
		rec = f.do(http.MethodGet, p, nil, "Range", "bytes=1001-", "If-Range", other)
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("Range with a stale ETag: got %d, %d bytes; want 200 and the whole segment", rec.Code, rec.Body.Len())
		}
	})
	t.Run("init", func(t *testing.T) {
		rec := f.do(http.MethodGet, "/live/"+ch+"/3/init.mp4", nil)
		want, _ := f.loop.Init("3")
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("got %d, want 200 and the pushed init", rec.Code)
		}
	})
	t.Run("mpd", func(t *testing.T) {
		rec := f.do(http.MethodGet, "/live/"+ch+"/manifest.mpd", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, want := range []string{`type="dynamic"`, `availabilityStartTime="2020-01-01T00:00:00`, `<Representation id="0"`, `<Representation id="3"`, `mp4a.40.2`} {
			if !strings.Contains(body, want) {
				t.Errorf("MPD lacks %s:\n%s", want, body)
			}
		}
		if got := rec.Header().Get(liveorigin.MaxAgeHeader); got != "1000" {
			t.Errorf("manifest max-age ms: got %q want 1000 (half a segment)", got)
		}
	})
	t.Run("hls", func(t *testing.T) {
		rec := f.do(http.MethodGet, "/live/"+ch+"/master.m3u8", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "0.m3u8") {
			t.Fatalf("master: got %d %s", rec.Code, rec.Body)
		}
		rec = f.do(http.MethodGet, "/live/"+ch+"/0.m3u8", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), fmt.Sprintf("0/%d.m4s", live)) {
			t.Fatalf("media playlist: got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("window", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			n    uint64
			want int
		}{
			{"far-ahead", live + 5, http.StatusNotFound},
			{"gone", live - 100, http.StatusGone},
		} {
			start := time.Now()
			rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, tc.n), nil)
			if rec.Code != tc.want {
				t.Errorf("%s: got %d want %d", tc.name, rec.Code, tc.want)
			}
			if time.Since(start) > time.Second {
				t.Errorf("%s: answered after %v, want at once", tc.name, time.Since(start))
			}
		}
		rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live+5), nil)
		// Due (holdable) two segments before its availability time.
		want := f.loop.Epoch().AvailabilityTime(live + 5).Add(-4 * time.Second).Sub(f.clk.Now()).Milliseconds()
		if got := rec.Header().Get(liveorigin.MaxAgeHeader); got != fmt.Sprint(want) {
			t.Errorf("404 max-age ms: got %s want %d", got, want)
		}
	})
	if st := f.srv.Stats(); st.Published != 8 || st.Defects != 0 {
		t.Errorf("stats: got %+v, want 8 published, 0 defects", st)
	}
}

func TestHoldOpen(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{HoldOpen: 3 * time.Second})
	f.pushInits("a", "0")
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live), http.StatusCreated)
	next := uint64(live + 1)
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, next), nil)
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		done <- rec
	}()
	// The request must still be waiting while the segment is not there.
	select {
	case rec := <-done:
		t.Fatalf("answered %d before the segment arrived", rec.Code)
	case <-time.After(200 * time.Millisecond):
	}
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", next), f.seg("0", next), http.StatusCreated)
	select {
	case rec := <-done:
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), f.seg("0", next)) {
			t.Fatalf("held request: got %d (%d bytes), want 200 with the segment", rec.Code, rec.Body.Len())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held request not answered after the segment arrived")
	}

	t.Run("timeout", func(t *testing.T) {
		f := newFixture(t, nil, liveorigin.Config{HoldOpen: 100 * time.Millisecond})
		f.pushInits("a", "0")
		rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live+1), nil)
		if rec.Code != http.StatusNotFound || rec.Header().Get(liveorigin.MaxAgeHeader) != "250" {
			t.Fatalf("got %d (max-age %q), want 404 cacheable for 250 ms", rec.Code, rec.Header().Get(liveorigin.MaxAgeHeader))
		}
		if st := f.srv.Stats(); st.HeldTimeouts != 1 {
			t.Fatalf("HeldTimeouts: got %d want 1", st.HeldTimeouts)
		}
	})
}

// TestEncoderTimeAnchored pushes ffmpeg-made VoD segments whose tfdt starts
// at 0 (as ffmpeg 5.1's dash muxer writes them) and checks that the origin
// maps them onto the epoch and rewrites tfdt to match.
func TestEncoderTimeAnchored(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{})
	initB, err := os.ReadFile(filepath.Join(vodDir, "init-0.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := segment.InspectInit(initB)
	if err != nil {
		t.Fatal(err)
	}
	f.mustPut("a", "init-stream0.m4s", initB, http.StatusCreated)
	var numbers []string
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(vodDir, fmt.Sprintf("seg-0-%d.m4s", i)))
		if err != nil {
			t.Fatal(err)
		}
		rec := f.put("a", fmt.Sprintf("chunk-stream0-%05d.m4s", i), b)
		if rec.Code != http.StatusCreated {
			t.Fatalf("segment %d: got %d %s", i, rec.Code, rec.Body)
		}
		numbers = append(numbers, rec.Header().Get("X-Edgekit-Number"))
	}
	// The first segment goes into the first slot not yet available.
	want := []string{fmt.Sprint(live + 1), fmt.Sprint(live + 2), fmt.Sprint(live + 3)}
	if strings.Join(numbers, ",") != strings.Join(want, ",") {
		t.Fatalf("numbers: got %v want %v", numbers, want)
	}
	rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live+1), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET: %d", rec.Code)
	}
	info := segment.Inspect(in, rec.Body.Bytes(), nil)
	ref, _ := info.Reference()
	if got, want := ref.Seconds(ref.BaseMediaDecodeTime), f.loop.Epoch().MediaTime(live+1); got != want {
		t.Fatalf("served tfdt: got %v want %v (epoch media time of %d)", got, want, live+1)
	}

	t.Run("restart", func(t *testing.T) {
		// A new init after media: a new session, anchored afresh.
		f.clk.Advance(10 * time.Second)
		f.mustPut("a", "init-stream0.m4s", initB, http.StatusCreated)
		b, _ := os.ReadFile(filepath.Join(vodDir, "seg-0-1.m4s"))
		rec := f.put("a", "chunk-stream0-00001.m4s", b)
		if rec.Code != http.StatusCreated || rec.Header().Get("X-Edgekit-Number") != fmt.Sprint(live+6) {
			t.Fatalf("after restart: got %d number %s, want 201 number %d", rec.Code, rec.Header().Get("X-Edgekit-Number"), live+6)
		}
	})
}

// TestPipelineSelection: pipeline a is first in order but has a gap at one
// number; that number is served from b, the others from a.
func TestPipelineSelection(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{})
	f.pushInits("a", "0")
	f.pushInits("b", "0")
	for n := uint64(live - 3); n <= live; n++ {
		f.mustPut("b", fmt.Sprintf("seg-0-%d.m4s", n), f.seg("0", n), http.StatusCreated)
	}
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live-3), f.seg("0", live-3), http.StatusCreated)
	// a skips live-2: live-1 arrives after a gap and is stored as defective.
	rec := f.put("a", fmt.Sprintf("seg-0-%d.m4s", live-1), f.seg("0", live-1))
	if rec.Code != http.StatusAccepted || !strings.Contains(rec.Header().Get("X-Edgekit-Defects"), "gap") {
		t.Fatalf("gap segment: got %d defects %q, want 202 with a gap", rec.Code, rec.Header().Get("X-Edgekit-Defects"))
	}
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live), http.StatusCreated)
	for _, tc := range []struct {
		n    uint64
		want string
	}{{live - 3, "a"}, {live - 2, "b"}, {live - 1, "b"}, {live, "a"}} {
		rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, tc.n), nil)
		if rec.Code != http.StatusOK || rec.Header().Get("X-Edgekit-Pipeline") != tc.want {
			t.Errorf("segment %d: got %d from %q, want 200 from %q", tc.n, rec.Code, rec.Header().Get("X-Edgekit-Pipeline"), tc.want)
		}
	}
	if st := f.srv.Stats(); st.Defects != 1 {
		t.Errorf("defects: got %d want 1", st.Defects)
	}
}

// TestRestartReloads stores through kv/local, reopens everything and serves
// the same window.
func TestRestartReloads(t *testing.T) {
	dir := t.TempDir()
	store, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, store, liveorigin.Config{})
	f.pushInits("a", "0")
	for n := uint64(live - 2); n <= live; n++ {
		f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", n), f.seg("0", n), http.StatusCreated)
	}
	mpd := f.do(http.MethodGet, "/live/"+ch+"/manifest.mpd", nil).Body.String()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store2, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	g := newFixture(t, store2, liveorigin.Config{})
	g.clk.Set(f.clk.Now())
	if got := g.do(http.MethodGet, "/live/"+ch+"/manifest.mpd", nil).Body.String(); !sameMPD(got, mpd) {
		t.Fatalf("MPD after restart differs:\n%s\nwant\n%s", got, mpd)
	}
	rec := g.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live-1), nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), f.seg("0", live-1)) {
		t.Fatalf("segment after restart: got %d", rec.Code)
	}
}

// sameMPD compares MPDs without their publish and timing instants.
func sameMPD(a, b string) bool {
	strip := func(s string) string {
		if i := strings.Index(s, "publishTime="); i >= 0 {
			s = s[:i] + s[i+40:]
		}
		if i := strings.Index(s, "<UTCTiming"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	return strip(a) == strip(b)
}

// TestStoreFailure: a kv write that fails answers 503 and leaves nothing
// half-published; the encoder's retry succeeds.
func TestStoreFailure(t *testing.T) {
	fs := kvtest.NewFaultStore(kvtest.NewMemStore())
	f := newFixture(t, fs, liveorigin.Config{HoldOpen: 50 * time.Millisecond})
	f.pushInits("a", "0")
	fs.FailAfter(0)
	rec := f.put("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("PUT with failing store: got %d want 503", rec.Code)
	}
	if rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live), nil); rec.Code != http.StatusNotFound {
		t.Fatalf("GET after failed store: got %d want 404", rec.Code)
	}
	fs.FailAfter(-1)
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live), http.StatusCreated)
	if rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live), nil); rec.Code != http.StatusOK {
		t.Fatalf("GET after retry: got %d want 200", rec.Code)
	}
}

// TestEncoderDelete: ffmpeg deletes segments that left its own window; the
// origin acknowledges and keeps serving what is in its window.
func TestEncoderDelete(t *testing.T) {
	f := newFixture(t, nil, liveorigin.Config{})
	f.pushInits("a", "0")
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live), http.StatusCreated)
	for _, name := range []string{fmt.Sprintf("seg-0-%d.m4s", live), "manifest.mpd", "init-0.mp4"} {
		if rec := f.do(http.MethodDelete, "/ingest/"+ch+"/a/"+name, nil, "X-Ingest-Token", token); rec.Code != http.StatusNoContent {
			t.Fatalf("DELETE %s: got %d want 204", name, rec.Code)
		}
	}
	if rec := f.do(http.MethodDelete, "/ingest/"+ch+"/a/manifest.mpd", nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("DELETE without token: got %d want 401", rec.Code)
	}
	if rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live), nil); rec.Code != http.StatusOK {
		t.Fatalf("GET after the encoder's DELETE: got %d want 200", rec.Code)
	}
}
