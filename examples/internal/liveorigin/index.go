package liveorigin

import (
	"sort"
	"sync"
	"time"

	"github.com/edgekit/edgekit/segment"
)

// channel is the in-memory index of one channel: renditions, their inits per
// pipeline and the candidates of every segment number in the window. The
// bytes live in kv; the index holds only Infos.
type channel struct {
	name string

	mu         sync.Mutex // guards renditions, anchors
	renditions map[string]*rendition
	anchors    map[string]*anchor // per pipeline
}

// anchor maps one ingest session of a pipeline onto the epoch.
type anchor struct {
	offset time.Duration   // added to the encoder's media time
	media  map[string]bool // renditions that sent media in this session
}

type rendition struct {
	id    string
	inits map[string]*segment.Init // per pipeline
	last  map[string]*segment.Info // per pipeline: the last stored segment, for gap checks
	slots map[uint64]*slot
}

// slot is one segment number of one rendition.
type slot struct {
	cands map[string]*segment.Info // per pipeline
	ready chan struct{}            // closed once a valid candidate exists
	fetch int                      // serving requests answered with a body
}

func newChannel(name string) *channel {
	return &channel{name: name, renditions: make(map[string]*rendition), anchors: make(map[string]*anchor)}
}

// renditionLocked returns rendition id, creating it.
func (c *channel) renditionLocked(id string) *rendition {
	r := c.renditions[id]
	if r == nil {
		r = &rendition{id: id, inits: make(map[string]*segment.Init), last: make(map[string]*segment.Info), slots: make(map[uint64]*slot)}
		c.renditions[id] = r
	}
	return r
}

// slotLocked returns slot n, creating it.
func (r *rendition) slotLocked(n uint64) *slot {
	s := r.slots[n]
	if s == nil {
		s = &slot{cands: make(map[string]*segment.Info), ready: make(chan struct{})}
		r.slots[n] = s
	}
	return s
}

// addLocked files a candidate and reports whether it published the number
// (the first valid candidate for it).
func (r *rendition) addLocked(pipeline string, info *segment.Info) (published bool) {
	s := r.slotLocked(info.Number)
	wasReady := s.readyLocked()
	s.cands[pipeline] = info
	if info.Valid() && !wasReady {
		close(s.ready)
		return true
	}
	return false
}

func (s *slot) readyLocked() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// selectLocked picks the candidate to serve for slot n: the first valid one
// in pipeline order. ok is false when there is none.
func (r *rendition) selectLocked(n uint64, order []string) (pipeline string, info *segment.Info, ok bool) {
	s := r.slots[n]
	if s == nil || !s.readyLocked() {
		return "", nil, false
	}
	cands := make([]segment.Candidate, 0, len(s.cands))
	for p, in := range s.cands {
		cands = append(cands, segment.Candidate{Pipeline: p, Info: in})
	}
	sel, err := segment.Select(n, order, cands)
	if err != nil {
		return "", nil, false
	}
	return sel.Pipeline, sel.Info, true
}

// initLocked returns the init segment to serve: the first pipeline in order
// that has one. Pipelines of one channel must use the same encoder settings,
// so their inits are interchangeable.
func (r *rendition) initLocked(order []string) *segment.Init {
	for _, p := range order {
		if in := r.inits[p]; in != nil {
			return in
		}
	}
	names := make([]string, 0, len(r.inits))
	for p := range r.inits {
		names = append(names, p)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil
	}
	return r.inits[names[0]]
}

// pruneLocked drops slots older than oldest; their waiters have long gone
// (a hold never outlives one segment) and their bytes expire in kv.
func (r *rendition) pruneLocked(oldest uint64) {
	for n := range r.slots {
		if n < oldest {
			delete(r.slots, n)
		}
	}
}

// windowLocked returns the selected Infos of numbers [from, to], ascending.
func (r *rendition) windowLocked(from, to uint64, order []string) []segment.Info {
	var out []segment.Info
	for n := from; n <= to; n++ {
		if _, in, ok := r.selectLocked(n, order); ok {
			out = append(out, *in)
		}
	}
	return out
}
