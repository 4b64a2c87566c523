package coalesce_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/edgekit/edgekit/coalesce"
)

// TestStreamOnHeader: the functions Readers register with OnHeader run
// once each, in order, with the header, before any Reader's Header
// returns; a Reader that closed first is skipped; registering after the
// header is published is refused.
func TestStreamOnHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coalesce.NewStream[string, hdr](nil)
		release := make(chan struct{})
		var returned atomic.Int32 // Header calls that returned
		var mu sync.Mutex         // guards ran
		var ran []int
		fill := func(ctx context.Context, w *coalesce.Writer[hdr]) error {
			<-release
			if err := w.SetHeader(hdr{Status: 200}); err != nil {
				return err
			}
			_, err := io.WriteString(w, "body")
			return err
		}
		const n = 4
		var rds []*coalesce.Reader[hdr]
		for i := range n {
			rd, err := s.Open(context.Background(), "k", fill)
			if err != nil {
				t.Fatal(err)
			}
			rds = append(rds, rd)
			ok := rd.OnHeader(func(h hdr) {
				if h.Status != 200 {
					t.Errorf("hook %d got %+v", i, h)
				}
				if r := returned.Load(); r != 0 {
					t.Errorf("hook %d ran after %d Header calls returned", i, r)
				}
				mu.Lock()
				ran = append(ran, i)
				mu.Unlock()
			})
			if !ok {
				t.Fatalf("OnHeader %d refused before the header", i)
			}
			if rd.OnHeader(func(hdr) {}) {
				t.Fatalf("a second OnHeader on reader %d was accepted", i)
			}
		}
		rds[2].Close() // its hook must not run
		var wg sync.WaitGroup
		for i, rd := range rds {
			if i == 2 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if h, err := rd.Header(); err != nil || h.Status != 200 {
					t.Errorf("reader %d: Header = %+v, %v", i, h, err)
				}
				returned.Add(1)
			}()
		}
		synctest.Wait() // every Header call is blocked
		close(release)
		wg.Wait()
		mu.Lock()
		if got := ran; len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 3 {
			t.Errorf("hooks ran %v, want [0 1 3]", got)
		}
		mu.Unlock()
		if rds[0].OnHeader(func(hdr) { t.Error("late hook ran") }) {
			t.Error("OnHeader accepted after the header was published")
		}
		for i, rd := range rds {
			if i != 2 {
				if b, err := io.ReadAll(rd); err != nil || string(b) != "body" {
					t.Errorf("reader %d: ReadAll = %q, %v", i, b, err)
				}
			}
			rd.Close()
		}
	})
}

// TestStreamOnHeaderWithoutSetHeader: a fill that writes without
// SetHeader runs the hooks with the zero header at its first Write; one
// that fails before any header runs none, and Header returns its error.
func TestStreamOnHeaderWithoutSetHeader(t *testing.T) {
	errNo := errors.New("no such object")
	for _, tc := range []struct {
		name string
		fill func(w *coalesce.Writer[hdr]) error
		runs int32
		err  error
	}{
		{"first write", func(w *coalesce.Writer[hdr]) error { _, err := io.WriteString(w, "x"); return err }, 1, nil},
		{"failure", func(w *coalesce.Writer[hdr]) error { return errNo }, 0, errNo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := coalesce.NewStream[string, hdr](nil)
				release := make(chan struct{})
				rd, err := s.Open(context.Background(), "k", func(ctx context.Context, w *coalesce.Writer[hdr]) error {
					<-release
					return tc.fill(w)
				})
				if err != nil {
					t.Fatal(err)
				}
				defer rd.Close()
				var runs atomic.Int32
				if !rd.OnHeader(func(h hdr) {
					if h != (hdr{}) {
						t.Errorf("hook got %+v, want the zero header", h)
					}
					runs.Add(1)
				}) {
					t.Fatal("OnHeader refused")
				}
				close(release)
				if _, err := rd.Header(); !errors.Is(err, tc.err) {
					t.Errorf("Header error %v, want %v", err, tc.err)
				}
				if got := runs.Load(); got != tc.runs {
					t.Errorf("hook ran %d times, want %d", got, tc.runs)
				}
			})
		})
	}
}
