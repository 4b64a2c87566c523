package coalesce_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgekit/edgekit/coalesce"
)

// countingWriter records the size of every Write and when it came.
type countingWriter struct {
	buf   bytes.Buffer
	sizes []int
	at    []time.Time
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.sizes = append(c.sizes, len(p))
	c.at = append(c.at, time.Now())
	return c.buf.Write(p)
}

// TestStreamBatch: a Reader with SetBatch(n) gets the body in pieces of at
// least n bytes while the fill writes smaller ones, yet the tail after the
// last full batch comes as soon as the fill returns (never withheld), and
// a cut body still ends with the fill's error after its last byte. Run
// through Read and WriteTo.
func TestStreamBatch(t *testing.T) {
	errCut := errors.New("upstream cut")
	const piece = 1 << 10
	for _, tc := range []struct {
		name  string
		batch int
		size  int
		fail  error
		late  time.Duration // the reader starts after this, with bytes waiting
	}{
		{"batch of four pieces", 4 * piece, 10*piece + 100, nil, 0},
		{"cut body", 4 * piece, 10*piece + 100, errCut, 0},
		{"late reader", 4 * piece, 10*piece + 100, nil, 3500 * time.Microsecond},
		{"batch larger than the body", 1 << 20, 3*piece + 8, nil, 0},
		{"no batch", 0, 5*piece + 1, nil, 0},
		{"batch of one", 1, 3 * piece, nil, 0},
	} {
		for _, how := range []string{"Read", "WriteTo"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					src := pattern(7, tc.size)
					var ended time.Time
					s := coalesce.NewStream[string, hdr](nil)
					rd, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
						defer func() { ended = time.Now() }()
						for off := 0; off < len(src); off += piece {
							time.Sleep(time.Millisecond) // a body that trickles in
							if _, err := w.Write(src[off:min(off+piece, len(src))]); err != nil {
								return err
							}
						}
						time.Sleep(time.Millisecond) // the end comes after the last byte
						return tc.fail
					})
					if err != nil {
						t.Fatal(err)
					}
					defer rd.Close()
					rd.SetBatch(tc.batch, 0)
					time.Sleep(tc.late)
					cw := new(countingWriter)
					switch how {
					case "Read":
						buf := make([]byte, 64<<10)
						for {
							n, rerr := rd.Read(buf)
							if n > 0 {
								cw.Write(buf[:n])
							}
							if rerr != nil {
								if rerr == io.EOF {
									rerr = nil
								}
								err = rerr
								break
							}
						}
					case "WriteTo":
						_, err = rd.WriteTo(cw)
					}
					if !errors.Is(err, tc.fail) {
						t.Fatalf("end = %v, want %v", err, tc.fail)
					}
					if !bytes.Equal(cw.buf.Bytes(), src) {
						t.Fatalf("got %d bytes, want the %d the fill wrote", cw.buf.Len(), len(src))
					}
					last := len(cw.sizes) - 1
					for i, n := range cw.sizes[:last] {
						if n < tc.batch {
							t.Errorf("piece %d of %v is %d bytes, want >= batch %d", i, cw.sizes, n, tc.batch)
						}
						if tc.batch <= 1 && n > piece {
							t.Errorf("piece %d of %v is %d bytes, want each write passed on (<= %d)", i, cw.sizes, n, piece)
						}
					}
					if tc.batch > len(src) && !cw.at[last].Equal(ended) {
						t.Errorf("the body came at %v, want when the fill ended (%v): the tail was withheld", cw.at[last], ended)
					}
					if tc.batch > 1 && tc.batch <= len(src) && len(cw.sizes) != len(src)/tc.batch+1 {
						t.Errorf("pieces %v, want %d of >= %d bytes and the tail", cw.sizes, len(src)/tc.batch, tc.batch)
					}
				})
			})
		}
	}
}

