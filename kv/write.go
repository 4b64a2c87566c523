package kv

import (
	"context"
	"fmt"
	"time"
)

// WriteOption adjusts one write call.
type WriteOption func(*writeOpts)

type writeOpts struct {
	token Token
	ttl   time.Duration
}

// WithToken makes the write use tok instead of a fresh token. Pass the same
// token when retrying or hedging a write so that it applies once.
func WithToken(tok Token) WriteOption { return func(o *writeOpts) { o.token = tok } }

// WithTTL sets the TTL of the item Put writes (Mutate takes TTLs per
// Mutation). The Store counts it from when it applies the write, plus up
// to Options.TTLJitter of it.
func WithTTL(d time.Duration) WriteOption { return func(o *writeOpts) { o.ttl = d } }

// Put writes key → value in record id of ns. See Mutate.
func (c *Client) Put(ctx context.Context, ns, id string, key, value []byte, opts ...WriteOption) error {
	var o writeOpts
	for _, f := range opts {
		f(&o)
	}
	return c.Mutate(ctx, ns, id, []Mutation{{Op: OpPut, Key: key, Value: value, TTL: o.ttl}}, WithToken(o.token))
}

// Delete deletes key from record id of ns. See Mutate.
func (c *Client) Delete(ctx context.Context, ns, id string, key []byte, opts ...WriteOption) error {
	return c.Mutate(ctx, ns, id, []Mutation{{Op: OpDelete, Key: key}}, opts...)
}

// DeleteRange deletes the keys in [start, end) of record id as one range
// tombstone; nil bounds are open. See Mutate.
func (c *Client) DeleteRange(ctx context.Context, ns, id string, start, end []byte, opts ...WriteOption) error {
	return c.Mutate(ctx, ns, id, []Mutation{{Op: OpDeleteRange, Key: start, End: end}}, opts...)
}

// DeleteRecord deletes record id of ns as one record tombstone, in constant
// time whatever its size. Chunks of its values are left for Sweep.
func (c *Client) DeleteRecord(ctx context.Context, ns, id string, opts ...WriteOption) error {
	return c.Mutate(ctx, ns, id, []Mutation{{Op: OpDeleteRecord}}, opts...)
}

// Mutate applies puts and deletes to record id of ns under one idempotency
// token (WithToken, else a fresh one). Mutations leave Timestamp zero: the
// Client stamps puts with the token's time and deletes one microsecond
// earlier, so a Mutate that deletes a range and writes into it keeps its
// writes (deletes apply first). Metadata on a put is stored beside the value
// and returned by Get.
//
// Puts of values longer than Options.ChunkThreshold are chunked: chunks are
// staged in ChunkNamespace(ns) first, then every mutation of the call is
// applied to the Store in one Apply. That Apply is atomic when the Store
// implements Atomic and reports true (kv/local; kv/cassandra, whose
// single-partition batch Cassandra applies as one mutation; MemStore);
// otherwise each mutation applies on its own. A chunked value is never
// visible partially either way: its manifest is one cell.
//
// An error may leave staged chunks behind (reclaimed by Sweep) and, on a
// non-atomic Store, some mutations applied; retry with the same token.
func (c *Client) Mutate(ctx context.Context, ns, id string, muts []Mutation, opts ...WriteOption) error {
	var o writeOpts
	for _, f := range opts {
		f(&o)
	}
	if err := firstErr(checkNamespace(ns), CheckID(id)); err != nil {
		return err
	}
	for i := range muts {
		if muts[i].Timestamp != 0 {
			return fmt.Errorf("%w: mutation %d: Timestamp is set by the Client from the token", ErrInvalid, i)
		}
	}
	tok := o.token
	if tok.IsZero() {
		var err error
		if tok, err = c.NewToken(); err != nil {
			return err
		}
	}
	if err := c.checkToken(tok); err != nil {
		return err
	}
	out, err := c.stamp(tok, muts)
	if err != nil {
		return err
	}
	for i := range out {
		m := &out[i]
		if m.Op != OpPut || len(m.Value) <= c.opts.ChunkThreshold {
			m.Metadata = encodeHeader(&header{user: m.Metadata})
			continue
		}
		h, err := c.stage(ctx, ns, id, tok, m)
		if err != nil {
			return err
		}
		m.Value = []byte{}
		m.Metadata = encodeHeader(h)
	}
	// Staging may have taken a while: a commit after the token window
	// could race Sweep, which reclaims unreferenced writes only once they
	// are older than the window.
	if err := c.checkToken(tok); err != nil {
		return err
	}
	return c.store.Apply(ctx, ns, id, out)
}

// stamp copies muts with Store timestamps and jittered TTLs, and validates
// the result against the Store contract.
func (c *Client) stamp(tok Token, muts []Mutation) ([]Mutation, error) {
	ts := tok.Micros()
	out := make([]Mutation, len(muts))
	for i, m := range muts {
		if m.Op == OpPut {
			m.Timestamp = ts
			if m.TTL > 0 {
				m.TTL += c.jitter(tok, m.Key, m.TTL)
			}
		} else {
			m.Timestamp = ts - 1
		}
		out[i] = m
	}
	if err := CheckMutations(out); err != nil {
		return nil, err
	}
	return out, nil
}
