package coalesce_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/coalesce"
)

// pattern returns n deterministic pseudo-random bytes.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

type hdr struct {
	Status int
	Type   string
}

// TestStreamFastReaderPassesStalledReader: a fast reader gets all of a
// 64 MiB body while a second reader, opened before the fill started, has
// not read a byte; the stalled one later reads the same bytes.
func TestStreamFastReaderPassesStalledReader(t *testing.T) {
	const size = 64 << 20
	const piece = 32 << 10
	src := pattern(1, 1<<20)
	want := sha256.New()
	for range size / len(src) {
		want.Write(src)
	}
	s := coalesce.NewStream[string, hdr](&coalesce.Options{MaxBodySize: size})
	start := make(chan struct{})
	fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
		<-start
		if err := w.SetHeader(hdr{Status: 200, Type: "video/mp4"}); err != nil {
			return err
		}
		for i := 0; i < size; i += piece {
			off := i % len(src)
			if _, err := w.Write(src[off : off+piece]); err != nil {
				return err
			}
		}
		return nil
	}
	ctx := context.Background()
	stalled, err := s.Open(ctx, "/seg/1.m4s", fill)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fast, err := s.Open(ctx, "/seg/1.m4s", fill)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	if stalled.Shared() || !fast.Shared() {
		t.Fatalf("Shared() = %v, %v; want false for the opener, true for the joiner", stalled.Shared(), fast.Shared())
	}
	close(start)
	h, err := fast.Header()
	if err != nil || h.Status != 200 {
		t.Fatalf("Header = %+v, %v", h, err)
	}
	got := sha256.New()
	n, err := io.Copy(got, fast)
	if err != nil || n != size {
		t.Fatalf("fast reader: %d bytes, err %v; want %d, nil", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("fast reader: body differs")
	}
	if total, err := stalled.Wait(); err != nil || total != size {
		t.Fatalf("Wait = %d, %v; want %d, nil (the fill finished while a reader stalled)", total, err, size)
	}
	got.Reset()
	buf := make([]byte, 7777) // odd size: crosses chunk boundaries unaligned
	if n, err := io.CopyBuffer(got, struct{ io.Reader }{stalled}, buf); err != nil || n != size {
		t.Fatalf("stalled reader: %d bytes, err %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("stalled reader: body differs")
	}
	if st := s.Stats(); st.Flights != 1 || st.Joins != 1 {
		t.Fatalf("stats = %+v, want one flight, one join", st)
	}
}

// TestStreamManyReadersOneFill: many readers of one key, each reading at
// its own pace while the body grows, all get the same bytes from one fill.
func TestStreamManyReadersOneFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const readers = 200
		body := pattern(2, 100_000)
		s := coalesce.NewStream[string, hdr](nil)
		var fills atomic.Int32
		step := make(chan struct{})
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			fills.Add(1)
			for off := 0; off < len(body); off += 10_000 {
				<-step // the test paces the writer so readers really read while it grows
				if _, err := w.Write(body[off:min(off+10_000, len(body))]); err != nil {
					return err
				}
			}
			return nil
		}
		var wg sync.WaitGroup
		for i := range readers {
			ctx, cancel := context.WithCancel(context.Background())
			rd, err := s.Open(ctx, "k", fill)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer cancel()
				defer rd.Close()
				var got []byte
				var err error
				if i%2 == 0 {
					var b bytes.Buffer
					_, err = rd.WriteTo(&b)
					got = b.Bytes()
				} else {
					got, err = io.ReadAll(rd)
				}
				if err != nil || !bytes.Equal(got, body) {
					t.Errorf("reader %d: %d bytes, err %v; want %d identical bytes", i, len(got), err, len(body))
				}
			})
		}
		for range 10 {
			synctest.Wait() // every reader has caught up and blocks
			step <- struct{}{}
		}
		wg.Wait()
		if n := fills.Load(); n != 1 {
			t.Fatalf("fill ran %d times, want 1", n)
		}
	})
}

