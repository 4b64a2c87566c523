package edgecache_test

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHerdFloor measures what a thundering herd costs this machine
// before any cache logic: n goroutines, each owning one end of a loopback
// TCP connection, park on one channel (as a flight's viewers park on its
// header); the channel closes and each writes a 300-byte response head,
// while n goroutines on the other ends (the clients) each wait for the
// first byte. It reports the time from the release to the last head
// written (heads-ms) and to the last first byte seen by a client
// (seen-ms), and per head (us/head). That is the least a herd of n adds to
// the p99 time to first byte of a server with a goroutine per connection,
// with no body bytes competing. 2n descriptors are needed; sizes that do
// not fit under RLIMIT_NOFILE are skipped.
func BenchmarkHerdFloor(b *testing.B) {
	for _, n := range []int{1000, 9000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var lim syscall.Rlimit
			if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2*n+200) {
				b.Skipf("RLIMIT_NOFILE %d < %d: raise ulimit -n", lim.Cur, 2*n+200)
			}
			var heads, seen time.Duration
			for range b.N {
				h, s := herdOnce(b, n)
				heads += h
				seen += s
			}
			b.ReportMetric(float64(heads.Milliseconds())/float64(b.N), "heads-ms")
			b.ReportMetric(float64(seen.Milliseconds())/float64(b.N), "seen-ms")
			b.ReportMetric(float64(seen.Microseconds())/float64(b.N*n), "us/head")
		})
	}
}

func herdOnce(b *testing.B, n int) (heads, seen time.Duration) {
	b.StopTimer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	servers := make([]net.Conn, 0, n)
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range append(servers, clients...) {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		clients, servers = append(clients, c), append(servers, s)
	}
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\nContent-Type: video/iso.segment\r\n" +
		"Date: Mon, 23 Nov 2026 21:00:00 GMT\r\nX-Cache: MISS-COALESCED\r\nX-Cache-Via: origin\r\n" +
		"Access-Control-Allow-Origin: *\r\nCache-Control: public, max-age=3600\r\nEdgekit-Max-Age-Ms: 3600000\r\n\r\n")
	release := make(chan struct{})
	var start time.Time // written before release is closed
	var wrote, got sync.WaitGroup
	var mu sync.Mutex                     // guards lastWrite, lastSeen
	var lastWrite, lastSeen time.Duration // since start
	for i := range n {
		wrote.Add(1)
		go func() {
			defer wrote.Done()
			<-release
			if _, err := servers[i].Write(head); err != nil {
				b.Error(err)
			}
			t := time.Since(start)
			mu.Lock()
			lastWrite = max(lastWrite, t)
			mu.Unlock()
		}()
		got.Add(1)
		go func() {
			defer got.Done()
			var one [1]byte
			if _, err := clients[i].Read(one[:]); err != nil {
				b.Error(err)
			}
			t := time.Since(start)
			mu.Lock()
			lastSeen = max(lastSeen, t)
			mu.Unlock()
		}()
	}
	time.Sleep(50 * time.Millisecond) // every goroutine parked
	b.StartTimer()
	start = time.Now()
	close(release)
	wrote.Wait()
	got.Wait()
	b.StopTimer()
	return lastWrite, lastSeen
}
