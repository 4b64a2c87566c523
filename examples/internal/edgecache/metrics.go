package edgecache

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds (seconds) of the latency histograms:
// sub-millisecond hits up to held-open misses of a few seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// histogram is a Prometheus histogram with atomic counters.
type histogram struct {
	counts [15]atomic.Int64 // one per bucket plus +Inf
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, s)
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *histogram) write(w io.Writer, name, labels string) {
	var cum int64
	for i, le := range latencyBuckets {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{%sle=\"%g\"} %d\n", name, labels, le, cum)
	}
	cum += h.counts[len(latencyBuckets)].Load()
	fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, cum)
	l := ""
	if labels != "" {
		l = "{" + labels[:len(labels)-1] + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", name, l, float64(h.sumNs.Load())/1e9, name, l, cum)
}

// metrics are the edge's counters. Every field is updated atomically.
type metrics struct {
	hits, misses, coalesced            atomic.Int64
	originFetches, peerFetches         atomic.Int64
	refilled                           atomic.Int64
	upstreamErrors, peerFailovers      atomic.Int64
	resumes, resumed                   atomic.Int64
	bytesOut, bytesIn                  atomic.Int64
	sendfile, copied                   atomic.Int64
	missSendfile, missCopied           atomic.Int64
	headsByFill                        atomic.Int64
	badRequests                        atomic.Int64
	hitLatency, missLatency, coLatency histogram

	vmu     sync.Mutex           // guards viewers
	viewers map[string]time.Time // remote address → last manifest request
}

// viewer notes that addr asked for a manifest.
func (m *metrics) viewer(addr string, now time.Time) {
	m.vmu.Lock()
	m.viewers[addr] = now
	m.vmu.Unlock()
}

// activeViewers counts addresses that asked for a manifest since since,
// and forgets older ones.
func (m *metrics) activeViewers(since time.Time) int {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	for a, t := range m.viewers {
		if t.Before(since) {
			delete(m.viewers, a)
		}
	}
	return len(m.viewers)
}

// Stats is a snapshot of an Edge's counters. Plain value.
type Stats struct {
	Hits, Misses, Coalesced    int64 // requests served from cache, by an own upstream fetch, by joining another's
	OriginFetches, PeerFetches int64 // upstream requests this edge made
	Refilled                   int64 // flights served from the cache: their request missed just as the body was stored
	UpstreamErrors             int64 // upstream attempts that failed (connect, timeout, 5xx)
	PeerFailovers              int64 // requests that moved to the next member after a failed peer
	Resumes, Resumed           int64 // Range requests for the rest of a body the origin cut short; bodies made whole by them
	BytesOut, BytesIn          int64 // body bytes sent to clients, fetched upstream
	BadRequests                int64 // requests refused with a 4xx
	SendFile, Copied           int64 // hits whose body left by sendfile / by copy
	MissSendFile, MissCopied   int64 // miss and coalesced bodies (GETs) sent from the body file by sendfile / from memory
	MissHeadsByFill            int64 // lane miss heads the flight's fill wrote for its waiting viewers (see headCast)
	Viewers                    int   // distinct client addresses asking for manifests lately
	CacheEntries               int
	CacheBytes                 int64
}

// HitRatio is hits / (hits + misses + coalesced), or NaN with no requests.
func (s Stats) HitRatio() float64 {
	total := s.Hits + s.Misses + s.Coalesced
	if total == 0 {
		return math.NaN()
	}
	return float64(s.Hits) / float64(total)
}

// writeMetrics writes the Prometheus text exposition by hand: a few
// counters and histograms do not need a client library.
func (e *Edge) writeMetrics(w io.Writer) {
	st := e.Stats()
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	fmt.Fprintf(w, "# HELP edge_requests_total Requests by how they were served.\n# TYPE edge_requests_total counter\n")
	fmt.Fprintf(w, "edge_requests_total{result=\"hit\"} %d\nedge_requests_total{result=\"miss\"} %d\nedge_requests_total{result=\"coalesced\"} %d\n", st.Hits, st.Misses, st.Coalesced)
	counter("edge_origin_fetches_total", "Requests this edge sent to the origin.", st.OriginFetches)
	counter("edge_peer_fetches_total", "Requests this edge sent to the owning peer edge.", st.PeerFetches)
	counter("edge_flights_from_cache_total", "Flights served from the cache because their request missed just as the previous flight stored the body.", st.Refilled)
	counter("edge_upstream_errors_total", "Upstream attempts that failed (connect error, timeout, 5xx, cut body).", st.UpstreamErrors)
	counter("edge_origin_resumes_total", "Range requests for the rest of a body the origin cut short (see Config.ResumeAttempts).", st.Resumes)
	counter("edge_origin_resumed_bodies_total", "Bodies the origin cut short that resuming made whole.", st.Resumed)
	counter("edge_peer_failovers_total", "Requests moved to the next member of the key's LocateN list.", st.PeerFailovers)
	counter("edge_bytes_sent_total", "Body bytes sent to clients.", st.BytesOut)
	counter("edge_bytes_fetched_total", "Body bytes received from the origin or peers.", st.BytesIn)
	counter("edge_bad_requests_total", "Requests refused with a 4xx (bad path, method).", st.BadRequests)
	fmt.Fprintf(w, "# HELP edge_hit_bodies_total Cache hits by how the body left.\n# TYPE edge_hit_bodies_total counter\n")
	fmt.Fprintf(w, "edge_hit_bodies_total{method=\"sendfile\"} %d\nedge_hit_bodies_total{method=\"copy\"} %d\n", st.SendFile, st.Copied)
	fmt.Fprintf(w, "# HELP edge_miss_bodies_total Miss and coalesced GETs by how the body left: by sendfile from the body file the fill writes, or copied from memory.\n# TYPE edge_miss_bodies_total counter\n")
	fmt.Fprintf(w, "edge_miss_bodies_total{method=\"sendfile\"} %d\nedge_miss_bodies_total{method=\"copy\"} %d\n", st.MissSendFile, st.MissCopied)
	counter("edge_miss_heads_by_fill_total", "Response heads of lane misses written by the flight's fill, in one loop for every viewer waiting, before any viewer woke.", st.MissHeadsByFill)
	fmt.Fprintf(w, "# HELP edge_viewers Distinct client addresses that asked for a manifest in the last 10 s.\n# TYPE edge_viewers gauge\nedge_viewers %d\n", st.Viewers)
	fmt.Fprintf(w, "# HELP edge_cache_bytes Bytes held by the cache.\n# TYPE edge_cache_bytes gauge\nedge_cache_bytes %d\n", st.CacheBytes)
	fmt.Fprintf(w, "# HELP edge_request_duration_seconds Time to the end of the response, by result.\n# TYPE edge_request_duration_seconds histogram\n")
	e.m.hitLatency.write(w, "edge_request_duration_seconds", `result="hit",`)
	e.m.missLatency.write(w, "edge_request_duration_seconds", `result="miss",`)
	e.m.coLatency.write(w, "edge_request_duration_seconds", `result="coalesced",`)
	// Named as the Prometheus Go collector names it, so dashboards and
	// soak tests that watch for goroutine leaks find it.
	fmt.Fprintf(w, "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
}
