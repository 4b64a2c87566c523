//go:build linux

package ktls_test

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/edgekit/edgekit/ktls"
)

// TestSendFileHeadOneSegment: a head and a small file range leave as one
// TCP segment (the head held back with MSG_MORE), where a Write followed by
// SendFile sends two. Loopback's MSS (~64 KiB) holds both, and Go sockets
// have Nagle off, so the counts are exact.
func TestSendFileHeadOneSegment(t *testing.T) {
	f, data := tempFile(t, 4000)
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n")
	want := append(append([]byte{}, head...), data...)
	for _, tc := range []struct {
		name string
		send func(w net.Conn) error
		segs uint32
	}{
		{"SendFileHead", func(w net.Conn) error { _, _, err := ktls.SendFileHead(w, head, f, 0, 4000); return err }, 1},
		{"Write+SendFile", func(w net.Conn) error {
			if _, err := w.Write(head); err != nil {
				return err
			}
			_, _, err := ktls.SendFile(w, f, 0, 4000)
			return err
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := tcpPair(t, true)
			before := dataSegsOut(t, s)
			if err := tc.send(s); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %v; bytes equal %v", err, bytes.Equal(got, want))
			}
			if segs := dataSegsOut(t, s) - before; segs != tc.segs {
				t.Fatalf("%d data segments sent, want %d", segs, tc.segs)
			}
		})
	}
}

// dataSegsOut is TCP_INFO's count of segments carrying data sent on c.
func dataSegsOut(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		sc = c.(*ktls.Conn).NetConn().(syscall.Conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || gerr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, gerr)
	}
	return info.Data_segs_out
}
