package kv

import "context"

// SweepStats counts what one Sweep did (a plain value).
type SweepStats struct {
	Writes  int // chunk writes examined
	Young   int // kept: inside the token window, may still commit
	Live    int // kept: their item still references them
	Deleted int // reclaimed with one record tombstone each
}

// Sweep reclaims orphaned chunks of ns: writes whose item no longer names
// them (overwritten, deleted, expired) or never did (the writer died before
// its commit). Only writes older than MaxTokenAge+MaxTokenSkew+SweepMargin
// are considered: younger ones may still commit, and none older can, since
// a commit checks its token's age first. Each orphan goes with one record
// tombstone. Run it periodically (e.g. hourly) from one process; running
// it from several at once is safe but wasteful.
//
// A reader that fetched a manifest just before its chunks are swept
// re-reads the item and serves its new value, or ErrCorrupt if the old
// manifest is still current (which Sweep never causes).
func (c *Client) Sweep(ctx context.Context, ns string) (SweepStats, error) {
	var st SweepStats
	if err := checkNamespace(ns); err != nil {
		return st, err
	}
	horizon := c.now().Add(-(c.opts.MaxTokenAge + c.opts.MaxTokenSkew + SweepMargin)).UnixMicro()
	chunkNS := ChunkNamespace(ns)
	var cursor []byte
	for {
		recs, next, err := c.store.IDs(ctx, chunkNS, cursor, 256)
		if err != nil {
			return st, err
		}
		for _, rec := range recs {
			st.Writes++
			wid, ok := parseWriteID(rec)
			if ok && wid.micros() > horizon {
				st.Young++
				continue
			}
			live := false
			if ok {
				if live, err = c.referenced(ctx, ns, chunkNS, rec, wid); err != nil {
					return st, err
				}
			}
			if live {
				st.Live++
				continue
			}
			del := []Mutation{{Op: OpDeleteRecord, Timestamp: c.now().UnixMicro()}}
			if err := c.store.Apply(ctx, chunkNS, rec, del); err != nil {
				return st, err
			}
			st.Deleted++
			c.log.Debug("kv: swept orphaned chunks", "ns", ns, "write", rec)
		}
		if next == nil {
			return st, nil
		}
		cursor = next
	}
}

// referenced reports whether the item that staged write wid still names it.
func (c *Client) referenced(ctx context.Context, ns, chunkNS, rec string, wid writeID) (bool, error) {
	res, err := c.store.Read(ctx, chunkNS, rec, Query{Keys: [][]byte{{}}})
	if err != nil || len(res.Items) == 0 {
		return false, err
	}
	id, key, ok := decodeOwner(res.Items[0].Value)
	if !ok || CheckID(id) != nil || CheckKey(key) != nil {
		return false, nil
	}
	res, err = c.store.Read(ctx, ns, id, Query{Keys: [][]byte{key}})
	if err != nil || len(res.Items) == 0 {
		return false, err
	}
	h, err := decodeHeader(res.Items[0].Metadata)
	return err == nil && h.chunked && h.m.id == wid, nil
}
