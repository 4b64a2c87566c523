package timeseries

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Search returns, newest first and paginated like Read, the events of
// series in [from, to) that have at least one item for which match
// returns true. It scans the range (there is no secondary index): a page
// ends after Limit matches or at the end of the range, or early with
// Page.Partial under ReadOptions.SLO. match must not retain its arguments.
func (n *Namespace) Search(ctx context.Context, series string, from, to time.Time, match func(key string, value []byte) bool, opts *ReadOptions) (*Page, error) {
	if match == nil {
		return nil, fmt.Errorf("%w: nil match", ErrInvalid)
	}
	return n.scan(ctx, series, from, to, opts, 's', func(e *Event) bool {
		return slices.ContainsFunc(e.Items, func(it Item) bool { return match(it.Key, it.Value) })
	})
}

// Window is the aggregate of the events in [Start, Start+width) (a plain
// value).
type Window struct {
	Start time.Time
	// Count is the number of events in the window.
	Count int64
	// Values is the number of events that had a value; Sum, Min and Max
	// are over those values (zero when Values is 0).
	Values        int64
	Sum, Min, Max int64
}

// Aggregate folds the events of series in [from, to) into fixed windows of
// the given width, aligned to multiples of width since the Unix epoch, and
// returns the non-empty windows oldest first. value extracts the number to
// sum from an event (ItemInt reads one from an item); nil counts only. It
// reads the whole range; the result is exact for the events stored when
// each page was read, which makes it a rollup primitive: aggregate a window
// once it has left the accept window and it never changes (Netflix's
// distributed-counter rollup).
func (n *Namespace) Aggregate(ctx context.Context, series string, from, to time.Time, width time.Duration, value func(Event) (int64, bool)) ([]Window, error) {
	if width < time.Microsecond {
		return nil, fmt.Errorf("%w: window width %v", ErrInvalid, width)
	}
	wu := width.Microseconds()
	byStart := make(map[int64]*Window)
	opts := &ReadOptions{Limit: MaxPageEvents}
	for {
		p, err := n.scan(ctx, series, from, to, opts, 'a', nil)
		if err != nil {
			return nil, err
		}
		for _, e := range p.Events {
			us := e.Time.UnixMicro()
			ws := us - us%wu
			w := byStart[ws]
			if w == nil {
				w = &Window{Start: time.UnixMicro(ws).UTC()}
				byStart[ws] = w
			}
			w.Count++
			if value == nil {
				continue
			}
			if v, ok := value(e); ok {
				if w.Values == 0 || v < w.Min {
					w.Min = v
				}
				if w.Values == 0 || v > w.Max {
					w.Max = v
				}
				w.Values++
				w.Sum += v
			}
		}
		if p.Next == nil {
			break
		}
		opts.PageToken = p.Next
	}
	out := make([]Window, 0, len(byStart))
	for _, w := range byStart {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b Window) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// ItemInt returns a value function for Aggregate that parses the item key
// as a decimal int64; events without it, or with a non-number, count but
// carry no value.
func ItemInt(key string) func(Event) (int64, bool) {
	return func(e Event) (int64, bool) {
		v, ok := e.Item(key)
		if !ok {
			return 0, false
		}
		x, err := strconv.ParseInt(string(v), 10, 64)
		return x, err == nil
	}
}
