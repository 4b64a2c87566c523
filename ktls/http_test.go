package ktls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// served records what a ServeFile handler saw.
type served struct {
	method ktls.Method
	info   ktls.Info
}

// startServer runs Serve with a ServeFile handler for f on loopback.
func startServer(t *testing.T, cfg *tls.Config, opts *ktls.Options, f *os.File, size int64) (string, <-chan served) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := make(chan served, 16)
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/iso.segment")
		m := ktls.ServeFile(w, r, "seg.m4s", mod, f, 0, size)
		c, ok := ktls.ConnFromContext(r.Context())
		if !ok {
			t.Errorf("no *ktls.Conn in the request context")
			return
		}
		log <- served{m, c.Info()}
	})}
	done := make(chan error, 1)
	go func() { done <- ktls.Serve(srv, ln, cfg, opts) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/seg.m4s", scheme, ln.Addr()), log
}

func testServerConfig(t *testing.T) (*tls.Config, *http.Client) {
	cert, pool := selfSigned(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return cfg, &http.Client{Transport: tr}
}

func TestServeFile(t *testing.T) {
	f, data := tempFile(t, 1<<20)
	tlsCfg, tlsClient := testServerConfig(t)
	plainTr := &http.Transport{}
	t.Cleanup(plainTr.CloseIdleConnections)
	plainClient := &http.Client{Transport: plainTr}
	cases := []struct {
		name       string
		cfg        *tls.Config
		opts       *ktls.Options
		client     *http.Client
		wantMethod ktls.Method
		wantMode   ktls.Mode
	}{
		{"plain", nil, nil, plainClient, ktls.MethodSendfile, ktls.ModePlain},
		{"tls-userspace", tlsCfg, &ktls.Options{DisableKernel: true}, tlsClient, ktls.MethodCopy, ktls.ModeUserspace},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, log := startServer(t, tc.cfg, tc.opts, f, int64(len(data)))
			reqs := []struct {
				name, rng  string
				status     int
				from, upto int
			}{
				{"full", "", 200, 0, len(data)},
				{"range", "bytes=1000-300000", 206, 1000, 300001},
				{"suffix", "bytes=-5", 206, len(data) - 5, len(data)},
			}
			for _, rq := range reqs {
				req, _ := http.NewRequest("GET", url, nil)
				if rq.rng != "" {
					req.Header.Set("Range", rq.rng)
				}
				resp, err := tc.client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", rq.name, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != rq.status {
					t.Fatalf("%s: status %d err %v, want %d", rq.name, resp.StatusCode, err, rq.status)
				}
				if resp.ProtoMajor != 1 {
					t.Fatalf("%s: served over %s; ktls connections must stay HTTP/1.1", rq.name, resp.Proto)
				}
				if want := data[rq.from:rq.upto]; !bytes.Equal(body, want) {
					t.Fatalf("%s: got %d bytes, want %d", rq.name, len(body), len(want))
				}
				s := <-log
				if s.method != tc.wantMethod || s.info.Mode != tc.wantMode {
					t.Fatalf("%s: method %v mode %v, want %v %v", rq.name, s.method, s.info.Mode, tc.wantMethod, tc.wantMode)
				}
			}
		})
	}
}

// TestServeFileNoBody: HEAD and a satisfied conditional request send no
// body, and ServeFile says nothing went by sendfile.
func TestServeFileNoBody(t *testing.T) {
	f, data := tempFile(t, 100_000)
	url, log := startServer(t, nil, nil, f, int64(len(data)))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat)
	for _, tc := range []struct {
		name, method, ims string
		status            int
	}{
		{"head", "HEAD", "", 200},
		{"not-modified", "GET", mod, 304},
	} {
		req, _ := http.NewRequest(tc.method, url, nil)
		if tc.ims != "" {
			req.Header.Set("If-Modified-Since", tc.ims)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || len(body) != 0 {
			t.Fatalf("%s: status %d with %d body bytes, want %d and none", tc.name, resp.StatusCode, len(body), tc.status)
		}
		if s := <-log; s.method != ktls.MethodCopy {
			t.Fatalf("%s: method %v, want copy (nothing sent by sendfile)", tc.name, s.method)
		}
	}
}

func TestFileServer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.m4s"), []byte("segment-a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ktls.FileServer(root)}
	go func() { _ = ktls.Serve(srv, ln, nil, nil) }()
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/a.m4s", 200, "segment-a"},
		{"/missing", 404, ""},
		{"/sub", 404, ""},
		{"/", 404, ""},
		{"/../../etc/passwd", 404, ""},
	} {
		resp, err := cl.Get("http://" + ln.Addr().String() + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 200 && string(b) != tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
	}
}
