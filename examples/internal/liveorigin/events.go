package liveorigin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"time"

	"github.com/edgekit/edgekit/timeseries"
)

// Event kinds.
const (
	EventPublished = "published" // first valid candidate of a segment number stored
	EventDefect    = "defect"    // a refused or defective segment or init
	EventLate      = "late"      // stored after its availability time plus half a segment
)

// Event is one thing worth recording about ingest. Plain value.
type Event struct {
	Kind      string
	Channel   string
	Rendition string
	Pipeline  string
	Number    uint64
	Size      int
	Detail    string
}

// Recorder records events. Implementations must be safe for concurrent use
// and must not block ingest for long: Record is called on the request path.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, Event) {}

// TimeseriesRecorder writes events to a timeseries.Namespace, one series per
// channel and kind ("<channel>/<kind>"), with the event's fields as items.
// Write errors are logged, never returned: losing an event must not fail an
// ingest. It is safe for concurrent use.
type TimeseriesRecorder struct {
	NS     *timeseries.Namespace
	Logger *slog.Logger
	Now    func() time.Time
}

// Record implements Recorder.
func (t *TimeseriesRecorder) Record(ctx context.Context, e Event) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	items := []timeseries.Item{
		{Key: "rendition", Value: []byte(e.Rendition)},
		{Key: "pipeline", Value: []byte(e.Pipeline)},
		{Key: "number", Value: []byte(strconv.FormatUint(e.Number, 10))},
	}
	if e.Size > 0 {
		items = append(items, timeseries.Item{Key: "size", Value: []byte(strconv.Itoa(e.Size))})
	}
	if e.Detail != "" {
		items = append(items, timeseries.Item{Key: "detail", Value: []byte(e.Detail)})
	}
	err := t.NS.Write(context.WithoutCancel(ctx), e.Channel+"/"+e.Kind, timeseries.Event{Time: now(), ID: hex.EncodeToString(id[:]), Items: items})
	if err != nil && t.Logger != nil {
		t.Logger.Warn("event not recorded", "kind", e.Kind, "channel", e.Channel, "err", err)
	}
}