// TestStreamErrorAtOffset: readers get the bytes the fill wrote and then
// its error, exactly there; a failed body does not linger by default.
func TestStreamErrorAtOffset(t *testing.T) {
	errCut := errors.New("upstream reset")
	body := pattern(3, 50_000)
	s := coalesce.NewStream[string, hdr](&coalesce.Options{Linger: time.Hour, Clock: newClock()})
	fills := 0
	fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
		fills++
		_ = w.SetHeader(hdr{Status: 200})
		if _, err := w.Write(body[:12_345]); err != nil {
			return err
		}
		return errCut
	}
	for i := range 2 {
		rd, err := s.Open(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := rd.Header(); err != nil || h.Status != 200 {
			t.Fatalf("Header = %+v, %v; want the header published before the cut", h, err)
		}
		got, err := io.ReadAll(rd)
		if !errors.Is(err, errCut) || !bytes.Equal(got, body[:12_345]) {
			t.Fatalf("open %d: read %d bytes, err %v; want 12345 bytes then %v", i, len(got), err, errCut)
		}
		if n, err := rd.Wait(); n != 12_345 || !errors.Is(err, errCut) {
			t.Fatalf("Wait = %d, %v; want 12345, %v", n, err, errCut)
		}
		rd.Close()
	}
	if fills != 2 {
		t.Fatalf("fill ran %d times, want 2 (a cut body must not linger)", fills)
	}
}

// TestStreamHeaderBeforeBody: the header reaches readers while the body
// has not started, so a proxy can send its response head at once.
func TestStreamHeaderBeforeBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](nil)
		release := make(chan struct{})
		rd, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			if err := w.SetHeader(hdr{Status: 206}); err != nil {
				return err
			}
			if err := w.SetHeader(hdr{Status: 500}); !errors.Is(err, coalesce.ErrHeaderSet) {
				t.Errorf("second SetHeader = %v, want ErrHeaderSet", err)
			}
			<-release
			_, err := io.WriteString(w, "body")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		if h, err := rd.Header(); err != nil || h.Status != 206 {
			t.Fatalf("Header = %+v, %v; want 206", h, err)
		}
		close(release)
		if b, err := io.ReadAll(rd); err != nil || string(b) != "body" {
			t.Fatalf("ReadAll = %q, %v", b, err)
		}
	})
}

// TestStreamHeaderless: without SetHeader, the first Write publishes the
// zero header, and a fill that fails first hands Header its error.
func TestStreamHeaderless(t *testing.T) {
	errNo := errors.New("no such object")
	for _, tc := range []struct {
		name    string
		fill    coalesce.FillFunc[hdr]
		wantErr error
	}{
		{"write", func(ctx context.Context, w *coalesce.Writer[hdr]) error { _, err := w.Write([]byte("x")); return err }, nil},
		{"empty", func(ctx context.Context, w *coalesce.Writer[hdr]) error { return nil }, nil},
		{"error", func(ctx context.Context, w *coalesce.Writer[hdr]) error { return errNo }, errNo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s coalesce.Stream[int, hdr]
			rd, err := s.Open(context.Background(), 1, tc.fill)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if h, err := rd.Header(); h != (hdr{}) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Header = %+v, %v; want zero, %v", h, err, tc.wantErr)
			}
		})
	}
}

// TestStreamReaderCancel: one reader's ctx ending returns it at once and
// leaves the others untouched; when every reader has gone the fill's ctx
// is cancelled and its next Write fails with ErrAbandoned.
func TestStreamReaderCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](nil)
		step := make(chan struct{})
		fillDone := make(chan error, 1)
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			for {
				<-step
				if _, err := w.Write([]byte("abc")); err != nil {
					if ctx.Err() == nil {
						t.Errorf("Write failed (%v) while ctx alive", err)
					}
					fillDone <- err
					return err
				}
			}
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		ctx2, cancel2 := context.WithCancel(context.Background())
		r1, _ := s.Open(ctx1, "k", fill)
		r2, _ := s.Open(ctx2, "k", fill)
		step <- struct{}{}
		synctest.Wait()
		errs := make(chan error, 1)
		go func() {
			buf := make([]byte, 10)
			for {
				if _, err := r1.Read(buf); err != nil {
					errs <- err
					return
				}
			}
		}()
		synctest.Wait()
		cancel1()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled reader: %v, want context.Canceled", err)
		}
		step <- struct{}{}
		synctest.Wait()
		buf := make([]byte, 6)
		if n, err := io.ReadFull(r2, buf); err != nil || string(buf[:n]) != "abcabc" {
			t.Fatalf("other reader: %q, %v; want abcabc", buf[:n], err)
		}
		cancel2() // the last waiter leaves
		synctest.Wait()
		step <- struct{}{}
		if err := <-fillDone; !errors.Is(err, coalesce.ErrAbandoned) {
			t.Fatalf("fill's Write after abandonment = %v, want ErrAbandoned", err)
		}
		r1.Close()
		r2.Close()
		if st := s.Stats(); st.Abandoned != 1 || st.InFlight != 0 {
			t.Fatalf("stats = %+v, want 1 abandoned, 0 in flight", st)
		}
	})
}

