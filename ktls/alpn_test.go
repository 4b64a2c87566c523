package ktls_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/edgekit/edgekit/ktls"
)

// TestNoH2 checks that "h2" is never negotiated through a Listener, whether
// the protocols come from the listener's config or from the config that
// GetConfigForClient returns, with and without the kernel: net/http serves
// HTTP/2 only on a *tls.Conn, so a client told "h2" would be answered in
// HTTP/1.1.
func TestNoH2(t *testing.T) {
	cert, pool := selfSigned(t)
	protos := []string{"h2", "http/1.1"}
	configs := map[string]func() *tls.Config{
		"NextProtos": func() *tls.Config {
			return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}
		},
		"GetConfigForClient": func() *tls.Config {
			return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}, nil
			}}
		},
	}
	kernels := map[string]*ktls.Options{"kernel-if-available": nil, "userspace": {DisableKernel: true}}
	for cname, mk := range configs {
		for kname, opts := range kernels {
			t.Run(cname+"/"+kname, func(t *testing.T) {
				inner, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ln := ktls.NewListener(inner, mk(), opts)
				defer ln.Close()
				done := make(chan error, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						done <- err
						return
					}
					defer c.Close()
					_, err = c.Read(make([]byte, 1)) // runs the handshake
					done <- err
				}()
				c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: protos})
				if err != nil {
					t.Fatal(err)
				}
				got := c.ConnectionState().NegotiatedProtocol
				_, _ = c.Write([]byte("x"))
				c.Close()
				if err := <-done; err != nil {
					t.Fatalf("server: %v", err)
				}
				if got != "http/1.1" {
					t.Fatalf("negotiated %q, want http/1.1", got)
				}
			})
		}
	}
}
