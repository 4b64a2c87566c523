package timeseries

import (
	"context"
	"sync"
)

// buffer queues writes for Options.Coalesce so that a burst becomes one
// Apply per partition (Netflix's per-instance queues for loss-tolerant
// namespaces).
type buffer struct {
	mu    sync.Mutex // guards pend, bytes
	pend  []pending
	bytes int
}

// add queues batch and returns the buffered bytes.
func (b *buffer) add(batch []pending) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range batch {
		b.bytes += len(p.ev.ID) + 16
		for _, it := range p.ev.Items {
			b.bytes += len(it.Key) + len(it.Value)
		}
	}
	b.pend = append(b.pend, batch...)
	return b.bytes
}

// take empties the buffer.
func (b *buffer) take() []pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pend
	b.pend, b.bytes = nil, 0
	return p
}

// Flush writes every buffered event and returns once they are in the
// store. Without Options.Coalesce it does nothing. Events of a failed flush
// are dropped (and counted in Stats.EventsDropped): the buffer is for
// namespaces that accept loss.
func (n *Namespace) Flush(ctx context.Context) error {
	n.openMu.RLock() // Close waits for this flush: see Namespace.openMu
	defer n.openMu.RUnlock()
	if err := n.checkOpen(); err != nil {
		return err
	}
	return n.flushBuffer(ctx)
}

func (n *Namespace) flushBuffer(ctx context.Context) error {
	if n.buf == nil {
		return nil
	}
	batch := n.buf.take()
	err := n.writeNow(ctx, len(batch), func(i int) (string, *Event) { return batch[i].series, &batch[i].ev })
	if err != nil {
		n.stats.eventsDropped.Add(int64(len(batch)))
	}
	return err
}
