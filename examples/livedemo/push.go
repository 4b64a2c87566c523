package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/edgekit/edgekit/segment"
)

// pusher plays a segment.Loop into the origin the way an encoder would:
// inits first, then every segment by HTTP PUT as soon as it is complete.
type pusher struct {
	loop     *segment.Loop
	base     string // origin ingest URL up to the pipeline: http://host/ingest/<channel>/<pipeline>/
	token    string
	client   *http.Client
	backfill int // segments before the live edge pushed at start
	// only, if set, limits the renditions pushed.
	only map[string]bool
	// published, if set, is called after the origin accepted a segment.
	published func(rendition string, n uint64)
}

func (p *pusher) put(ctx context.Context, name string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.base+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Ingest-Token", p.token)
	req.Header.Set("Content-Type", "video/mp4")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("PUT %s: %s: %s", name, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// run pushes until ctx ends. Each rendition has its own PUT stream, as
// ffmpeg's dash muxer keeps one connection per representation, so a slow
// upload of one rendition does not delay the others.
func (p *pusher) run(ctx context.Context) error {
	var rids []string
	for _, r := range p.loop.Manifest().Renditions {
		if p.only == nil || p.only[r.ID] {
			rids = append(rids, r.ID)
		}
	}
	for _, r := range rids {
		b, err := p.loop.Init(r)
		if err != nil {
			return err
		}
		if err := p.put(ctx, "init-"+r+".mp4", b); err != nil {
			return stopped(ctx, err)
		}
	}
	if latest, ok := p.loop.Epoch().Latest(time.Now()); ok && p.backfill > 0 {
		from := latest - uint64(min(p.backfill, int(latest)))
		for n := from; n <= latest; n++ {
			for _, r := range rids {
				b, err := p.loop.Segment(r, n)
				if err != nil {
					return err
				}
				if err := p.putSegment(ctx, r, n, b); err != nil {
					return stopped(ctx, err)
				}
			}
		}
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queues := make(map[string]chan segment.Chunk, len(rids))
	var wg sync.WaitGroup
	for _, r := range rids {
		q := make(chan segment.Chunk, 8)
		queues[r] = q
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range q {
				if err := p.putSegment(ctx, c.Rendition, c.Number, c.Data); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	err := p.loop.Run(ctx, func(c segment.Chunk) error {
		q := queues[c.Rendition]
		if q == nil {
			return nil
		}
		select {
		case q <- c:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	switch {
	case parent.Err() != nil:
		return nil // asked to stop
	case context.Cause(ctx) != nil:
		return context.Cause(ctx) // a PUT failed
	}
	return err
}

// stopped hides err when ctx ended: a PUT cut short by the stop is no failure.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (p *pusher) putSegment(ctx context.Context, rid string, n uint64, b []byte) error {
	if err := p.put(ctx, fmt.Sprintf("seg-%s-%d.m4s", rid, n), b); err != nil {
		return err
	}
	if p.published != nil {
		p.published(rid, n)
	}
	return nil
}
