//go:build linux

package ktls_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// A plain HTTP server on a ktls Listener serves file ranges by sendfile.
func ExampleServeFile() {
	dir, _ := os.MkdirTemp("", "ktls")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "seg.m4s")
	_ = os.WriteFile(path, []byte("init+segment-0001"), 0o600)
	f, _ := os.Open(path)
	defer f.Close()

	methods := make(chan ktls.Method, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Serve bytes 5.. of the file: the segment without its init prefix.
		methods <- ktls.ServeFile(w, r, "seg.m4s", time.Time{}, f, 5, 12)
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = ktls.Serve(srv, ln, nil, nil) }()
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/seg.m4s")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body), <-methods)
	// Output: segment-0001 sendfile
}
