package ktls

import "encoding/binary"

// maxHelloRecord is the largest ClientHello record ktls sniffs (a full
// record: 5-byte header + 2^14 payload).
const maxHelloRecord = recordHeaderLen + maxPlaintext

// extSessionTicket is the TLS 1.2 session_ticket extension (RFC 5077).
const extSessionTicket = 35

// clientHello is what ktls needs from the first record a client sends.
type clientHello struct {
	random [32]byte
	ticket []byte // TLS 1.2 session ticket offered for resumption, if any
}

// parseClientHello reads a plaintext handshake record holding a ClientHello:
//
//	record:    type(1)=22 version(2) length(2)
//	handshake: type(1)=1 length(3)
//	body:      version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
//	           compression_methods<1..2^8-1> extensions<0..2^16-1>
//	extension: type(2) data<0..2^16-1>
//
// It never panics on malformed input; ok is false then. A ClientHello split
// over several records yields the random but no extensions.
func parseClientHello(rec []byte) (ch clientHello, ok bool) {
	r, ok := helloRandom(rec, 1)
	if !ok {
		return ch, false
	}
	ch.random = r
	body := rec[helloRandomEnd:]
	if end := recordHeaderLen + int(binary.BigEndian.Uint16(rec[3:5])); end < helloRandomEnd {
		return ch, true // record too short to hold more than the random
	} else if end <= len(rec) {
		body = rec[helloRandomEnd:end]
	}
	p := cursor(body)
	if !p.skip8() || !p.skip16() || !p.skip8() {
		return ch, true // no extensions visible
	}
	exts, ok := p.vec16()
	if !ok {
		return ch, true
	}
	for e := cursor(exts); len(e) >= 4; {
		typ := binary.BigEndian.Uint16(e)
		e = e[2:]
		data, ok := e.vec16()
		if !ok {
			break
		}
		if typ == extSessionTicket && len(data) > 0 {
			ch.ticket = data
		}
	}
	return ch, true
}

// cursor is a read position in a byte string with TLS vector helpers.
type cursor []byte

func (c *cursor) vec8() ([]byte, bool) {
	if len(*c) < 1 || len(*c) < 1+int((*c)[0]) {
		return nil, false
	}
	n := int((*c)[0])
	v := (*c)[1 : 1+n]
	*c = (*c)[1+n:]
	return v, true
}

func (c *cursor) vec16() ([]byte, bool) {
	if len(*c) < 2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(*c))
	if len(*c) < 2+n {
		return nil, false
	}
	v := (*c)[2 : 2+n]
	*c = (*c)[2+n:]
	return v, true
}

func (c *cursor) skip8() bool  { _, ok := c.vec8(); return ok }
func (c *cursor) skip16() bool { _, ok := c.vec16(); return ok }

// sessionSecret extracts the master secret from a TLS 1.2 server
// SessionState encoding (tls.SessionState.Bytes):
//
//	version(2) type(1)=1 cipher_suite(2) created_at(8) secret<1..2^8-1> ...
//
// Go calls the encoding opaque; if it ever changes, the parse fails or the
// derived key does not open the Finished record, and the connection simply
// stays in userspace.
func sessionSecret(b []byte) ([]byte, bool) {
	if len(b) < 13 || binary.BigEndian.Uint16(b) != 0x0303 || b[2] != 1 {
		return nil, false
	}
	p := cursor(b[13:])
	s, ok := p.vec8()
	if !ok || len(s) == 0 {
		return nil, false
	}
	return append([]byte(nil), s...), true
}