// eofGate is a source that returns its bytes, then blocks until gate is
// closed before it reports io.EOF: an upstream whose connection lingers
// after the last byte of a Content-Length body.
type eofGate struct {
	data []byte
	gate chan struct{}
}

func (g *eofGate) Read(p []byte) (int, error) {
	if len(g.data) > 0 {
		n := copy(p, g.data)
		g.data = g.data[n:]
		return n, nil
	}
	<-g.gate
	return 0, io.EOF
}

// TestStreamReadFromHintedBodyOutlivesReader: with SizeHint, a body read
// whole by ReadFrom is complete even if its last reader leaves before the
// source reports EOF; the fill neither fails nor makes another chunk.
func TestStreamReadFromHintedBodyOutlivesReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](nil)
		body := bytes.Repeat([]byte("x"), 10000)
		src := &eofGate{data: body, gate: make(chan struct{})}
		type result struct {
			n   int64
			err error
		}
		fillDone := make(chan result, 1)
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			w.SizeHint(int64(len(body)))
			n, err := w.ReadFrom(src)
			fillDone <- result{n, err}
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		r, err := s.Open(ctx, "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(body))
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("reader: %v, body equal = %v", err, bytes.Equal(got, body))
		}
		synctest.Wait() // the fill is blocked waiting for EOF
		cancel()        // the last reader leaves
		r.Close()
		synctest.Wait()
		close(src.gate)
		res := <-fillDone
		if res.err != nil || res.n != int64(len(body)) {
			t.Fatalf("ReadFrom = %d, %v; want %d, nil", res.n, res.err, len(body))
		}
	})
}

// TestStreamLinger: a complete body keeps serving new readers from memory
// inside the window, without a new fill; after it, a new fill runs.
func TestStreamLinger(t *testing.T) {
	clk := newClock()
	s := coalesce.NewStream[string, hdr](&coalesce.Options{Linger: 2 * time.Second, Clock: clk})
	fills := 0
	fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
		fills++
		_ = w.SetHeader(hdr{Status: 200 + fills})
		_, err := io.WriteString(w, "segment")
		return err
	}
	read := func() (hdr, string, bool) {
		t.Helper()
		rd, err := s.Open(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		h, _ := rd.Header()
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return h, string(b), rd.Shared()
	}
	if h, b, shared := read(); h.Status != 201 || b != "segment" || shared {
		t.Fatalf("first = %v %q %v", h, b, shared)
	}
	clk.Advance(2*time.Second - 1)
	if h, b, shared := read(); h.Status != 201 || b != "segment" || !shared {
		t.Fatalf("inside window = %v %q %v, want the lingering 201, shared", h, b, shared)
	}
	clk.Advance(1)
	if h, _, shared := read(); h.Status != 202 || shared {
		t.Fatalf("after window = %v %v, want a new fill (202)", h, shared)
	}
	if st := s.Stats(); st.LingerHits != 1 || st.Flights != 2 {
		t.Fatalf("stats = %+v, want 1 hit, 2 flights", st)
	}
}

// TestStreamMaxBodySize: the bound is enforced where it is, for Write and
// ReadFrom alike, and a body exactly at the bound is fine.
func TestStreamMaxBodySize(t *testing.T) {
	const limit = 100_000
	src := pattern(4, 2*limit)
	for _, tc := range []struct {
		name        string
		n           int
		readErrOnly bool
		useFrom     bool
		wantErr     error
	}{
		{"write under", limit - 1, false, false, nil},
		{"write at", limit, false, false, nil},
		{"write over", limit + 1, false, false, coalesce.ErrTooLarge},
		{"readfrom at", limit, false, true, nil},
		{"readfrom over", limit + 1, false, true, coalesce.ErrTooLarge},
		{"fill ignores error", limit + 50, true, false, coalesce.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := coalesce.NewStream[int, hdr](&coalesce.Options{MaxBodySize: limit})
			rd, err := s.Open(context.Background(), 1, func(ctx context.Context, w *coalesce.Writer[hdr]) error {
				var err error
				if tc.useFrom {
					w.SizeHint(int64(tc.n))
					_, err = w.ReadFrom(bytes.NewReader(src[:tc.n]))
				} else {
					_, err = w.Write(src[:tc.n])
				}
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("fill saw %v, want %v", err, tc.wantErr)
				}
				if tc.readErrOnly {
					return nil
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			got, err := io.ReadAll(rd)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("reader err = %v, want %v", err, tc.wantErr)
			}
			if wantN := min(tc.n, limit); !bytes.Equal(got, src[:wantN]) {
				t.Fatalf("reader got %d bytes, want the first %d", len(got), wantN)
			}
		})
	}
}

