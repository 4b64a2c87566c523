//go:build linux

package ktls_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgekit/edgekit/ktls"
)

const benchFileSize = 2 << 20 // one 2 MiB video segment

const benchClientEnv = "EDGEKIT_KTLS_BENCH_CLIENT" // "plain|tls,<addr>"

// processCPU is the user+system CPU time of this process (RUSAGE_SELF).
func processCPU(b *testing.B) time.Duration {
	var r unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &r); err != nil {
		b.Fatal(err)
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// TestBenchClient is the client process of BenchmarkServe2MiB: it reads and
// discards until EOF and prints the byte count. Running it in its own process
// keeps its CPU out of the server's getrusage figures.
func TestBenchClient(t *testing.T) {
	spec := os.Getenv(benchClientEnv)
	if spec == "" {
		t.Skip("child process of BenchmarkServe2MiB")
	}
	mode, addr, _ := strings.Cut(spec, ",")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = c
	if mode == "tls" {
		r = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // benchmark peer only
	}
	n, err := io.Copy(io.Discard, r)
	fmt.Printf("read=%d err=%v\n", n, err)
}

// serveBench sends the 2 MiB file b.N times over one loopback connection
// to a client in another process. It reports GB/s (via SetBytes) and the
// server process's CPU seconds per GB (getrusage, user+system).
func serveBench(b *testing.B, tlsClient bool, server func(net.Conn) net.Conn, send func(w net.Conn, f *os.File) error) {
	path := filepath.Join(b.TempDir(), "seg")
	if err := os.WriteFile(path, make([]byte, benchFileSize), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	_, _ = f.ReadAt(make([]byte, benchFileSize), 0) // page cache warm
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	mode := "plain"
	if tlsClient {
		mode = "tls"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClient$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), benchClientEnv+"="+mode+","+ln.Addr().String())
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	raw, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	sc := server(raw)
	// Handshake and first send outside the timing.
	if err := send(sc, f); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	c0 := processCPU(b)
	for range b.N {
		if err := send(sc, f); err != nil {
			b.Fatal(err)
		}
	}
	c1 := processCPU(b)
	b.StopTimer()
	sc.Close()
	_ = cmd.Wait()
	if want := fmt.Sprintf("read=%d ", int64(b.N+1)*benchFileSize); !strings.Contains(out.String(), want) {
		b.Fatalf("client said %q, want %q", out.String(), want)
	}
	gb := float64(b.N) * benchFileSize / 1e9
	b.ReportMetric((c1-c0).Seconds()/gb, "cpu-s/GB")
}

func identity(c net.Conn) net.Conn { return c }

// BenchmarkServe2MiB compares, in one run, the ways a server can send a
// 2 MiB file over loopback: sendfile through ktls, a plain user-space copy
// (what io.Copy does when a wrapper hides the file or the socket), a
// hand-written crypto/tls server, and ktls's TLS fallback path.
func BenchmarkServe2MiB(b *testing.B) {
	cert, _ := selfSigned(b)
	scfg := &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true}
	plainListener := ktls.NewListener(nil, nil, nil)
	fallback := ktls.NewListener(nil, scfg, &ktls.Options{DisableKernel: true})

	b.Run("path=sendfile", func(b *testing.B) {
		serveBench(b, false, func(c net.Conn) net.Conn { return plainListener.Server(c) },
			func(w net.Conn, f *os.File) error { _, _, err := ktls.SendFile(w, f, 0, benchFileSize); return err })
	})
	b.Run("path=iocopy", func(b *testing.B) {
		serveBench(b, false, identity, func(w net.Conn, f *os.File) error {
			// Hiding both types defeats sendfile, as wrappers in real
			// servers do; io.Copy then moves 32 KiB at a time.
			_, err := io.Copy(struct{ io.Writer }{w}, struct{ io.Reader }{io.NewSectionReader(f, 0, benchFileSize)})
			return err
		})
	})
	b.Run("path=crypto-tls", func(b *testing.B) {
		serveBench(b, true, func(c net.Conn) net.Conn { return tls.Server(c, scfg) },
			func(w net.Conn, f *os.File) error {
				_, err := io.Copy(w, io.NewSectionReader(f, 0, benchFileSize))
				return err
			})
	})
	b.Run("path=ktls-fallback", func(b *testing.B) {
		serveBench(b, true, func(c net.Conn) net.Conn { return fallback.Server(c) },
			func(w net.Conn, f *os.File) error { _, _, err := ktls.SendFile(w, f, 0, benchFileSize); return err })
	})
}
