package coalesce_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/edgekit/edgekit/coalesce"
)

// Many concurrent requests for one key cause one call.
func ExampleGroup() {
	var g coalesce.Group[string, string] // the zero value is ready to use
	var calls int
	release := make(chan struct{})
	fetch := func(ctx context.Context) (string, error) {
		calls++ // only ever one call runs for a key
		<-release
		return "segment 1042", nil
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			v, shared, err := g.Do(ctx, "/live/seg_1042.m4s", fetch)
			fmt.Println(v, shared, err)
		})
	}
	for g.Stats().Joins < 2 { // wait until the other two have joined
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	fmt.Println("calls:", calls)
	// Output:
	// segment 1042 true <nil>
	// segment 1042 true <nil>
	// segment 1042 true <nil>
	// calls: 1
}

// A finished result lingers for the callers that come right after it.
func ExampleOptions_linger() {
	g := coalesce.New[string, int](&coalesce.Options{Linger: time.Minute})
	defer g.Close()
	calls := 0
	fetch := func(ctx context.Context) (int, error) { calls++; return 200, nil }
	for range 3 {
		v, shared, _ := g.Do(context.Background(), "/live/seg_7.m4s", fetch)
		fmt.Println(v, shared)
	}
	g.Forget("/live/seg_7.m4s") // the segment was republished
	v, shared, _ := g.Do(context.Background(), "/live/seg_7.m4s", fetch)
	fmt.Println(v, shared, "calls:", calls, "linger hits:", g.Stats().LingerHits)
	// Output:
	// 200 false
	// 200 true
	// 200 true
	// 200 false calls: 2 linger hits: 2
}

// A panic reaches every waiter as an error, and the key works again.
func ExamplePanicError() {
	var g coalesce.Group[int, int]
	_, _, err := g.Do(context.Background(), 1, func(context.Context) (int, error) {
		panic("mp4: box size beyond end of segment")
	})
	var pe *coalesce.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	v, _, err := g.Do(context.Background(), 1, func(context.Context) (int, error) { return 7, nil })
	fmt.Println(v, err)
	// Output:
	// true mp4: box size beyond end of segment
	// 7 <nil>
}

// response is what an edge publishes before the body: the upstream status
// and headers.
type response struct {
	Status int
	Header http.Header
}

// A caching proxy: one upstream fetch per object, the response head sent to
// each viewer as soon as it is known, the body streamed to all of them as it
// arrives, and stored only if it arrived complete.
func ExampleStream() {
	s := coalesce.NewStream[string, response](&coalesce.Options{Linger: 2 * time.Second})
	defer s.Close()

	// fill is the upstream fetch; here it "receives" the body in pieces.
	fill := func(ctx context.Context, w *coalesce.Writer[response]) error {
		if err := w.SetHeader(response{Status: 200, Header: http.Header{"Content-Type": {"video/mp4"}}}); err != nil {
			return err
		}
		for _, piece := range []string{"moof", "mdat", "...."} {
			if _, err := io.Copy(w, strings.NewReader(piece)); err != nil {
				return err
			}
		}
		return nil
	}

	// serve is what each viewer's handler does.
	serve := func(ctx context.Context, out io.Writer) {
		rd, err := s.Open(ctx, "/vod/seg_1.m4s", fill)
		if err != nil {
			fmt.Fprintln(out, "503:", err)
			return
		}
		defer rd.Close()
		h, err := rd.Header() // the head, before the body is complete
		if err != nil {
			fmt.Fprintln(out, "502:", err)
			return
		}
		fmt.Fprintln(out, h.Status, h.Header.Get("Content-Type"))
		if _, err := rd.WriteTo(out); err != nil { // the body as it arrives
			fmt.Fprintln(out, "\ncut:", err) // cut mid-stream: do not cache
			return
		}
		size, err := rd.Wait()
		fmt.Fprintf(out, "\ncomplete %d bytes, cacheable=%v, shared=%v\n", size, err == nil, rd.Shared())
	}

	serve(context.Background(), os.Stdout)
	serve(context.Background(), os.Stdout) // within Linger: served from memory
	// Output:
	// 200 video/mp4
	// moofmdat....
	// complete 12 bytes, cacheable=true, shared=false
	// 200 video/mp4
	// moofmdat....
	// complete 12 bytes, cacheable=true, shared=true
}