// TestStreamLockTimeout: a reader that has seen nothing after LockTimeout
// switches to its own fill; one that has seen the header stays.
func TestStreamLockTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		s := coalesce.NewStream[string, hdr](&coalesce.Options{LockTimeout: 5 * time.Second, Clock: clk})
		release := make(chan struct{})
		hang := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			<-release
			_, err := io.WriteString(w, "shared")
			return err
		}
		own := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			_, err := io.WriteString(w, "own")
			return err
		}
		leader, _ := s.Open(context.Background(), "k", hang)
		defer leader.Close()
		joiner, _ := s.Open(context.Background(), "k", own)
		defer joiner.Close()
		got := make(chan string, 1)
		go func() {
			b, err := io.ReadAll(joiner)
			if err != nil {
				t.Error(err)
			}
			got <- string(b)
		}()
		synctest.Wait()
		clk.Advance(5 * time.Second)
		if b := <-got; b != "own" || joiner.Shared() {
			t.Fatalf("timed-out reader read %q (shared %v), want its own fill", b, joiner.Shared())
		}
		close(release)
		if b, _ := io.ReadAll(leader); string(b) != "shared" {
			t.Fatalf("leader read %q", b)
		}
		if st := s.Stats(); st.Timeouts != 1 {
			t.Fatalf("stats = %+v, want 1 timeout", st)
		}
	})
}

// TestStreamClose: Close ends fills in progress; readers see ErrClosed
// after the bytes already written, Writers refuse more, Opens fail.
func TestStreamClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](nil)
		release := make(chan struct{})
		writeErr := make(chan error, 1)
		rd, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			_, _ = io.WriteString(w, "partial")
			<-release // ignores ctx
			_, err := io.WriteString(w, "more")
			writeErr <- err
			return err
		})
		defer rd.Close()
		synctest.Wait()
		_ = s.Close()
		got, err := io.ReadAll(rd)
		if string(got) != "partial" || !errors.Is(err, coalesce.ErrClosed) {
			t.Fatalf("ReadAll = %q, %v; want partial, ErrClosed", got, err)
		}
		if _, err := s.Open(context.Background(), "k", nil); !errors.Is(err, coalesce.ErrClosed) {
			t.Fatalf("Open after Close = %v", err)
		}
		close(release)
		if err := <-writeErr; !errors.Is(err, coalesce.ErrClosed) {
			t.Fatalf("Write after Close = %v, want ErrClosed", err)
		}
	})
}

// TestStreamPanic: a panicking fill ends the body with a *PanicError.
func TestStreamPanic(t *testing.T) {
	var s coalesce.Stream[string, hdr]
	rd, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
		_, _ = io.WriteString(w, "12")
		panic("fill broke")
	})
	defer rd.Close()
	got, err := io.ReadAll(rd)
	var pe *coalesce.PanicError
	if string(got) != "12" || !errors.As(err, &pe) || pe.Value != "fill broke" {
		t.Fatalf("ReadAll = %q, %v; want 12 then a PanicError", got, err)
	}
	rd2, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error { return nil })
	defer rd2.Close()
	if _, err := rd2.Wait(); err != nil {
		t.Fatalf("key after panic: %v", err)
	}
}

