//go:build linux

package ktls_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/edgekit/edgekit/ktls"
)

// A plain HTTP server on a ktls Listener serves file ranges by sendfile.
func ExampleServeFile() {
	f, cleanup := exampleFile("init+segment-0001")
	defer cleanup()

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