// TestStreamBatchSharedLevel: many batched readers waiting at the same
// offset are all woken by the one growth that satisfies them, and not by
// the smaller ones before it.
func TestStreamBatchSharedLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const readers, batch = 50, 100
		s := coalesce.NewStream[string, hdr](nil)
		step := make(chan int)
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			for n := range step {
				if _, err := w.Write(make([]byte, n)); err != nil {
					return err
				}
			}
			return nil
		}
		got := make(chan int, readers)
		for range readers {
			rd, err := s.Open(context.Background(), "k", fill)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			rd.SetBatch(batch, 0)
			go func() {
				n, _ := rd.Read(make([]byte, 1000))
				got <- n
			}()
		}
		synctest.Wait()
		step <- batch - 1
		synctest.Wait()
		if len(got) != 0 {
			t.Fatalf("%d readers returned with %d of %d bytes", len(got), batch-1, batch)
		}
		step <- 1
		synctest.Wait()
		for range readers {
			if n := <-got; n != batch {
				t.Fatalf("reader got %d bytes, want %d", n, batch)
			}
		}
		close(step)
	})
}

// TestStreamBatchMaxWait: with a time bound, a small piece followed by a
// long pause is returned maxWait after the Reader began waiting for it,
// not when the batch fills; after that the next byte comes at once.
func TestStreamBatchMaxWait(t *testing.T) {
	for _, how := range []string{"Read", "WriteTo"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const piece, batch, maxWait = 1000, 4096, 10 * time.Millisecond
				src := pattern(3, 2*piece)
				s := coalesce.NewStream[string, hdr](nil)
				start := time.Now()
				rd, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
					time.Sleep(time.Millisecond)
					if _, err := w.Write(src[:piece]); err != nil { // at 1 ms
						return err
					}
					time.Sleep(time.Second)
					if _, err := w.Write(src[piece:]); err != nil { // at 1001 ms
						return err
					}
					time.Sleep(time.Second) // ends at 2001 ms
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				defer rd.Close()
				rd.SetBatch(batch, maxWait)
				cw := new(countingWriter)
				switch how {
				case "Read":
					buf := make([]byte, batch)
					for err == nil {
						var n int
						n, err = rd.Read(buf)
						if n > 0 {
							cw.Write(buf[:n])
						}
					}
					if err == io.EOF {
						err = nil
					}
				case "WriteTo":
					_, err = rd.WriteTo(cw)
				}
				if err != nil {
					t.Fatalf("end = %v, want a complete body", err)
				}
				if !bytes.Equal(cw.buf.Bytes(), src) {
					t.Fatalf("got %d bytes, want %d", cw.buf.Len(), len(src))
				}
				var at []time.Duration
				for _, x := range cw.at {
					at = append(at, x.Sub(start))
				}
				// The first piece: the Reader began waiting at 0, so maxWait
				// later. The second: the Reader had waited out its bound by
				// then, so it comes as it arrives.
				want := []time.Duration{maxWait, time.Second + time.Millisecond}
				if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] {
					t.Fatalf("pieces %v at %v, want %d-byte pieces at %v", cw.sizes, at, piece, want)
				}
			})
		})
	}
}

// TestStreamBatchWithLockTimeout: a joined Reader whose batch time bound
// and LockTimeout end at the same instant reads the whole body (the lock
// timeout finds the flight progressed and keeps it), with the small first
// piece released by the bound.
func TestStreamBatchWithLockTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 10 * time.Millisecond
		src := pattern(5, 5000)
		s := coalesce.NewStream[string, hdr](&coalesce.Options{LockTimeout: d})
		release := make(chan struct{})
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			if _, err := w.Write(src[:100]); err != nil {
				return err
			}
			<-release
			_, err := w.Write(src[100:])
			return err
		}
		lead, err := s.Open(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		defer lead.Close()
		synctest.Wait()
		rd, err := s.Open(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		rd.SetBatch(4096, d)
		start := time.Now()
		buf := make([]byte, 8192)
		n, err := rd.Read(buf)
		if err != nil || n != 100 || time.Since(start) != d {
			t.Fatalf("first Read = %d, %v after %v; want the 100 bytes there after %v", n, err, time.Since(start), d)
		}
		close(release)
		rest, err := io.ReadAll(rd)
		if err != nil || !bytes.Equal(append(buf[:100:100], rest...), src) {
			t.Fatalf("rest: %d bytes, %v; want %d", len(rest), err, len(src)-100)
		}
		if !rd.Shared() {
			t.Fatal("Reader left the flight at the lock timeout although it had progressed")
		}
	})
}
