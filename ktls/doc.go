// Package ktls delivers bytes the way large video edges do: file ranges by
// sendfile(2) on plain TCP, and on TLS connections by kernel TLS (kTLS), so
// that sendfile keeps working under encryption — with crypto/tls as a
// transparent fallback wherever the kernel cannot take over.
//
// # Model
//
// A Listener wraps a net.Listener and returns *Conn values. Without a
// tls.Config they are plain TCP (ModePlain). With one, the handshake runs in
// stock crypto/tls on the Conn's first use; afterwards ktls hands the send
// keys to the kernel (setsockopt TCP_ULP "tls", then SOL_TLS/TLS_TX) and
// from then on Write and sendfile go straight to the socket while the kernel
// seals TLS records of at most 16 KiB (ModeKernel). If anything stands in the
// way — no "tls" ULP in the kernel (/proc/sys/net/ipv4/tcp_available_ulp),
// a cipher the kernel lacks, a refused setsockopt — the connection keeps
// using crypto/tls (ModeUserspace) and Conn.Info says why. Listener.Stats
// counts the paths taken; Options.OnHandshake and Options.Logger report each.
//
// SendFile(w, f, off, n) moves a file range with sendfile when w sends
// through the kernel (plain Conn, kernel-mode Conn, *net.TCPConn) and with a
// pooled-buffer copy otherwise, reporting which; SendFileHead also writes a
// response head first, sent with MSG_MORE so that head and body share their
// first segment (what FreeBSD's sendfile headers do). Conn.ReadFrom uses it, so
// net/http responses built by http.ServeContent over an *os.File or an
// *io.SectionReader of one go by sendfile on a Conn — also under TLS, which
// plain net/http never manages. ServeFile and FileServer package that;
// Serve runs an http.Server on a Listener. Only HTTP/1.1 is served ("h2" is
// removed from NextProtos: net/http speaks HTTP/2 only on a *tls.Conn), and
// Request.TLS is nil: handlers get the Conn from ConnFromContext.
//
// # Where the keys come from
//
// crypto/tls exposes no traffic keys or sequence numbers. ktls derives them
// from what it can observe, and checks its work:
//
//   - Secrets: the Listener's tls.Config clone gets a KeyLogWriter that routes
//     each NSS key-log line to its connection by the client random, which
//     ktls reads from the ClientHello as it passes. TLS 1.3 keys come from
//     SERVER_TRAFFIC_SECRET_0 by HKDF-Expand-Label; TLS 1.2 keys from the
//     CLIENT_RANDOM master secret by the PRF over server_random ‖
//     client_random, with the server random read from the ServerHello as it
//     is written. A resumed TLS 1.2 session logs nothing; its master secret
//     is read from the decrypted session ticket (Config.UnwrapSession).
//   - Sequence number: every record crypto/tls wrote during the handshake is
//     kept and opened; the records that authenticate under the traffic key
//     (a TLS 1.3 NewSessionTicket, the TLS 1.2 Finished) are counted, and
//     the kernel starts after them. A record no key explains sends the
//     connection to userspace instead of guessing.
//
// The argument of TLS_TX (kernel ABI, frozen; u16 fields in host order):
//
//	version u16 | cipher_type u16 | iv | key | salt | rec_seq u64 big-endian
//	AES-GCM-128: iv 8, key 16, salt 4 (40 bytes); AES-GCM-256: 8, 32, 4 (56);
//	ChaCha20-Poly1305: iv 12, key 32, no salt (56).
//
// TLS 1.3 and 1.2 with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 are
// handed over; CBC suites stay in userspace. Without kernel support the key
// derivation is verified by sealing records from the exact setsockopt bytes
// in a user-space model of the kernel and reading them with a stock
// crypto/tls client (see the package tests).
//
// # Reads, KeyUpdate and Close
//
// Reads stay in crypto/tls. Kernel RX is not safe with a stock tls.Conn: it
// reads ahead of the record it needs, so ciphertext that arrived with the
// client's Finished (typically the first request) may already sit in its
// buffer, where the kernel would never see it.
//
// After the switch crypto/tls must never write to the socket itself: its
// record state is stale. ktls intercepts what it still writes. Alerts (a
// failed read, for instance) are decrypted and re-sent through the kernel
// with a TLS_SET_RECORD_TYPE control message. A TLS 1.3 peer KeyUpdate with
// update_requested makes crypto/tls answer with a KeyUpdate: ktls sends that
// message through the kernel and then installs the next traffic key
// (HKDF-Expand-Label "traffic upd") at sequence 0 — kernels without TX rekey
// refuse, and the Conn then fails further writes with ErrKeyUpdate. Anything
// else fails with ErrStaleWrite. Close sends close_notify through the kernel
// (or just closes when a write is blocked), never through crypto/tls.
//
// # Concurrency
//
// Listener is safe for concurrent use. A Conn, like any net.Conn, supports
// one reader and concurrent writers; SendFile and ReadFrom count as writes.
// SendFile reads the file at explicit offsets, so one *os.File can serve
// many connections at once. Info, Stats, ListenerStats and *InstallError
// are values, fixed once returned; share them read-only or copy them.
//
// # Caveats
//
// The key-log hook keeps secrets in memory only until the handshake ends
// (the TLS 1.3 traffic secret stays with the Conn to follow KeyUpdates).
// Configs returned by a GetConfigForClient callback are cloned per
// handshake to carry the hook; TLS 1.2 resumption through them stays in
// userspace. Software kTLS saves the user-space copy, not the encryption:
// the gain is on large objects sent by sendfile, and KernelStats
// (/proc/net/tls_stat, TlsCurrTxSw) shows the kernel doing the work.
package ktls
