package coalesce_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/edgekit/edgekit/coalesce"
)

// FuzzStreamPieces checks the chunked body against a plain copy for any
// split of the writes and reads: the fill writes body in pieces whose sizes
// come from the fuzzer (with an optional size hint and byte bound), and
// two readers read it with different buffer sizes, one with Read, one with
// WriteTo or a buffered copy. Both must get exactly the bytes the bound allows, then io.EOF or
// ErrTooLarge. The seed corpus runs as a normal test.
func FuzzStreamPieces(f *testing.F) {
	f.Add([]byte("hello, segment"), []byte{3, 0, 5, 200}, uint16(0), uint16(0), uint8(1), uint8(7))
	f.Add(bytes.Repeat([]byte{0xab}, 70_000), []byte{255, 255, 1}, uint16(65_000), uint16(0), uint8(255), uint8(1))
	f.Add(bytes.Repeat([]byte{1, 2, 3}, 20_000), []byte{17}, uint16(0), uint16(50_000), uint8(64), uint8(200))
	f.Add([]byte{}, []byte{}, uint16(10), uint16(1), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, body, sizes []byte, hint, bound uint16, readA, readB uint8) {
		opts := &coalesce.Options{MaxBodySize: -1}
		want, wantErr := body, error(nil)
		if bound > 0 {
			opts.MaxBodySize = int64(bound)
			if len(body) > int(bound) {
				want, wantErr = body[:bound], coalesce.ErrTooLarge
			}
		}
		s := coalesce.NewStream[int, struct{}](opts)
		fill := func(ctx context.Context, w *coalesce.Writer[struct{}]) error {
			w.SizeHint(int64(hint))
			rest := body
			for i := 0; len(rest) > 0; i++ {
				n := len(rest)
				if len(sizes) > 0 {
					// Piece sizes cycle through the fuzzer's bytes, scaled
					// so that chunk boundaries (16 KiB and up) get crossed.
					n = min(n, 1+int(sizes[i%len(sizes)])*97)
				}
				if _, err := w.Write(rest[:n]); err != nil {
					return err
				}
				rest = rest[n:]
			}
			return nil
		}
		check := func(name string, got []byte, err error) {
			t.Helper()
			if !errors.Is(err, wantErr) || !bytes.Equal(got, want) {
				t.Fatalf("%s: %d bytes, err %v; want %d bytes, err %v", name, len(got), err, len(want), wantErr)
			}
		}
		ra, err := s.Open(context.Background(), 1, fill)
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		rb, err := s.Open(context.Background(), 1, fill)
		if err != nil {
			t.Fatal(err)
		}
		defer rb.Close()

		var gotA []byte
		buf := make([]byte, 1+int(readA)*13)
		for {
			n, err := ra.Read(buf)
			gotA = append(gotA, buf[:n]...)
			if err == io.EOF {
				err = nil
			}
			if err != nil || n == 0 {
				check("Read", gotA, err)
				break
			}
		}
		var gotB bytes.Buffer
		if readB%2 == 0 {
			_, err = rb.WriteTo(&gotB)
			check("WriteTo", gotB.Bytes(), err)
		} else {
			_, err = io.CopyBuffer(&gotB, struct{ io.Reader }{rb}, make([]byte, 1+int(readB)*29))
			check("CopyBuffer", gotB.Bytes(), err)
		}
	})
}
