package ktls

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"net"
	"sync"
)

// Key-log labels ktls reads (NSS key log format, as crypto/tls writes them).
const (
	labelServerTraffic13   = "SERVER_TRAFFIC_SECRET_0"
	labelServerHandshake13 = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	labelMaster12          = "CLIENT_RANDOM"
	// labelResumed12 is ktls's own label for the master secret of a resumed
	// TLS 1.2 session, which crypto/tls does not key-log; it comes from the
	// session ticket through Config.UnwrapSession.
	labelResumed12 = "edgekit RESUMED_MASTER_SECRET"
)

const (
	helloRandomEnd = 43      // 5-byte record header + 4-byte handshake header + 2-byte version + 32-byte random
	maxRecorded    = 1 << 18 // outbound handshake bytes kept for sequence accounting; more means give up on the kernel
)

// ticketID names a session ticket by its SHA-256.
type ticketID [32]byte

// wire sits between crypto/tls and the accepted connection. During the
// handshake it sniffs the ClientHello random (to route key-log lines to this
// connection), records what crypto/tls sends (to read the ServerHello random
// and count records already sent under the traffic key) and collects the
// secrets. Once the kernel owns the send direction it is sealed: every record
// crypto/tls still tries to write goes to onStale instead of the socket.
//
// wire is safe for concurrent use: crypto/tls reads and writes it from
// different goroutines.
type wire struct {
	net.Conn
	reg *keyLog

	mu           sync.Mutex // guards every field below
	in           []byte     // inbound prefix, kept until the first record (the ClientHello) is complete
	sniffing     bool       // still looking at inbound bytes
	out          []byte     // outbound bytes written while recording
	recording    bool       // handshake in progress
	overflow     bool       // out exceeded maxRecorded
	clientRandom [32]byte
	registered   bool                          // present in reg under clientRandom
	ticket       ticketID                      // SHA-256 of the offered TLS 1.2 session ticket
	hasTicket    bool                          // present in reg under ticket
	secrets      map[string][][]byte           // label → secrets seen (more than one means ambiguous)
	onStale      func(rec []byte) (int, error) // non-nil once sealed
}

func newWire(raw net.Conn, reg *keyLog) *wire {
	// Without a key log (no kernel TLS) there is nothing to learn: the wire
	// only passes bytes through.
	return &wire{Conn: raw, reg: reg, sniffing: reg != nil, recording: reg != nil}
}

func (w *wire) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if n > 0 {
		w.mu.Lock()
		if w.sniffing {
			w.sniffLocked(b[:n])
		}
		w.mu.Unlock()
	}
	return n, err
}

// sniffLocked accumulates the first inbound record (the ClientHello) and
// then registers the wire with the key log under its random, and under the
// session ticket it offers, if any.
func (w *wire) sniffLocked(b []byte) {
	w.in = append(w.in, b[:min(len(b), maxHelloRecord-len(w.in))]...)
	if len(w.in) < recordHeaderLen {
		return
	}
	if need := recordHeaderLen + int(binary.BigEndian.Uint16(w.in[3:5])); len(w.in) < need && len(w.in) < maxHelloRecord {
		return
	}
	w.sniffing = false
	ch, ok := parseClientHello(w.in)
	w.in = nil
	if !ok || w.reg == nil {
		return // not a ClientHello we understand: no secrets, so userspace
	}
	w.clientRandom = ch.random
	w.registered = w.reg.register(ch.random, w)
	if len(ch.ticket) > 0 {
		w.ticket = sha256.Sum256(ch.ticket)
		_, loaded := w.reg.tickets.LoadOrStore(w.ticket, w)
		w.hasTicket = !loaded
	}
}

// helloRandom returns the random of a Client (typ 1) or Server (typ 2) Hello
// at the start of a plaintext handshake record.
func helloRandom(b []byte, typ byte) (r [32]byte, ok bool) {
	if len(b) < helloRandomEnd || b[0] != recordHandshake || b[5] != typ {
		return r, false
	}
	copy(r[:], b[11:helloRandomEnd])
	return r, true
}

func (w *wire) Write(b []byte) (int, error) {
	w.mu.Lock()
	if stale := w.onStale; stale != nil {
		w.mu.Unlock()
		return stale(b)
	}
	if w.recording && !w.overflow {
		if len(w.out)+len(b) > maxRecorded {
			w.overflow, w.out = true, nil
		} else {
			w.out = append(w.out, b...)
		}
	}
	w.mu.Unlock()
	return w.Conn.Write(b)
}