// TestStreamWriteAfterFill: a Writer kept past its fill is refused.
func TestStreamWriteAfterFill(t *testing.T) {
	var s coalesce.Stream[string, hdr]
	kept := make(chan *coalesce.Writer[hdr], 1)
	rd, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
		kept <- w
		return nil
	})
	defer rd.Close()
	if _, err := rd.Wait(); err != nil {
		t.Fatal(err)
	}
	w := <-kept
	if _, err := w.Write([]byte("late")); !errors.Is(err, coalesce.ErrFillDone) {
		t.Fatalf("late Write = %v, want ErrFillDone", err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Read(make([]byte, 1)); !errors.Is(err, coalesce.ErrReaderClosed) {
		t.Fatalf("Read after Close = %v, want ErrReaderClosed", err)
	}
}

// TestStreamForget: a forgotten running fill goes on for its readers, and
// the next Open starts a new one.
func TestStreamForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](&coalesce.Options{Linger: time.Hour})
		release := make(chan struct{})
		old, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			<-release
			_, err := io.WriteString(w, "v1")
			return err
		})
		defer old.Close()
		synctest.Wait()
		if !s.Forget("k") {
			t.Fatal("Forget = false")
		}
		nw, _ := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			_, err := io.WriteString(w, "v2")
			return err
		})
		defer nw.Close()
		if b, _ := io.ReadAll(nw); string(b) != "v2" || nw.Shared() {
			t.Fatalf("after Forget read %q shared=%v, want v2 from a new fill", b, nw.Shared())
		}
		close(release)
		if b, _ := io.ReadAll(old); string(b) != "v1" {
			t.Fatalf("forgotten fill's reader read %q, want v1", b)
		}
		_ = s.Close()
	})
}

// TestStreamRandomized writes bodies in random pieces (Write and ReadFrom,
// with and without size hints) while readers read with random buffer
// sizes, and checks every reader gets every byte. Replay a failure with
// its seed: COALESCE_SEED=<seed> go test -run TestStreamRandomized; set
// COALESCE_LONG=1 for more and larger trials.
func TestStreamRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := envSeed(); v != 0 {
		seed = v
	}
	t.Logf("seed %d (replay with COALESCE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	trials, maxSize := 6, 1<<20
	if os.Getenv("COALESCE_LONG") != "" {
		trials, maxSize = 100, 8<<20
	}
	for trial := range trials {
		size := rng.IntN(maxSize)
		body := pattern(seed+uint64(trial), size)
		hint := int64(0)
		if rng.IntN(2) == 0 {
			hint = int64(size + rng.IntN(1000) - 500)
		}
		pieces := make([]int, 0)
		for left := size; left > 0; {
			p := min(left, 1+rng.IntN(200_000))
			pieces = append(pieces, p)
			left -= p
		}
		useFrom := rng.IntN(2) == 0
		var s coalesce.Stream[int, hdr]
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			w.SizeHint(hint)
			off := 0
			for _, p := range pieces {
				var err error
				if useFrom {
					_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(body[off:]), int64(p)))
				} else {
					_, err = w.Write(body[off : off+p])
				}
				if err != nil {
					return err
				}
				off += p
			}
			return nil
		}
		var wg sync.WaitGroup
		for r := range 4 {
			bufSize := 1 + rng.IntN(100_000)
			rd, err := s.Open(context.Background(), trial, fill)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer rd.Close()
				var got bytes.Buffer
				_, err := io.CopyBuffer(&got, struct{ io.Reader }{rd}, make([]byte, bufSize))
				if err != nil || !bytes.Equal(got.Bytes(), body) {
					t.Errorf("seed %d trial %d reader %d (buf %d): %d bytes, err %v; want %d identical", seed, trial, r, bufSize, got.Len(), err, size)
				}
			})
		}
		wg.Wait()
	}
}

