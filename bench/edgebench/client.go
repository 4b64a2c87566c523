package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Result is one GET as a viewer saw it.
type Result struct {
	Status int
	TTFB   time.Duration // request written → first response byte
	TTLB   time.Duration // request written → last body byte
	Start  time.Time     // when the request was written
	Bytes  int64
	Err    error // transport error, short body or a body that failed the check
	Cache  string
}

// OK reports a 200 with a complete, verified body.
func (r Result) OK() bool { return r.Err == nil && r.Status == http.StatusOK }

// Errors a fetch can end with besides transport errors.
var (
	ErrShortBody = errors.New("edgebench: short body")
	ErrBadBody   = errors.New("edgebench: body does not match the origin's pattern")
	ErrTimeout   = errors.New("edgebench: request timed out")
)

// Conn is one persistent HTTP/1.1 client connection. It is written by hand
// rather than with net/http's Transport so that a herd can open every
// connection before the burst and time the first response byte exactly.
// Not safe for concurrent use.
type Conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

// Dial opens a connection to addr.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{addr: addr, c: c, br: bufio.NewReaderSize(c, 4<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// Get fetches path and reads the whole body before timeout passes. A 200
// must carry want bytes (want < 0: whatever Content-Length says); verify
// checks every body byte against the origin's pattern. On any error the
// connection is closed, and a later Get redials.
func (c *Conn) Get(ctx context.Context, path string, want int64, timeout time.Duration, verify bool) Result {
	var res Result
	if c.c == nil {
		nc, err := Dial(ctx, c.addr)
		if err != nil {
			res.Err = err
			return res
		}
		*c = *nc
	}
	deadline := time.Now().Add(timeout)
	_ = c.c.SetDeadline(deadline)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + c.addr + "\r\nUser-Agent: edgebench\r\n\r\n"
	res.Start = time.Now()
	if _, err := io.WriteString(c.c, req); err != nil {
		return c.fail(res, err)
	}
	if _, err := c.br.Peek(1); err != nil {
		return c.fail(res, err)
	}
	res.TTFB = time.Since(res.Start)
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return c.fail(res, err)
	}
	res.Status = resp.StatusCode
	res.Cache = resp.Header.Get("X-Cache")
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	n, err := readBody(resp.Body, *bp, PathSeed(path), verify && resp.StatusCode == http.StatusOK)
	res.Bytes = n
	res.TTLB = time.Since(res.Start)
	if err != nil {
		var ne net.Error
		if !errors.Is(err, ErrBadBody) && !(errors.As(err, &ne) && ne.Timeout()) {
			// Headers came but the body did not: the proxy cut it.
			err = fmt.Errorf("%w: %v", ErrShortBody, err)
		}
		return c.fail(res, err)
	}
	if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 && n != resp.ContentLength {
		return c.fail(res, fmt.Errorf("%w: %d of %d", ErrShortBody, n, resp.ContentLength))
	}
	if want >= 0 && resp.StatusCode == http.StatusOK && n != want {
		return c.fail(res, fmt.Errorf("%w: %d of %d", ErrShortBody, n, want))
	}
	if resp.Close {
		_ = c.Close()
	}
	return res
}

func (c *Conn) fail(res Result, err error) Result {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %v", ErrShortBody, err)
	}
	res.Err = err
	if res.TTLB == 0 {
		res.TTLB = time.Since(res.Start)
	}
	_ = c.Close()
	return res
}

// readBody drains body, checking the fill pattern when verify is set. It
// returns the number of bytes read; a trailing partial word is counted
// but cannot be checked (the length check catches such a body).
func readBody(body io.ReadCloser, buf []byte, seed uint64, verify bool) (int64, error) {
	defer body.Close()
	var off int64 // bytes checked (a multiple of 8)
	var carry [8]byte
	nc := 0 // bytes of a word split across reads, waiting in carry
	for {
		n, err := body.Read(buf)
		p := buf[:n]
		if !verify {
			off += int64(n)
			p = nil
		}
		if nc > 0 && len(p) > 0 {
			k := copy(carry[nc:], p)
			nc += k
			p = p[k:]
			if nc == 8 {
				if binary.LittleEndian.Uint64(carry[:]) != seed^uint64(off/8) {
					return off, ErrBadBody
				}
				off += 8
				nc = 0
			}
		}
		if len(p) > 0 {
			full := len(p) &^ 7
			if bad := checkWords(p[:full], seed, uint64(off/8)); bad >= 0 {
				return off + int64(bad), ErrBadBody
			}
			off += int64(full)
			nc = copy(carry[:], p[full:])
		}
		if err == io.EOF {
			return off + int64(nc), nil
		}
		if err != nil {
			return off + int64(nc), err
		}
	}
}

func isTimeout(err error) bool { return errors.Is(err, ErrTimeout) }

// checkWords checks that each 8-byte little-endian word of p (whose
// length is a multiple of 8) is seed^(w+i), and returns the byte offset of
// the first that is not, or -1. It compares four words per step and looks
// for the culprit only on a mismatch: the live workload verifies every
// byte of ~20 GB of bodies on the cores the servers use, so the check
// must cost the servers as little CPU as it can.
func checkWords(p []byte, seed, w uint64) int {
	i := 0
	for ; i+32 <= len(p); i += 32 {
		q := p[i : i+32 : i+32]
		d := binary.LittleEndian.Uint64(q[0:]) ^ (seed ^ w)
		d |= binary.LittleEndian.Uint64(q[8:]) ^ (seed ^ (w + 1))
		d |= binary.LittleEndian.Uint64(q[16:]) ^ (seed ^ (w + 2))
		d |= binary.LittleEndian.Uint64(q[24:]) ^ (seed ^ (w + 3))
		if d != 0 {
			break
		}
		w += 4
	}
	for ; i+8 <= len(p); i += 8 {
		if binary.LittleEndian.Uint64(p[i:]) != seed^w {
			return i
		}
		w++
	}
	return -1
}