// addSecret records one key-log secret for this connection.
func (w *wire) addSecret(label string, secret []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.recording {
		return
	}
	if w.secrets == nil {
		w.secrets = make(map[string][][]byte, 4)
	}
	w.secrets[label] = append(w.secrets[label], secret)
}

// handshakeRecord is what the wire saw during the handshake.
type handshakeRecord struct {
	out          []byte // nil if it overflowed
	overflow     bool
	secrets      map[string][][]byte // only lines whose client random is clientRandom
	clientRandom [32]byte
}

// finish ends recording, leaves the key log and hands over what was seen.
func (w *wire) finish() handshakeRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	hr := handshakeRecord{out: w.out, overflow: w.overflow, secrets: w.secrets, clientRandom: w.clientRandom}
	w.recording, w.sniffing = false, false
	w.out, w.secrets, w.in = nil, nil, nil
	if w.registered {
		w.reg.unregister(w.clientRandom, w)
		w.registered = false
	}
	if w.hasTicket {
		w.reg.tickets.CompareAndDelete(w.ticket, w)
		w.hasTicket = false
	}
	return hr
}

// seal routes every later crypto/tls write to stale (nil unseals).
func (w *wire) seal(stale func([]byte) (int, error)) {
	w.mu.Lock()
	w.onStale = stale
	w.mu.Unlock()
}

// keyLog is the KeyLogWriter ktls puts on the listener's tls.Config. It routes
// each line to the connection whose ClientHello carried the line's client
// random, and passes every line on to the caller's own KeyLogWriter, if any.
// Safe for concurrent use.
type keyLog struct {
	conns   sync.Map // [32]byte client random → *wire
	tickets sync.Map // ticketID → *wire, for TLS 1.2 resumption
	next    interface{ Write([]byte) (int, error) }
}

// resumed hands the master secret of a resumed TLS 1.2 session to the
// connection that offered the ticket.
func (k *keyLog) resumed(identity []byte, ss *tls.SessionState) {
	v, ok := k.tickets.Load(ticketID(sha256.Sum256(identity)))
	if !ok {
		return
	}
	b, err := ss.Bytes()
	if err != nil {
		return
	}
	if secret, ok := sessionSecret(b); ok {
		v.(*wire).addSecret(labelResumed12, secret)
	}
	clear(b)
}

// register claims random for w. A second connection presenting the same
// random (a broken or hostile client) is refused, so it stays in userspace;
// lines for it may still reach the first claimant, which then sees two
// secrets for one label and stays in userspace too.
func (k *keyLog) register(random [32]byte, w *wire) bool {
	_, loaded := k.conns.LoadOrStore(random, w)
	return !loaded
}

func (k *keyLog) unregister(random [32]byte, w *wire) { k.conns.CompareAndDelete(random, w) }

func (k *keyLog) Write(line []byte) (int, error) {
	if k.next != nil {
		if _, err := k.next.Write(line); err != nil {
			return 0, err
		}
	}
	k.route(line)
	return len(line), nil
}

// route hands the secret in line to the connection it belongs to.
func (k *keyLog) route(line []byte) {
	if label, random, secret, ok := parseKeyLogLine(line); ok {
		if v, found := k.conns.Load(random); found {
			v.(*wire).addSecret(label, secret)
		}
	}
}

// keyLogTee routes lines to k and passes them to a per-client config's own
// KeyLogWriter (set by GetConfigForClient) instead of the listener's.
type keyLogTee struct {
	k    *keyLog
	next interface{ Write([]byte) (int, error) }
}

func (t keyLogTee) Write(line []byte) (int, error) {
	if t.next != nil {
		if _, err := t.next.Write(line); err != nil {
			return 0, err
		}
	}
	t.k.route(line)
	return len(line), nil
}

// parseKeyLogLine splits "LABEL <client random hex> <secret hex>\n".
func parseKeyLogLine(line []byte) (label string, random [32]byte, secret []byte, ok bool) {
	f := bytes.Fields(line)
	if len(f) != 3 || hex.DecodedLen(len(f[1])) != 32 || len(f[2]) == 0 || len(f[2]) > 2*64 {
		return "", random, nil, false
	}
	if _, err := hex.Decode(random[:], f[1]); err != nil {
		return "", random, nil, false
	}
	secret = make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(secret, f[2]); err != nil {
		return "", random, nil, false
	}
	return string(f[0]), random, secret, true
}
