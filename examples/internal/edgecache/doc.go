// Package edgecache is the caching edge behind examples/edge and
// examples/livedemo: one member of a tier of reverse proxies in front of a
// live origin.
//
// # Tier
//
// Every member builds the same hashring.Ring from the member list (their
// base URLs), so all agree which member owns an object (its URL path).
// On a miss the owner fetches from the origin; any other member fetches
// from the owner, marking the request with the Edgekit-Hop header so the
// owner never forwards it again. When a member fails (connect error, 5xx,
// header timeout) the request moves to the next member of the key's LocateN
// list and the failed member is skipped for two seconds; when every member
// before this one failed, it goes to the origin itself. Each object is
// therefore fetched from the origin about once per tier, however many
// viewers ask and whichever edge they reach.
//
// # Misses
//
// Concurrent misses for one object share one upstream request through a
// coalesce.Stream: the first viewer's request starts the flight, later ones
// join it, and every one of them receives the response head as soon as it
// arrives and the body as it streams in (read-while-write). Flights are
// keyed by object and upstream kind, so a peer's request (origin-bound)
// never waits on a flight that waits on a peer. A body is cached only when it
// arrived whole (io.EOF and the promised Content-Length).
//
// An origin body cut short — a reset, an early end, or a stall longer than
// Config.StallTimeout — is resumed where it stopped: a GET for the rest
// ("Range: bytes=N-") with If-Range set to the first response's strong
// ETag, or its Last-Modified when that is at least a second older than its
// Date, up to Config.ResumeAttempts times. Only a 206 carrying exactly the
// missing bytes is accepted, so a changed object (the origin answers 200)
// is never spliced onto the old one. The viewers on the flight see one
// whole body, late, and it is cached as usual. A member relaying a peer's
// body allows it twice StallTimeout of silence, since the peer may be
// waiting out its own origin's stall before it resumes. A body that cannot
// be resumed
// (no validator, a peer's body, the attempts spent) ends every viewer's
// response early (the connection is reset, so no client mistakes it for a
// complete object) and is never stored. 5xx answers are not cached; 200,
// 404 and 410 are, for the lifetime the origin gives (msttl: milliseconds
// in Edgekit-Max-Age-Ms, else Cache-Control max-age) — so a storm of
// requests for a segment that is not out yet costs the origin one 404.
//
// A body the cache will keep as a file (a 200 with a lifetime and a
// Content-Length of Config.DiskMin bytes or more) is written to that file
// as it arrives, each piece before the flight publishes it, and the
// flight's viewers are sent each piece from the file by sendfile rather
// than copied from memory: a live segment that a thousand viewers stream
// while it is still arriving is copied into the kernel once, not a
// thousand times. If writing the file fails, the viewers go on from memory
// and the body is not cached.
//
// # Hits
//
// Bodies of Config.DiskMin bytes or more are kept in files under
// Config.CacheDir and sent with ktls.ServeFile, which moves them by
// sendfile(2) on plain TCP and on kernel-TLS connections (the server must
// run under ktls.Serve); smaller ones (manifests, 404s) are written from
// memory. A hit formats nothing: its header values are built once when the
// entry is stored, and a plain GET of a file (no Range, no If- header)
// skips http.ServeContent, so the response is the header write plus one
// sendfile. Ranges and conditional requests still go through
// http.ServeContent. With Config.Pool and Config.Policy (numa.DiskSilo), the send runs
// on a worker pinned to the NUMA node of the file's disk; examples/edge sets
// them only on machines with more than one node. The cache is bounded by
// Config.MemoryBytes (files included), evicting the least recently used entries first;
// an evicted file stays open until the last viewer reading it is done.
//
// # Lane
//
// Under net/http a hit's own work (a header write and a sendfile) is less
// than half its CPU: the rest is per-request machinery — request and
// response objects, two header maps, contexts, a background-read goroutine,
// six deadline updates. Edge.Lane wraps the server's listener and answers
// the commonest requests itself: an HTTP/1.1 GET or HEAD of a /live/ path
// whose head carries nothing that could change the answer (no Range,
// If-*, body or Connection: close; laneHeaderName lists the headers it
// tolerates). A hit of a cached 200 gets the same header set the handler
// would write, from a per-connection buffer, then the body by sendfile (a
// memory body in the same writev). A miss joins or starts the flight as the
// handler does and gets the same head and body (a body of unknown length
// in chunks); a live viewer's connection, whose requests are misses and
// hits by turns, thus stays in the lane. The first request it does not
// answer — a cached 404, /metrics, anything unusual or malformed — hands
// the connection, with every byte already read, to the http.Server, which
// serves it from then on exactly as without the lane. The lane keeps the
// server's idle and header timeouts. Unlike net/http it does not read a
// connection whose request waits for its flight's head, so a client that
// leaves then is noticed when the head is written.
//
// # Metrics
//
// /metrics serves Prometheus text written by hand: requests by result
// (hit, miss, coalesced), origin and peer fetches, upstream errors and
// failovers, bytes sent and fetched, hits and miss bodies by sendfile or
// copy, viewers
// (distinct client addresses that asked for a manifest in the last ten
// seconds), cache bytes, request-latency histograms per result, and
// go_goroutines (as the Prometheus Go collector names it).
//
// # Concurrency
//
// An *Edge and a *Lane are safe for concurrent use; a Lane runs one
// goroutine per connection it holds, ending when the connection is handed
// over, goes idle or closes, or the Lane closes. The cache has one mutex (guarding
// its index); entries are immutable once stored and reference-counted
// while being sent, and so are body files (by the fill writing one, the
// viewers sending from it and the entry keeping it).
package edgecache
