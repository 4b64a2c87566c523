package ktls_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/ktls"
)

// tempFile writes n seeded random bytes to a file and opens it.
func tempFile(t testing.TB, n int) (*os.File, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(testSeed(t), 2))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// tcpPair returns a server-side conn accepted through l (or raw when l is
// nil) and the client side.
func tcpPair(t testing.TB, plain bool) (server net.Conn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	if plain {
		l = ktls.NewListener(ln, nil, nil)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestSendFile covers SendFile and, in the cases with a head,
// SendFileHead: the head arrives whole and first, then exactly the range,
// on every path (sendfile, copy, an empty range, a short file).
func TestSendFile(t *testing.T) {
	f, data := tempFile(t, 3<<20)
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n")
	cases := []struct {
		name       string
		dst        func(t *testing.T) (io.Writer, func() []byte)
		head       []byte // nil: SendFile
		off, n     int64
		wantMethod ktls.Method
		wantErr    error
	}{
		{"plain-conn", pairDst(true), nil, 12345, 2 << 20, ktls.MethodSendfile, nil},
		{"tcpconn", pairDst(false), nil, 0, 3 << 20, ktls.MethodSendfile, nil},
		{"buffer", bufDst, nil, 100, 1 << 20, ktls.MethodCopy, nil},
		{"plain-conn-past-eof", pairDst(true), nil, 3<<20 - 10, 100, ktls.MethodSendfile, io.ErrUnexpectedEOF},
		{"buffer-past-eof", bufDst, nil, 3<<20 - 10, 100, ktls.MethodCopy, io.ErrUnexpectedEOF},
		{"empty", bufDst, nil, 0, 0, ktls.MethodCopy, nil},
		{"head/plain-conn", pairDst(true), head, 100, 70000, ktls.MethodSendfile, nil},
		{"head/tcpconn", pairDst(false), head, 0, 1 << 20, ktls.MethodSendfile, nil},
		{"head/buffer", bufDst, head, 7, 5000, ktls.MethodCopy, nil},
		{"head/plain-conn-empty-range", pairDst(true), head, 0, 0, ktls.MethodCopy, nil},
		{"head/plain-conn-past-eof", pairDst(true), head, 3<<20 - 10, 100, ktls.MethodSendfile, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, read := tc.dst(t)
			var n int64
			var m ktls.Method
			var err error
			if tc.head == nil {
				n, m, err = ktls.SendFile(w, f, tc.off, tc.n)
			} else {
				n, m, err = ktls.SendFileHead(w, tc.head, f, tc.off, tc.n)
			}
			if m != tc.wantMethod {
				t.Fatalf("method %v, want %v", m, tc.wantMethod)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			body := data[tc.off:min(int64(len(data)), tc.off+tc.n)]
			if n != int64(len(body)) {
				t.Fatalf("wrote %d file bytes, want %d", n, len(body))
			}
			want := append(append([]byte{}, tc.head...), body...)
			if got := read(); !bytes.Equal(got, want) {
				t.Fatalf("peer got %d bytes, want %d; differ at %d", len(got), len(want), diffAt(got, want))
			}
			if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
				t.Fatalf("file offset moved to %d; SendFile must use explicit offsets", pos)
			}
		})
	}
}

func diffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func bufDst(t *testing.T) (io.Writer, func() []byte) {
	var b bytes.Buffer
	return &b, b.Bytes
}

// pairDst returns a TCP server conn (through a plain ktls Listener when
// wrapped) and a function that closes it and returns what the client read.
func pairDst(wrapped bool) func(t *testing.T) (io.Writer, func() []byte) {
	return func(t *testing.T) (io.Writer, func() []byte) {
		s, c := tcpPair(t, wrapped)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(c)
			got <- b
		}()
		return s, func() []byte { s.Close(); return <-got }
	}
}

// TestSendFileConcurrent serves many ranges of one open file at once over
// separate connections: explicit offsets make that safe.
func TestSendFileConcurrent(t *testing.T) {
	f, data := tempFile(t, 1<<20)
	const conns = 8
	var wg sync.WaitGroup
	for i := range conns {
		s, c := tcpPair(t, true)
		off, n := int64(i*100_000), int64(200_000)
		wg.Add(2)
		var got []byte
		go func() {
			defer wg.Done()
			got, _ = io.ReadAll(c)
			if !bytes.Equal(got, data[off:off+n]) {
				t.Errorf("conn %d: got %d bytes, differ at %d", i, len(got), diffAt(got, data[off:off+n]))
			}
		}()
		go func() {
			defer wg.Done()
			defer s.Close()
			if _, m, err := ktls.SendFile(s, f, off, n); err != nil || m != ktls.MethodSendfile {
				t.Errorf("conn %d: method %v err %v", i, m, err)
			}
		}()
	}
	wg.Wait()
}

// TestConnStats: a plain Conn counts sendfile bytes; ReadFrom with an
// *os.File or *io.SectionReader takes the sendfile path too.
func TestConnStats(t *testing.T) {
	f, data := tempFile(t, 500_000)
	s, c := tcpPair(t, true)
	kc := s.(*ktls.Conn)
	if got := kc.Info().Mode; got != ktls.ModePlain {
		t.Fatalf("mode %v, want plain", got)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(c); got <- b }()
	if _, err := kc.ReadFrom(io.NewSectionReader(f, 10, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(2000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(kc, io.LimitReader(f, 3000)); err != nil {
		t.Fatal(err)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != 5000 {
		t.Fatalf("ReadFrom left the file at %d, want 5000", pos)
	}
	if _, err := kc.ReadFrom(bytes.NewReader([]byte("tail"))); err != nil {
		t.Fatal(err)
	}
	kc.Close()
	want := append(append(append([]byte(nil), data[10:1010]...), data[2000:5000]...), "tail"...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer got %d bytes, want %d", len(b), len(want))
	}
	if st := kc.Stats(); st.SendfileBytes != 4000 || st.CopyBytes != 0 {
		t.Fatalf("stats %+v, want 4000 sendfile bytes", st)
	}
}
