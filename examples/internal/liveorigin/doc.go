// Package liveorigin is the live origin behind examples/origin and
// examples/livedemo: it takes CMAF ingest over HTTP PUT/POST, inspects,
// epoch-locks and stores every segment through kv, records events in
// timeseries, and serves DASH and HLS manifests and segments to an edge tier.
//
// # Ingest
//
// The reference client is ffmpeg's dash muxer:
//
//	ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
//	  -c:v libx264 -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 -c:a aac -ar 48000 \
//	  -f dash -seg_duration 2 -streaming 1 -use_template 1 -use_timeline 0 \
//	  -init_seg_name 'init-$RepresentationID$.m4s' -media_seg_name 'seg-$RepresentationID$-$Number$.m4s' \
//	  -method PUT -http_opts 'headers=X-Ingest-Token\: SECRET' \
//	  http://127.0.0.1:8080/ingest/ch1/a/manifest.mpd
//
// Every object is one request to /ingest/<channel>/<pipeline>/<name>:
// init segments are named init-<rendition>.<ext> (ffmpeg's default
// init-stream<rendition>.m4s works too), media segments
// seg-<rendition>-<n>.m4s (or chunk-stream<rendition>-<n>.m4s); the
// encoder's manifests (*.mpd, *.m3u8) are accepted and ignored, because the
// origin renders its own; DELETE of an expired object is acknowledged with 204
// and otherwise ignored, because the origin expires segments itself (kv TTL
// and the serving window). Bodies may use chunked transfer encoding and arrive
// over one long request per segment (-streaming 1); the origin reads the whole
// body (up to Config.MaxBodySize) before it inspects it.
//
// Each request must carry the channel's ingest token, in X-Ingest-Token or as
// "Authorization: Bearer <token>"; without it the answer is 401, with a wrong
// one 403 (compared in constant time).
//
// # Epoch mapping (why tfdt is rewritten)
//
// Segments are numbered by an epoch (segment.Epoch, default start
// 2020-01-01T00:00:00Z) so that redundant pipelines produce interchangeable
// segments. ffmpeg 5.1's dash muxer, however, starts every session's decode
// times (tfdt) at 0 and ignores -output_ts_offset. The origin therefore keeps
// a per-pipeline anchor: the first media segment a pipeline sends after its
// init segments decides a media-time offset — 0 when the segment's media time
// is already within a minute of the epoch's clock (an encoder that stamps
// epoch time, like segment.Loop), else the offset that puts the segment into
// the next grid slot whose availability time is not before its arrival — and
// every later segment of that pipeline is shifted by the same offset: tfdt is
// rewritten in the stored bytes (a 64-bit tfdt in place; a 32-bit one that
// would overflow is refused), so what players get is consistent with the
// manifest. A new init segment for a rendition that has already sent media
// starts a new session and a new anchor (an encoder restart). Two ffmpeg
// pipelines started at different times are therefore not frame-aligned with
// each other — real redundant encoders stamp a shared clock, as in
// ISO/IEC 23009-9 — but each one is numbered consistently.
//
// # Validation, selection and events
//
// A segment whose boxes cannot be parsed (truncated or malformed) is refused
// with 400 and recorded as a defect; nothing is stored. Other defects (gap,
// overlap, off-grid, missing keyframe...) are stored with the candidate and
// the answer is 202 with the defects in X-Edgekit-Defects; a request for a
// segment number picks, with segment.Select, the first valid candidate in
// Config.Pipelines order, so a defective pipeline is replaced by a healthy
// one for exactly the affected segments. Events — published, defect, late
// (arrived after its availability time plus half a segment) — go to a
// Recorder (timeseries by default in examples/origin).
//
// # Serving
//
//	/live/<channel>/manifest.mpd       dynamic DASH MPD (segment.Manifest)
//	/live/<channel>/master.m3u8        HLS multivariant playlist
//	/live/<channel>/<rendition>.m3u8   HLS media playlist
//	/live/<channel>/<rendition>/init.mp4
//	/live/<channel>/<rendition>/<n>.m4s
//	/live/<channel>/time               xs:dateTime of the origin clock
//
// A request for one of the next two segments past the live edge that has
// not arrived is held open until it is published or Config.HoldOpen passes
// (counted from one segment before its availability time, since anchored
// sessions publish up to a segment early), then 404 — Netflix's Live
// Origin holds the next segment the same way; a number further ahead gets
// 404 at once, one older than the window 410. Cache lifetimes are given at millisecond
// grain in Edgekit-Max-Age-Ms (Cache-Control carries the same rounded up
// to seconds): half a segment for manifests, the time until the expected
// publish time for a 404, a day for segments (immutable once published).
//
// # Storage layout (kv)
//
//	namespace lo_init:  id "<channel>/<rendition>"        key pipeline        → init bytes
//	namespace lo_seg:   id "<channel>/<rendition>/<n>"     key "b/"+pipeline   → segment bytes
//	                                                      key "i/"+pipeline   → segment.Info (MarshalBinary)
//	namespace lo_meta:  id "channels"                      key channel         → "" (known channels)
//
// Body and Info of one candidate are written by one Mutate (atomic on
// kv/local and kv/cassandra), so a reader never sees one without the other.
// Segments carry a TTL of the window plus ten minutes. On start the origin
// reloads inits and the current window from kv, so a restart keeps serving.
//
// # Concurrency
//
// A *Server is safe for concurrent use. Each channel has one mutex that
// guards its in-memory index; kv calls and inspection run outside it.
package liveorigin
