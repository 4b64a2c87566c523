package edgecache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/edgekit/edgekit/coalesce"
	"github.com/edgekit/edgekit/ktls"
)

// openMiss joins or starts the flight for key; fromPeer marks a peer
// edge's request, which must go to the origin.
func (e *Edge) openMiss(ctx context.Context, key string, fromPeer bool) (*coalesce.Reader[*head], error) {
	// Flights are keyed by object and upstream: a peer's request (which must
	// go to the origin) never joins a flight that waits on a peer, so two
	// edges that disagree on ownership (a membership change in progress)
	// cannot wait on each other. On the owner both kinds go to the origin
	// and share one flight.
	flightKey := key + "\x00peer"
	if fromPeer || e.ring.LocateString(key) == e.cfg.Self {
		flightKey = key + "\x00origin"
	}
	return e.flight.Open(ctx, flightKey, func(ctx context.Context, fw *coalesce.Writer[*head]) error {
		return e.fill(ctx, key, flightKey, fromPeer, fw)
	})
}

// upstreamStatus is the status a viewer gets for a failed flight: 504 for
// an upstream that stalled or timed out, else 502.
func upstreamStatus(err error) int {
	var ue *upstreamError
	if errors.As(err, &ue) && ue.timeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// missDone counts a miss response of n body bytes.
func (e *Edge) missDone(shared bool, n int64, start time.Time) {
	e.m.bytesOut.Add(n)
	if shared {
		e.m.coalesced.Add(1)
		e.m.coLatency.observe(time.Since(start))
	} else {
		e.m.misses.Add(1)
		e.m.missLatency.observe(time.Since(start))
	}
}

// A miss body that is still arriving goes to viewers in writes of at
// least missBatch bytes, or what there is once a viewer has waited
// missBatchWait (the end of the body always goes at once). An origin sends
// a body in pieces of a few KiB; with thousands of viewers on one flight,
// a write and a wake-up per piece for each of them is most of the cost of
// a herd, and the wake-ups of viewers already streaming delay the heads of
// those still waiting. The bound keeps a low-latency chunk that is smaller
// than a batch from waiting for the next one.
const (
	missBatch     = 256 << 10
	missBatchWait = 50 * time.Millisecond
)

// missOut is where a miss body goes once its head is out: Write sends
// bytes from memory, sendFile a range of a file (by sendfile where the
// connection can), and bySendfile reports whether any body byte went by
// sendfile.
type missOut interface {
	io.Writer
	sendFile(f *os.File, off, n int64) (int64, error)
	canSendFile() bool
	bySendfile() bool
}

// streamMissBody sends a miss body, its head already out, as it arrives,
// in batches: from bf when the fill writes one and out can send from a
// file, else from the flight's memory. It counts how the body left.
func (e *Edge) streamMissBody(rd *coalesce.Reader[*head], bf *bodyFile, out missOut) (int64, error) {
	// When a herd of viewers wakes on one header, each runs until it
	// blocks: without this yield the viewers that run first go on to copy
	// body bytes while the heads of thousands behind them wait their turn.
	// Yielding here sends every waiting head before any body copy.
	runtime.Gosched()
	rd.SetBatch(missBatch, missBatchWait)
	var w io.Writer = out
	if bf != nil && out.canSendFile() && bf.tryAcquire() {
		defer bf.release()
		w = &fileWriter{out: out, bf: bf}
	}
	n, err := rd.WriteTo(w)
	if out.bySendfile() {
		e.m.missSendfile.Add(1)
	} else {
		e.m.missCopied.Add(1)
	}
	return n, err
}

// fileWriter sends a miss body from its bodyFile: each piece the flight
// hands it goes out from the same offset of the file, instead of being
// copied from memory into the socket. Once the file is broken it writes
// the pieces themselves.
type fileWriter struct {
	out missOut
	bf  *bodyFile
	off int64
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.bf.broken.Load() {
		n, err := f.out.Write(p)
		f.off += int64(n)
		return n, err
	}
	n, err := f.out.sendFile(f.bf.f, f.off, int64(len(p)))
	f.off += n
	if err == nil && n < int64(len(p)) {
		err = io.ErrShortWrite
	}
	return int(n), err
}

// httpOut is a miss body's way out through net/http: each write flushed,
// so a viewer gets each piece of a body still arriving at once, and file
// ranges through the ResponseWriter's ReadFrom (sendfile under ktls.Serve,
// which ktls.Conn.ReadFrom does for an *io.SectionReader of a file).
type httpOut struct {
	w    http.ResponseWriter
	rf   io.ReaderFrom // nil: no ReadFrom
	conn *ktls.Conn    // nil: not a ktls connection, so no sendfile to count
	sent int64         // conn's sendfile bytes before the first sendFile
	used bool
}

func (o *httpOut) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if fl, ok := o.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

func (o *httpOut) canSendFile() bool { return o.rf != nil }

func (o *httpOut) sendFile(f *os.File, off, n int64) (int64, error) {
	if !o.used && o.conn != nil {
		o.sent = o.conn.Stats().SendfileBytes
	}
	o.used = true
	return o.rf.ReadFrom(io.NewSectionReader(f, off, n))
}

func (o *httpOut) bySendfile() bool {
	return o.used && o.conn != nil && o.conn.Stats().SendfileBytes > o.sent
}
