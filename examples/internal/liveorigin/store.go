package liveorigin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/segment"
)

// kv namespaces (see the package doc for the layout).
const (
	nsInit = "lo_init"
	nsSeg  = "lo_seg"
	nsMeta = "lo_meta"
)

func segID(ch, rid string, n uint64) string { return fmt.Sprintf("%s/%s/%d", ch, rid, n) }

// reload rebuilds the in-memory index from kv: channels, inits, and the Infos
// of the current window, so a restarted origin serves what it had.
func (s *Server) reload(ctx context.Context) error {
	chans, err := s.allKeys(ctx, nsMeta, "channels")
	if err != nil {
		return fmt.Errorf("reload channels: %w", err)
	}
	now := s.cfg.Now()
	latest, _ := s.epoch.Latest(now)
	win := s.windowSegments()
	from := uint64(0)
	if latest > win {
		from = latest - win
	}
	for _, name := range chans {
		if !nameRE.MatchString(name) {
			continue
		}
		ch := s.channel(name)
		ids, err := s.idsWithPrefix(ctx, nsInit, name+"/")
		if err != nil {
			return fmt.Errorf("reload inits: %w", err)
		}
		for _, id := range ids {
			rid := strings.TrimPrefix(id, name+"/")
			pg, err := s.kv.Get(ctx, nsInit, id, kv.Query{})
			if err != nil {
				return fmt.Errorf("reload init %s: %w", id, err)
			}
			for _, it := range pg.Items {
				in, err := segment.InspectInit(it.Value)
				if err != nil {
					s.log.Warn("stored init unreadable; skipped", "id", id, "err", err)
					continue
				}
				ch.mu.Lock()
				ch.renditionLocked(rid).inits[string(it.Key)] = in
				ch.mu.Unlock()
			}
			for n := from; n <= latest+1; n++ {
				pg, err := s.kv.Get(ctx, nsSeg, segID(name, rid, n), kv.Query{Start: []byte("i/"), End: []byte("i0")})
				if err != nil {
					return fmt.Errorf("reload segment %d: %w", n, err)
				}
				for _, it := range pg.Items {
					info := new(segment.Info)
					if err := info.UnmarshalBinary(it.Value); err != nil {
						s.log.Warn("stored segment info unreadable; skipped", "id", segID(name, rid, n), "err", err)
						continue
					}
					ch.mu.Lock()
					ch.renditionLocked(rid).addLocked(strings.TrimPrefix(string(it.Key), "i/"), info)
					ch.mu.Unlock()
				}
			}
		}
	}
	return nil
}

// allKeys returns every key of record id.
func (s *Server) allKeys(ctx context.Context, ns, id string) ([]string, error) {
	var keys []string
	q := kv.Query{}
	for {
		pg, err := s.kv.Get(ctx, ns, id, q)
		if errors.Is(err, kv.ErrNotFound) {
			return keys, nil
		}
		if err != nil {
			return nil, err
		}
		for _, it := range pg.Items {
			keys = append(keys, string(it.Key))
		}
		if pg.Next == nil {
			return keys, nil
		}
		q.Cursor = pg.Next
	}
}

// idsWithPrefix lists the record ids of ns that start with prefix.
func (s *Server) idsWithPrefix(ctx context.Context, ns, prefix string) ([]string, error) {
	var out []string
	var cursor []byte
	for {
		ids, next, err := s.kv.IDs(ctx, ns, cursor, 1000)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		if next == nil {
			return out, nil
		}
		cursor = next
	}
}

// segmentBody reads the stored bytes of one candidate.
func (s *Server) segmentBody(ctx context.Context, ch, rid string, n uint64, pipe string) ([]byte, error) {
	return s.kv.GetValue(ctx, nsSeg, segID(ch, rid, n), []byte("b/"+pipe))
}