// TestNoGoroutineOutlivesFlight: once every Reader is closed and the fill
// has returned, nothing of the flight runs on — not the fill, not a
// context watcher, not a timer.
func TestNoGoroutineOutlivesFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := coalesce.NewStream[string, hdr](&coalesce.Options{Linger: time.Minute, LockTimeout: time.Hour, LeaderTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readers []*coalesce.Reader[hdr]
	for range 10 {
		rd, err := s.Open(ctx, "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			_, err := w.Write(pattern(5, 100_000))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, rd)
	}
	for _, rd := range readers {
		if _, err := io.Copy(io.Discard, rd); err != nil {
			t.Fatal(err)
		}
		rd.Close()
	}
	_ = s.Close() // stops the linger sweep timer
}

// TestStreamSetLinger: a fill can keep its body from lingering (an
// uncacheable response) or make it linger longer than the default.
func TestStreamSetLinger(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     time.Duration // -1: do not call SetLinger
		advance time.Duration
		wantHit bool
	}{
		{"default", -1, time.Second - 1, true},
		{"no-store", 0, 0, false},
		{"longer", time.Hour, time.Hour - 1, true},
		{"longer expired", time.Hour, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := coalesce.NewStream[string, hdr](&coalesce.Options{Linger: time.Second, Clock: clk})
			fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
				if tc.set >= 0 {
					w.SetLinger(tc.set)
				}
				_, err := io.WriteString(w, "x")
				return err
			}
			for i := range 2 {
				rd, err := s.Open(context.Background(), "k", fill)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rd.Wait(); err != nil {
					t.Fatal(err)
				}
				if i == 1 && rd.Shared() != tc.wantHit {
					t.Fatalf("second Open shared = %v, want %v", rd.Shared(), tc.wantHit)
				}
				rd.Close()
				clk.Advance(tc.advance)
			}
			_ = s.Close()
		})
	}
}

// TestDoneContextStartsNothing: a caller whose ctx is already done gets
// ctx.Err() at once and starts no flight.
func TestDoneContextStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var g coalesce.Group[int, int]
	if _, _, err := g.Do(ctx, 1, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	var s coalesce.Stream[int, hdr]
	if _, err := s.Open(ctx, 1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want context.Canceled", err)
	}
	if a, b := g.Stats(), s.Stats(); a.Flights != 0 || b.Flights != 0 {
		t.Fatalf("flights started: %d, %d; want 0", a.Flights, b.Flights)
	}
}

// TestStreamLeaderTimeout: past the leader deadline the fill's context
// ends with DeadlineExceeded and its Writer refuses more bytes, so readers
// see the bytes written so far and then the fill's error.
func TestStreamLeaderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		s := coalesce.NewStream[string, hdr](&coalesce.Options{LeaderTimeout: 3 * time.Second, Clock: clk})
		step := make(chan struct{})
		rd, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			if _, err := io.WriteString(w, "early"); err != nil {
				return err
			}
			<-step // ignores ctx on purpose: the Writer must stop it
			if ctx.Err() != context.DeadlineExceeded {
				t.Errorf("fill ctx err = %v, want DeadlineExceeded", ctx.Err())
			}
			_, err := io.WriteString(w, "late")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		synctest.Wait()
		clk.Advance(3 * time.Second)
		close(step)
		got, err := io.ReadAll(rd)
		if string(got) != "early" || !errors.Is(err, coalesce.ErrLeaderTimeout) {
			t.Fatalf("ReadAll = %q, %v; want early, ErrLeaderTimeout", got, err)
		}
	})
}

// TestStreamRefusalIsSticky: a fill that ignores the Writer's refusal
// (here after the leader deadline) and returns nil still fails the flight,
// so the cut body is neither reported complete nor left to linger.
func TestStreamRefusalIsSticky(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		s := coalesce.NewStream[string, hdr](&coalesce.Options{LeaderTimeout: 3 * time.Second, Linger: time.Minute, Clock: clk})
		defer s.Close()
		step := make(chan struct{})
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			_, _ = io.WriteString(w, "hello ")
			<-step
			_, _ = io.WriteString(w, "world") // refused: ErrLeaderTimeout, ignored
			return nil
		}
		rd, err := s.Open(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		clk.Advance(3 * time.Second)
		close(step)
		got, err := io.ReadAll(rd)
		if string(got) != "hello " || !errors.Is(err, coalesce.ErrLeaderTimeout) {
			t.Fatalf("ReadAll = %q, %v; want %q, ErrLeaderTimeout", got, err, "hello ")
		}
		if n, err := rd.Wait(); !errors.Is(err, coalesce.ErrLeaderTimeout) {
			t.Fatalf("Wait = %d, %v; want ErrLeaderTimeout", n, err)
		}
		rd.Close()
		synctest.Wait()
		// The cut body must not serve the next reader.
		again := make(chan struct{})
		rd2, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			close(again)
			_, err := io.WriteString(w, "hello world")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer rd2.Close()
		if got, err := io.ReadAll(rd2); string(got) != "hello world" || err != nil || rd2.Shared() {
			t.Fatalf("next Open: %q, %v, shared %v; want a new fill's %q", got, err, rd2.Shared(), "hello world")
		}
		<-again
	})
}
