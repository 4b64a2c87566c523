package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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

// run pushes until ctx ends.
func (p *pusher) run(ctx context.Context) error {
	m := p.loop.Manifest()
	for _, r := range m.Renditions {
		b, err := p.loop.Init(r.ID)
		if err != nil {
			return err
		}
		if err := p.put(ctx, "init-"+r.ID+".mp4", b); err != nil {
			return err
		}
	}
	if latest, ok := p.loop.Epoch().Latest(time.Now()); ok && p.backfill > 0 {
		from := latest - uint64(min(p.backfill, int(latest)))
		for n := from; n <= latest; n++ {
			for _, r := range m.Renditions {
				b, err := p.loop.Segment(r.ID, n)
				if err != nil {
					return err
				}
				if err := p.put(ctx, fmt.Sprintf("seg-%s-%d.m4s", r.ID, n), b); err != nil {
					return err
				}
			}
		}
	}
	err := p.loop.Run(ctx, func(c segment.Chunk) error {
		return p.put(ctx, fmt.Sprintf("seg-%s-%d.m4s", c.Rendition, c.Number), c.Data)
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
